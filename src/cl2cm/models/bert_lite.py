"""A saved BERT backbone and its tokenizer for inference, without importing transformers.

Why: importing transformers' `BertModel` pulls in torch._dynamo, torch.distributed.tensor and the generation
utilities, ~2.4 s of a one-query `cl2cm search` that takes ~5 s in all (docs/performance.md). A model
directory already holds everything else: the backbone's HF config (config.json) and weights, and the
tokenizer's `tokenizer.json`, which the `tokenizers` library (what transformers' fast tokenizers wrap) reads
directly. So for inference (`load_model(..., lite=True)`) a BERT is rebuilt here with transformers' parameter
names and the same operations in the same order as its eval-mode forward with SDPA attention (transformers
5.x): embeddings (word + token type + position, LayerNorm), then per layer self-attention, output
LayerNorm, GELU feed-forward, LayerNorm. The outputs are bit-identical to transformers' (tested, padded and
unpadded batches); `supports` sends everything else (another architecture, relative positions, eager
attention, no tokenizer.json) through transformers as before. Training never uses this.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

TOKENIZER_FILE = "tokenizer.json"


def supports(hf_config: Mapping[str, Any], tokenizer_dir: str | Path | None) -> bool:
    """Whether this backbone + tokenizer can be rebuilt here exactly (else: through transformers)."""
    if tokenizer_dir is None or not (Path(tokenizer_dir) / TOKENIZER_FILE).is_file():
        return False
    try:
        import tokenizers  # noqa: F401
    except ImportError:
        return False
    return (hf_config.get("model_type") == "bert" and hf_config.get("hidden_act") == "gelu"
            and hf_config.get("position_embedding_type", "absolute") == "absolute"
            and not hf_config.get("is_decoder") and not hf_config.get("add_cross_attention")
            and not hf_config.get("chunk_size_feed_forward")
            and hf_config.get("_attn_implementation") in (None, "sdpa")
            and int(hf_config["hidden_size"]) % int(hf_config["num_attention_heads"]) == 0)


class BertConfigLite:
    """The fields of the HF config that `TextEncoder` reads, and `to_dict` for saving it back unchanged."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._values = dict(values)
        for key, value in self._values.items():
            setattr(self, key, value)

    def to_dict(self) -> dict[str, Any]:
        return dict(self._values)


class _Embeddings(nn.Module):
    def __init__(self, c: BertConfigLite) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(c.vocab_size, c.hidden_size, padding_idx=c.pad_token_id)
        self.position_embeddings = nn.Embedding(c.max_position_embeddings, c.hidden_size)
        self.token_type_embeddings = nn.Embedding(c.type_vocab_size, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        seq = input_ids.shape[1]
        positions = torch.arange(seq, device=input_ids.device).unsqueeze(0)
        types = torch.zeros_like(input_ids)
        x = self.word_embeddings(input_ids) + self.token_type_embeddings(types)
        x = x + self.position_embeddings(positions)
        return self.LayerNorm(x)


class _SelfAttention(nn.Module):
    def __init__(self, c: BertConfigLite) -> None:
        super().__init__()
        self.heads = c.num_attention_heads
        self.head_size = c.hidden_size // c.num_attention_heads
        self.scaling = self.head_size ** -0.5
        self.query = nn.Linear(c.hidden_size, c.hidden_size)
        self.key = nn.Linear(c.hidden_size, c.hidden_size)
        self.value = nn.Linear(c.hidden_size, c.hidden_size)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        shape = (*x.shape[:-1], -1, self.head_size)
        q = self.query(x).view(*shape).transpose(1, 2)
        k = self.key(x).view(*shape).transpose(1, 2)
        v = self.value(x).view(*shape).transpose(1, 2)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=0.0, scale=self.scaling,
                                             is_causal=False)
        out = out.reshape(out.shape[0], -1, q.shape[2], v.shape[-1]).transpose(1, 2).contiguous()
        return out.reshape(*x.shape[:-1], -1).contiguous()


class _DenseNorm(nn.Module):
    """dense → LayerNorm(· + residual): transformers' BertSelfOutput and BertOutput."""

    def __init__(self, c: BertConfigLite, n_in: int) -> None:
        super().__init__()
        self.dense = nn.Linear(n_in, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)

    def forward(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dense(x) + residual)


class _Attention(nn.Module):
    def __init__(self, c: BertConfigLite) -> None:
        super().__init__()
        self.self = _SelfAttention(c)
        self.output = _DenseNorm(c, c.hidden_size)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        return self.output(self.self(x, mask), x)


class _Intermediate(nn.Module):
    def __init__(self, c: BertConfigLite) -> None:
        super().__init__()
        self.dense = nn.Linear(c.hidden_size, c.intermediate_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(self.dense(x))


class _Layer(nn.Module):
    def __init__(self, c: BertConfigLite) -> None:
        super().__init__()
        self.attention = _Attention(c)
        self.intermediate = _Intermediate(c)
        self.output = _DenseNorm(c, c.intermediate_size)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        a = self.attention(x, mask)
        return self.output(self.intermediate(a), a)


class _Encoder(nn.Module):
    def __init__(self, c: BertConfigLite) -> None:
        super().__init__()
        self.layer = nn.ModuleList(_Layer(c) for _ in range(c.num_hidden_layers))


class _Pooler(nn.Module):  # unused, as in `TextEncoder`; here so the saved weights load strictly
    def __init__(self, c: BertConfigLite) -> None:
        super().__init__()
        self.dense = nn.Linear(c.hidden_size, c.hidden_size)


@dataclass
class _Output:
    last_hidden_state: torch.Tensor


class BertLite(nn.Module):
    """`BertModel(config)` for inference: `forward(input_ids, attention_mask).last_hidden_state`."""

    def __init__(self, hf_config: Mapping[str, Any]) -> None:
        super().__init__()
        defaults = {"layer_norm_eps": 1e-12, "type_vocab_size": 2, "pad_token_id": 0}
        self.config = BertConfigLite({**defaults, **hf_config})
        self.embeddings = _Embeddings(self.config)
        self.encoder = _Encoder(self.config)
        self.pooler = _Pooler(self.config)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> _Output:
        # transformers' bidirectional SDPA mask: none when nothing is padded, else [B, 1, L, L] bool
        mask = None if bool(attention_mask.all()) else (
            attention_mask.bool()[:, None, None, :].expand(-1, 1, input_ids.shape[1], -1))
        x = self.embeddings(input_ids)
        for layer in self.encoder.layer:
            x = layer(x, mask)
        return _Output(x)


class TokenizerLite:
    """A model directory's fast tokenizer through `tokenizers` alone: `__call__` as transformers' with
    ``padding=True, truncation=True, max_length=..., return_tensors="pt"``; `all_special_ids`."""

    def __init__(self, directory: str | Path) -> None:
        from tokenizers import Tokenizer

        directory = Path(directory)
        self._tok = Tokenizer.from_file(str(directory / TOKENIZER_FILE))
        cfg_path = directory / "tokenizer_config.json"
        cfg = json.loads(cfg_path.read_text(encoding="utf-8")) if cfg_path.is_file() else {}
        special = [_content(cfg.get(name)) for name in ("bos_token", "eos_token", "unk_token", "sep_token",
                                                         "pad_token", "cls_token", "mask_token")]
        special += [_content(t) for t in cfg.get("additional_special_tokens") or ()]
        ids = [self._tok.token_to_id(t) for t in special if t]
        self.all_special_ids = sorted({i for i in ids if i is not None})
        pad = _content(cfg.get("pad_token"))
        self.pad_token, self.pad_token_id = pad, (self._tok.token_to_id(pad) if pad else None)

    def __call__(self, texts: list[str], *, padding: bool | str = True, truncation: bool = True,
                 max_length: int | None = None, return_tensors: str = "pt",
                 return_token_type_ids: bool = False) -> dict[str, torch.Tensor]:
        tok = self._tok
        if truncation and max_length is not None:
            tok.enable_truncation(max_length=max_length, stride=0, strategy="longest_first", direction="right")
        else:
            tok.no_truncation()
        if padding and self.pad_token_id is not None:
            tok.enable_padding(direction="right", pad_id=self.pad_token_id, pad_type_id=0, pad_token=self.pad_token)
        else:
            tok.no_padding()
        enc = tok.encode_batch(list(texts), add_special_tokens=True)
        return {"input_ids": torch.tensor([e.ids for e in enc], dtype=torch.long),
                "attention_mask": torch.tensor([e.attention_mask for e in enc], dtype=torch.long)}


def _content(token: object) -> str | None:
    """A tokenizer_config.json token: a string, or {"content": ...} in older files."""
    if isinstance(token, dict):
        token = token.get("content")
    return token if isinstance(token, str) else None

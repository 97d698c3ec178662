"""The text encoder shared by the teacher (both languages) and the student (target language).

Any Hugging Face encoder (mBERT by default, XLM-R too) → a pooling head from the `POOLINGS` registry →
a linear projection to the joint dimension → L2 norm, so similarity is a dot product (cosine), as in NRCCR.
Only the transformer layers named by `train_layers` are trained (NRCCR fine-tunes mBERT layers 3–11); the
embeddings, the lower layers and the unused pooler stay frozen, which saves memory and keeps the
multilingual alignment that pre-training gave the lower layers.

A model directory rebuilds the backbone with `from_config` from the HF config stored in our config.json,
then loads all weights from model.safetensors: nothing is fetched from the hub when a trained model loads.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from cl2cm.config.teacher import DEFAULT_ENCODER, TextEncoderConfig  # noqa: F401  (the config's home)
from cl2cm.errors import ConfigError
from cl2cm.models import bert_lite
from cl2cm.runtime import no_hf_progress_bars


@dataclass
class TextOutput:
    """What the encoder returns for a batch: the sentence embedding and the token features (for OT)."""

    emb: torch.Tensor  # [B, dim], L2-normalised
    tokens: torch.Tensor  # [B, L, H] contextual token features of the backbone
    mask: torch.Tensor  # [B, L] bool attention mask (True = real token, special tokens included)
    token_mask: torch.Tensor  # [B, L] bool: real, non-special tokens (what word-level alignment uses)


# ---------------------------------------------------------------------------------------------- pooling
def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over the real tokens only (NRCCR's avg_pool1d also averages padding; we do not)."""
    m = mask.to(x.dtype).unsqueeze(-1)
    return (x * m).sum(1) / m.sum(1).clamp(min=1.0)


class MeanPooling(nn.Module):
    """Masked mean of the token features."""

    def __init__(self, hidden: int, dropout: float = 0.1) -> None:
        super().__init__()

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return masked_mean(tokens, mask)


class ClsPooling(nn.Module):
    """The first token ([CLS] / <s>)."""

    def __init__(self, hidden: int, dropout: float = 0.1) -> None:
        super().__init__()

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return tokens[:, 0]


class AttentionPooling(nn.Module):
    """NRCCR's text head: LN→Linear→dropout→ReLU, learned positions, 1 self-attention layer, mean pool.

    NRCCR uses BertAttention with 8 heads; we use `nn.MultiheadAttention` with a residual + LayerNorm (the
    same shape), with as many heads (≤ 8) as divide the hidden size, and a masked mean.
    """

    def __init__(self, hidden: int, dropout: float = 0.1, max_positions: int = 512) -> None:
        super().__init__()
        heads = next(h for h in (8, 4, 2, 1) if hidden % h == 0)
        self.inp = nn.Sequential(nn.LayerNorm(hidden), nn.Linear(hidden, hidden), nn.Dropout(dropout), nn.ReLU())
        self.pos = nn.Embedding(max_positions, hidden)
        self.pos_norm = nn.LayerNorm(hidden)
        self.drop = nn.Dropout(dropout)
        self.attn = nn.MultiheadAttention(hidden, heads, dropout=dropout, batch_first=True)
        self.out_norm = nn.LayerNorm(hidden)

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = self.inp(tokens)
        pos = torch.arange(x.shape[1], device=x.device).clamp(max=self.pos.num_embeddings - 1)
        x = self.drop(self.pos_norm(x + self.pos(pos)[None]))
        a, _ = self.attn(x, x, x, key_padding_mask=~mask, need_weights=False)
        x = self.out_norm(x + self.drop(a))
        return masked_mean(x, mask)


POOLINGS: dict[str, type[nn.Module]] = {"mean": MeanPooling, "cls": ClsPooling, "attention": AttentionPooling}


# ---------------------------------------------------------------------------------------------- layers
def auto_train_layers(num_layers: int) -> list[int]:
    """All but the bottom quarter: NRCCR's 3-11 on a 12-layer mBERT, and the same rule on any depth."""
    return list(range(num_layers // 4, num_layers))


def format_layers(layers: list[int]) -> str:
    """[3, 4, 5, 7] → '3-5,7' ('none' for no layer): how a resolved --train-layers is reported."""
    runs: list[str] = []
    for i, layer in enumerate(layers):
        if i and layer == layers[i - 1] + 1:
            runs[-1] = f"{runs[-1].split('-')[0]}-{layer}"
        else:
            runs.append(str(layer))
    return ",".join(runs) or "none"


def parse_train_layers(spec: str, num_layers: int, field: str = "train_layers") -> list[int]:
    """'auto' / '3-11' / '0,2,5-7' / 'all' / 'none' → sorted layer indices; layers the encoder lacks are an error.

    'auto' fits every depth (see `auto_train_layers`); an explicit range that does not fit stays an error,
    because silently training other layers than the ones named would change the experiment. Errors name
    the setting `field` the spec came from.
    """
    spec = str(spec).strip().lower()
    if spec == "auto":
        return auto_train_layers(num_layers)
    if spec == "all":
        return list(range(num_layers))
    if spec in ("none", ""):
        return []
    layers: set[int] = set()
    for part in spec.split(","):
        m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if not m:
            raise ConfigError(f"{{{field}}} {{spec!r}}: expected 'auto', a range like 3-11, a list like "
                              "0,2,5-7, 'all' or 'none'", spec=spec)
        lo, hi = int(m[1]), int(m[2] if m[2] is not None else m[1])
        if hi < lo:
            raise ConfigError(f"{{{field}}} {{spec!r}}: range {lo}-{hi} is empty", spec=spec)
        layers.update(range(lo, hi + 1))
    bad = sorted(i for i in layers if i >= num_layers)
    if bad:
        raise ConfigError(f"{{{field}}} {{spec!r}}: the encoder has {num_layers} layers (0-{num_layers - 1}), "
                          f"no layer {bad[0]}; {{{field}}} auto fits any depth", spec=spec)
    return sorted(layers)


_LAYER_RE = re.compile(r"(?:^|\.)layers?\.(\d+)\.")


def freeze_backbone(backbone: nn.Module, spec: str, *, freeze_word_embeddings: bool = False) -> list[int]:
    """Train only the named transformer layers (`encoder.layer.N.*`); 'all' also trains the embeddings
    (except the word embeddings when `freeze_word_embeddings`).

    The pooler is always frozen: we never use it, and trainable unused parameters would break DDP.
    """
    num_layers = int(getattr(backbone.config, "num_hidden_layers", 0))
    layers = set(parse_train_layers(spec, num_layers))
    everything = str(spec).strip().lower() == "all"
    for name, p in backbone.named_parameters():
        if name.startswith("pooler.") or (freeze_word_embeddings and "word_embeddings" in name):
            p.requires_grad_(False)
            continue
        m = _LAYER_RE.search(name)
        p.requires_grad_(everything or (m is not None and int(m[1]) in layers))
    return sorted(layers)


# ---------------------------------------------------------------------------------------------- encoder
def _model_dir_tokenizer_kwargs(tokenizer_dir: str | Path | None) -> dict[str, Any]:
    """transformers 5 takes any local tokenizer whose config.json has no HF `model_type` (ours holds cl2cm's
    config) for an old Mistral one and warns that its regex is wrong; nothing is changed unless asked, so
    say so explicitly for cl2cm's own model directories (ids verified identical on the e5 tokenizer)."""
    import transformers

    if tokenizer_dir is None or int(transformers.__version__.split(".")[0]) < 5:
        return {}
    return {"fix_mistral_regex": False}


class TextEncoder(nn.Module):
    """HF backbone + pooling + projection + L2 norm; `forward(input_ids, attention_mask) -> TextOutput`.

    `hf_config` (a dict from `config.to_dict()`) rebuilds the backbone offline with random weights, to be
    overwritten by a state dict; without it the backbone comes from `from_pretrained(config.encoder)`.
    `tokenizer_dir` overrides where the tokenizer is read from (a saved model directory).
    """

    def __init__(self, config: TextEncoderConfig, *, hf_config: dict[str, Any] | None = None,
                 tokenizer_dir: str | Path | None = None, lite: bool = False) -> None:
        super().__init__()
        if config.pooling not in POOLINGS:
            raise ConfigError(f"{{pooling}} {{value!r}}: expected one of {', '.join(POOLINGS)}", value=config.pooling)
        if config.dim < 1:
            raise ConfigError("{dim} {value}: must be positive", value=config.dim)
        if config.max_length < 3:
            raise ConfigError("{max_length} {value}: must be at least 3", value=config.max_length)
        if not 0 <= config.dropout < 1:
            raise ConfigError("{dropout} {value}: must be >= 0 and < 1", value=config.dropout)
        self.config = config
        try:
            if lite and hf_config is not None and bert_lite.supports(hf_config, tokenizer_dir):
                # inference from a saved directory: the same outputs without importing transformers
                self.backbone: Any = bert_lite.BertLite(hf_config)
                self.tokenizer: Any = bert_lite.TokenizerLite(tokenizer_dir)  # type: ignore[arg-type]
            else:
                from transformers import AutoConfig, AutoModel, AutoTokenizer

                with no_hf_progress_bars():
                    self.backbone = (AutoModel.from_config(AutoConfig.for_model(**hf_config))
                                     if hf_config is not None else AutoModel.from_pretrained(config.encoder))
                    self.tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir or config.encoder),
                                                                   **_model_dir_tokenizer_kwargs(tokenizer_dir))
        except (OSError, ValueError) as exc:
            raise ConfigError("{encoder} {value!r}: cannot load the model or tokenizer ({why})",
                              value=config.encoder,
                              why=str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from exc
        max_pos = getattr(self.backbone.config, "max_position_embeddings", None)
        if max_pos is not None:
            offset = 2 if self.backbone.config.model_type in ("xlm-roberta", "roberta") else 0  # padding_idx offset
            if config.max_length > max_pos - offset:
                raise ConfigError(f"{{max_length}} {{value}}: the encoder has {max_pos - offset} positions",
                                  value=config.max_length)
        self.trained_layers = freeze_backbone(self.backbone, config.train_layers,
                                              freeze_word_embeddings=config.freeze_word_embeddings)
        layers = int(getattr(self.backbone.config, "num_hidden_layers", 0))
        spec = str(config.train_layers).strip().lower()
        # what --train-layers resolved to, as the summaries print it: "3-11 of 12 (auto)"
        self.trained_layers_text = f"{format_layers(self.trained_layers)} of {layers}" + (
            f" ({spec})" if spec in ("auto", "all") else "")
        hidden = int(self.backbone.config.hidden_size)
        self.hidden_size = hidden
        self.pool = POOLINGS[config.pooling](hidden, config.dropout)
        self.drop = nn.Dropout(config.dropout)
        self.proj = nn.Linear(hidden, config.dim)
        self.register_buffer("special_ids", torch.tensor(sorted(set(self.tokenizer.all_special_ids)),
                                                         dtype=torch.long), persistent=False)

    @property
    def backbone_trainable(self) -> bool:
        return any(p.requires_grad for p in self.backbone.parameters())

    def hf_config_dict(self) -> dict[str, Any]:
        return self.backbone.config.to_dict()

    def tokenize(self, texts: list[str], *, padding: bool | str = True) -> dict[str, torch.Tensor]:
        """Tokenise with the model's tokenizer, truncated to `max_length`, as long tensors."""
        enc = self.tokenizer(list(texts), padding=padding, truncation=True, max_length=self.config.max_length,
                             return_tensors="pt", return_token_type_ids=False)
        return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> TextOutput:
        mask = attention_mask.bool()
        ctx = contextlib.nullcontext() if self.backbone_trainable else torch.no_grad()
        with ctx:
            tokens = self.backbone(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        pooled = self.pool(tokens, mask)
        emb = F.normalize(self.proj(self.drop(pooled)).float(), dim=-1)
        token_mask = mask & ~torch.isin(input_ids, self.special_ids)
        return TextOutput(emb=emb, tokens=tokens, mask=mask, token_mask=token_mask)


def _autocast(device: torch.device) -> contextlib.AbstractContextManager:
    from cl2cm.runtime import autocast_dtype

    dtype = autocast_dtype(device)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


@torch.no_grad()
def encode_texts(encoder: TextEncoder, texts: list[str], batch_size: int = 256) -> torch.Tensor:
    """Embed many texts: sorted by length so batches pad little, autocast on CUDA; float32 on CPU, in order."""
    if batch_size < 1:
        raise ConfigError("{batch_size} {value}: must be positive", value=batch_size)
    device = next(encoder.parameters()).device
    was_training = encoder.training
    encoder.eval()
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = torch.empty(len(texts), encoder.config.dim, dtype=torch.float32)
    try:
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            enc = encoder.tokenize([texts[i] for i in idx])
            with _autocast(device):
                emb = encoder(enc["input_ids"].to(device), enc["attention_mask"].to(device)).emb
            out[torch.tensor(idx)] = F.normalize(emb.float(), dim=-1).cpu()
    finally:
        encoder.train(was_training)
    return out


def tokenizer_fingerprint(tokenizer: Any) -> str:
    """A digest of everything a tokenizer maps text with (vocabulary, merges, normalizer, special tokens):
    a run resumed after its encoder's tokenizer files changed would train on other token ids."""
    import hashlib

    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:  # fast tokenizers: their whole definition, less the call-time state that the
        definition = json.loads(backend.to_str())  # last call's truncation/padding settings leave in it
        definition.pop("truncation", None)
        definition.pop("padding", None)
        text = json.dumps(definition, sort_keys=True, ensure_ascii=False)
    else:
        text = json.dumps(sorted(tokenizer.get_vocab().items()), ensure_ascii=False)
    text += json.dumps([sorted(map(str, tokenizer.all_special_tokens)), getattr(tokenizer, "do_lower_case", None)])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]

"""Zero-shot CLIP: an open_clip model (e.g. a multilingual one) evaluated as it is, no training.

`eval --model openclip:NAME[@PRETRAINED]` (`load_model` dispatches the `openclip:` scheme here): NAME is
an open_clip model name or a model-config JSON, PRETRAINED a tag, a local checkpoint or `none` (the
default; random weights are seeded with 0, as `extract-features --seed 0` builds them). The text tower
encodes the captions; the gallery is the store `extract-features` wrote with the *same* model (its
pooled `features` are CLIP's image embeddings), checked by the store's model identity, so images go
through the one extraction path. E.g. on a GPU machine with the hub:

    cl2cm extract-features test.txt --root imgs --model xlm-roberta-base-ViT-B-32 --pretrained laion5b_s13b_b90k --out feats
    cl2cm eval --model openclip:xlm-roberta-base-ViT-B-32@laion5b_s13b_b90k --captions test.de --features feats

A multilingual CLIP's text tower is also a student's starting point: `export_text_tower` writes its
Hugging Face transformer (models whose text tower is an HF encoder, e.g. XLM-R) as an encoder directory
that `train-teacher --encoder DIR` (and so `distill --init-text encoder`) starts from.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from cl2cm.errors import ConfigError, UserError
from cl2cm.features.encoders import create_clip

SCHEME = "openclip"


def parse_spec(spec: str) -> tuple[str, str]:
    """"NAME[@PRETRAINED]" (after the scheme) → (name or config path, pretrained; default none)."""
    name, at, pretrained = spec.rpartition("@")
    if not at:
        name, pretrained = spec, "none"
    if not name or not pretrained:
        raise ConfigError(f"{{model}} '{SCHEME}:{spec}': expected {SCHEME}:NAME[@PRETRAINED], e.g. "
                          f"{SCHEME}:xlm-roberta-base-ViT-B-32@laion5b_s13b_b90k")
    return name, pretrained


class OpenClipModel(nn.Module):
    """An open_clip model behind the retrieval-model contract: `encode_text`, `encode_store`, `expect_store`."""

    kind = SCHEME

    def __init__(self, clip: nn.Module, tokenizer: Any, identity: dict[str, Any]) -> None:
        super().__init__()
        self.clip = clip.eval().requires_grad_(False)
        self.tokenizer = tokenizer
        self.identity = identity  # the model identity a store extracted with it records
        self.source_dir: Path | None = None  # no model directory (so no leakage record either)

    @classmethod
    def from_spec(cls, spec: str, device: str | torch.device = "cpu") -> OpenClipModel:
        import open_clip

        name, pretrained = parse_spec(spec)
        clip, _, identity = create_clip(name, pretrained, seed=0)
        return cls(clip.to(device), open_clip.get_tokenizer(identity["name"]), identity)

    @property
    def dim(self) -> int:
        return int(getattr(self.clip, "embed_dim", 0) or self.clip.text_projection.shape[-1])

    @torch.no_grad()
    def encode_text(self, texts: list[str], batch_size: int = 256) -> torch.Tensor:
        device = next(self.clip.parameters()).device
        out = [self.clip.encode_text(self.tokenizer(texts[i:i + batch_size]).to(device)).float()
               for i in range(0, len(texts), batch_size)]
        return F.normalize(torch.cat(out) if out else torch.zeros(0, self.dim), dim=-1).cpu()

    def encode_store(self, store: Any) -> torch.Tensor:
        """The store's pooled features are this model's image embeddings: L2-normalised as they are."""
        if store.features.ndim != 2:
            raise UserError(f"a CLIP model compares pooled [N, D] image embeddings; the store holds "
                            f"{tuple(store.features.shape)}")
        return F.normalize(store.features.float(), dim=-1)

    def expect_store(self) -> dict[str, Any]:
        return {"kind": "features", "expect_model": self.identity}


def export_text_tower(spec: str, out_dir: str | Path) -> Path:
    """Write the Hugging Face transformer of an open_clip model's text tower (and its tokenizer) as an
    encoder directory for `train-teacher --encoder` / a student's initial text tower."""
    from transformers import AutoTokenizer

    from cl2cm.artifacts.io import atomic_dir

    name, pretrained = parse_spec(spec)
    clip, _, identity = create_clip(name, pretrained, seed=0)
    text = getattr(clip, "text", None)
    transformer = getattr(text, "transformer", None)
    if transformer is None or not hasattr(transformer, "save_pretrained"):
        raise UserError(f"{SCHEME}:{spec}: its text tower is not a Hugging Face encoder (only models such as "
                        "xlm-roberta-base-ViT-B-32 or nllb-clip have one)")
    import open_clip

    tokenizer_name = open_clip.get_model_config(identity["name"])["text_cfg"].get("hf_tokenizer_name")
    with atomic_dir(Path(out_dir)) as tmp:
        transformer.save_pretrained(str(tmp))
        if tokenizer_name:
            AutoTokenizer.from_pretrained(tokenizer_name).save_pretrained(str(tmp))
    return Path(out_dir)

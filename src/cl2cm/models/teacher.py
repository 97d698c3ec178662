"""CL2CM's cross-lingual (CL) network: an English encoder (SE) and a target encoder (TE) in one space.

Text-to-text is a much smaller gap than vision-to-text, so this network learns reliable "which captions
mean the same" relations from English ↔ machine-translated pairs; stage 2 distils them into the student.
SE and TE share weights by default (one multilingual mBERT); `shared=False` gives two towers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from cl2cm.artifacts.manifest import Manifest
from cl2cm.models.io import load_weights, read_model_dir, save_model_dir
from cl2cm.models.text import TextEncoder, TextEncoderConfig, TextOutput, encode_texts


@dataclass
class TeacherConfig:
    text: TextEncoderConfig = field(default_factory=TextEncoderConfig)
    shared: bool = True  # one encoder for both languages [ours; the paper's SE/TE sharing is unknown]
    languages: list[str] = field(default_factory=list)  # target languages it was trained on (--tgt codes)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "teacher", "shared": self.shared, "text": self.text.to_dict(), "languages": self.languages}


class CrossLingualTeacher(nn.Module):
    """SE + TE; `forward(src_ids, src_mask, tgt_ids, tgt_mask) -> (src TextOutput, tgt TextOutput)`."""

    def __init__(self, config: TeacherConfig, *, hf_config: dict[str, Any] | None = None,
                 tokenizer_dir: str | Path | None = None) -> None:
        super().__init__()
        self.config = config
        self.src = TextEncoder(config.text, hf_config=hf_config, tokenizer_dir=tokenizer_dir)
        # Not registered twice when shared: a tied module would be saved twice and trained twice.
        self.tgt_tower = None if config.shared else TextEncoder(config.text, hf_config=hf_config,
                                                                tokenizer_dir=tokenizer_dir)

    @property
    def tgt(self) -> TextEncoder:
        return self.src if self.tgt_tower is None else self.tgt_tower

    @property
    def tokenizer(self) -> Any:
        return self.src.tokenizer

    @property
    def languages(self) -> tuple[str, ...]:
        """The target-language codes it was trained on (its --tgt languages); () for a directory that
        predates recording them ("unknown": nothing can be checked against it)."""
        return tuple(self.config.languages)

    @property
    def dim(self) -> int:
        return self.config.text.dim

    def forward(self, src_ids: torch.Tensor, src_mask: torch.Tensor, tgt_ids: torch.Tensor,
                tgt_mask: torch.Tensor) -> tuple[TextOutput, TextOutput]:
        return self.src(src_ids, src_mask), self.tgt(tgt_ids, tgt_mask)

    # -------------------------------------------------------------- retrieval interface
    def encode_text(self, texts: list[str], batch_size: int = 256) -> torch.Tensor:
        """Target-language texts → [N, D] (queries at retrieval time)."""
        return encode_texts(self.tgt, texts, batch_size)

    def encode_source(self, texts: list[str], batch_size: int = 256) -> torch.Tensor:
        """English texts → [N, D] (the gallery of target→English retrieval)."""
        return encode_texts(self.src, texts, batch_size)

    # -------------------------------------------------------------- model directory
    def save(self, directory: str | Path, manifest: Manifest) -> Path:
        config = self.config.to_dict()
        config["backbone"] = self.src.hf_config_dict()
        manifest.model.setdefault("encoder", self.config.text.encoder)
        manifest.model.setdefault("dim", self.dim)
        manifest.model.setdefault("pooling", self.config.text.pooling)
        return save_model_dir(directory, self, config, manifest, tokenizer=self.tokenizer)

    @classmethod
    def from_dir(cls, directory: str | Path, device: str | torch.device = "cpu") -> CrossLingualTeacher:
        config, weights, _ = read_model_dir(directory, kind="teacher")
        tcfg = TeacherConfig(text=TextEncoderConfig.from_dict(config["text"]), shared=bool(config["shared"]),
                             languages=list(config.get("languages", [])))
        model = cls(tcfg, hf_config=config["backbone"], tokenizer_dir=directory)
        load_weights(model, weights, directory)
        return model.to(device).eval()

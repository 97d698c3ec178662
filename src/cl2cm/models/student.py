"""The cross-modal student (CL2CM's CM network): a visual head over stored features + a target text encoder.

At search time only this network runs: visual rows of a feature store go through a small head, target
captions through a text encoder, both L2-normalised into one joint space and compared by cosine. The
visual encoder itself is frozen and already ran in `extract-features`, so the head is all that is trained
on the visual side. Which stored tensor the head reads is part of its config (`visual_input`):

* ``features`` [N, D] → heads ``linear`` or ``mlp``;
* ``tokens``  [N, T, W] (patch tokens) → head ``flat`` (all tokens concatenated → MLP) or ``tokens`` (a
  small transformer + multi-query attention pooling, with a mask). A frozen *random* encoder keeps spatial
  information only in its patch tokens (docs/demo.md, "What a frozen random encoder keeps"); both heads keep
  "where".
  On the demo world ``flat`` learned much faster (val SumR 239 vs 90 after 5 epochs, docs/method.md);
* ``features`` [N, K, D] with ``mask`` [N, K] (video frames) → head ``temporal``: the same sequence
  encoder with masked mean pooling over time (NRCCR's video branch shape).

Heads come from the `VISUAL_HEADS` registry keyed by name.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from cl2cm.artifacts.manifest import Manifest
from cl2cm.errors import ConfigError, UserError
from cl2cm.models.io import load_weights, read_model_dir, save_model_dir
from cl2cm.models.text import TextEncoder, TextEncoderConfig, encode_texts

VISUAL_INPUTS = ("features", "tokens")


# ---------------------------------------------------------------------------------------------- visual heads
class LinearHead(nn.Module):
    """One linear map to the joint space (for features already good enough to be aligned linearly)."""

    def __init__(self, in_dim: int, dim: int, hidden: int = 0, dropout: float = 0.0, max_len: int = 0) -> None:
        super().__init__()
        self.proj = nn.Linear(in_dim, dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.proj(x)


class MLPHead(nn.Module):
    """LayerNorm → Linear → GELU → dropout → Linear: a non-linear head over pooled features."""

    def __init__(self, in_dim: int, dim: int, hidden: int = 512, dropout: float = 0.1, max_len: int = 0) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.LayerNorm(in_dim), nn.Linear(in_dim, hidden), nn.GELU(), nn.Dropout(dropout),
                                 nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(x)


class SequenceHead(nn.Module):
    """A small transformer over a masked sequence (patch tokens or frames) and a pooling to one vector.

    ``pool="attention"``: `queries` learned queries attend over the sequence and their outputs are
    concatenated, so the head can keep several regions apart (what a 2×2 grid pool does by hand).
    ``pool="mean"``: masked mean over the sequence (video frames).
    """

    def __init__(self, in_dim: int, dim: int, hidden: int = 256, dropout: float = 0.1, max_len: int = 256,
                 *, pool: str = "attention", layers: int = 1, heads: int = 4, queries: int = 4) -> None:
        super().__init__()
        self.pool = pool
        self.inp = nn.Sequential(nn.LayerNorm(in_dim), nn.Linear(in_dim, hidden))
        self.pos = nn.Parameter(torch.zeros(1, max_len, hidden))
        nn.init.normal_(self.pos, std=0.02)
        layer = nn.TransformerEncoderLayer(hidden, heads, dim_feedforward=2 * hidden, dropout=dropout,
                                           batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        n_out = queries if pool == "attention" else 1
        if pool == "attention":
            self.queries = nn.Parameter(torch.randn(1, queries, hidden) * 0.02)
            self.attn = nn.MultiheadAttention(hidden, heads, dropout=dropout, batch_first=True)
        self.out = nn.Sequential(nn.LayerNorm(n_out * hidden), nn.Linear(n_out * hidden, dim))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if x.dim() != 3:
            raise UserError(f"the sequence head reads [N, T, W] tensors, got shape {tuple(x.shape)}")
        if x.shape[1] > self.pos.shape[1]:
            raise UserError(f"{x.shape[1]} tokens/frames per row, the head was built for at most {self.pos.shape[1]}")
        valid = torch.ones(x.shape[:2], dtype=torch.bool, device=x.device) if mask is None else mask.bool()
        h = self.inp(x) + self.pos[:, : x.shape[1]]
        h = self.encoder(h, src_key_padding_mask=~valid)
        if self.pool == "mean":
            w = valid.unsqueeze(-1).to(h.dtype)
            return self.out((h * w).sum(1) / w.sum(1).clamp_min(1.0))
        q = self.queries.expand(x.shape[0], -1, -1)
        pooled, _ = self.attn(q, h, h, key_padding_mask=~valid, need_weights=False)
        return self.out(pooled.flatten(1))


class FlatHead(nn.Module):
    """All T tokens concatenated → MLP: keeps every patch in its place (the calibration's best reader of a
    random encoder's tokens, docs/demo.md); needs a fixed T, so not for masked video."""

    def __init__(self, in_dim: int, dim: int, hidden: int = 512, dropout: float = 0.1, max_len: int = 1) -> None:
        super().__init__()
        self.len = max_len
        self.norm = nn.LayerNorm(in_dim)
        self.mlp = MLPHead(max_len * in_dim, dim, hidden, dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if x.dim() != 3 or x.shape[1] != self.len:
            raise UserError(f"the flat head reads [N, {self.len}, W] rows, got shape {tuple(x.shape)}")
        h = self.norm(x)
        if mask is not None:
            h = h * mask.unsqueeze(-1).to(h.dtype)
        return self.mlp(h.flatten(1))


def _tokens_head(in_dim: int, dim: int, hidden: int, dropout: float, max_len: int) -> nn.Module:
    return SequenceHead(in_dim, dim, hidden, dropout, max_len, pool="attention")


def _temporal_head(in_dim: int, dim: int, hidden: int, dropout: float, max_len: int) -> nn.Module:
    return SequenceHead(in_dim, dim, hidden, dropout, max_len, pool="mean", queries=1)


# name -> (builder(in_dim, dim, hidden, dropout, max_len), expects a sequence [N, T, W])
VISUAL_HEADS: dict[str, tuple[Callable[..., nn.Module], bool]] = {
    "linear": (LinearHead, False),
    "mlp": (MLPHead, False),
    "tokens": (_tokens_head, True),
    "flat": (FlatHead, True),
    "temporal": (_temporal_head, True),
}


def build_visual_head(name: str, in_dim: int, dim: int, *, hidden: int = 256, dropout: float = 0.1,
                      max_len: int = 256) -> nn.Module:
    if name not in VISUAL_HEADS:
        raise ValueError(f"unknown visual head {name!r}: expected one of {', '.join(VISUAL_HEADS)}")
    builder, _ = VISUAL_HEADS[name]
    return builder(in_dim, dim, hidden, dropout, max_len)


# ---------------------------------------------------------------------------------------------- student
@dataclass
class StudentConfig:
    """What a student is made of; stored in its config.json (with the backbone's HF config)."""

    text: TextEncoderConfig = field(default_factory=TextEncoderConfig)
    head: str = "mlp"  # key of VISUAL_HEADS
    visual_input: str = "features"  # which store tensor the head reads: "features" or "tokens"
    visual_dim: int = 512  # last dimension of that tensor
    visual_len: int = 0  # tokens/frames per row for sequence heads (0 for pooled features)
    hidden: int = 256  # width of the head [ours]
    dropout: float = 0.1
    visual_model: dict[str, Any] = field(default_factory=dict)  # the feature store's producing model
    # How to rebuild that model for `encode_images` (the store manifest's `encoder`, `normalized`,
    # `max_pixels`); empty for students trained on stores that do not record it.
    visual_encoder: dict[str, Any] = field(default_factory=dict)
    languages: list[str] = field(default_factory=list)  # target languages it was trained on (--tgt codes)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["text"] = self.text.to_dict()
        return {"kind": "student", **out}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StudentConfig:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__ and k != "text"}
        return cls(text=TextEncoderConfig.from_dict(data["text"]), **known)


def visual_rows(store: Any, visual_input: str, *, field: str = "features") -> tuple[torch.Tensor, torch.Tensor | None]:
    """The tensor (and mask) of a feature store that a student with `visual_input` reads; errors name the
    setting `field` the store came from."""
    if visual_input not in VISUAL_INPUTS:
        raise ValueError(f"visual_input {visual_input!r}: expected one of {', '.join(VISUAL_INPUTS)}")
    if visual_input == "features":
        return store.features, store.mask
    if "tokens" not in store.extra:
        raise ConfigError(f"{{{field}}}: the store has no 'tokens' tensor (extract the features with patch "
                          "tokens, or read the pooled features)")
    # Kept in the stored dtype (fp16): a token store is T times a pooled one; batches are cast on use.
    return store.extra["tokens"], store.extra.get("tokens_mask")


class Student(nn.Module):
    """Visual head + target-language TextEncoder in one L2-normalised joint space (cosine similarity)."""

    def __init__(self, config: StudentConfig, *, hf_config: dict[str, Any] | None = None,
                 tokenizer_dir: str | Path | None = None, lite: bool = False) -> None:
        super().__init__()
        # A config that contradicts itself is a programming error here: `distill` checks the user's options
        # against the store first (and `from_dir` reports a bad config.json as the user's file).
        if config.visual_input not in VISUAL_INPUTS:
            raise ValueError(f"visual_input {config.visual_input!r}: expected one of {', '.join(VISUAL_INPUTS)}")
        if config.head not in VISUAL_HEADS:
            raise ValueError(f"head {config.head!r}: expected one of {', '.join(VISUAL_HEADS)}")
        sequence = VISUAL_HEADS[config.head][1]
        if sequence != (config.visual_len > 0):
            raise ValueError(f"head {config.head!r} reads {'[N, T, W]' if sequence else 'pooled [N, D]'} rows, "
                             f"but visual_len is {config.visual_len}")
        self.config = config
        self.text = TextEncoder(config.text, hf_config=hf_config, tokenizer_dir=tokenizer_dir, lite=lite)
        self.visual = build_visual_head(config.head, config.visual_dim, config.text.dim, hidden=config.hidden,
                                        dropout=config.dropout, max_len=max(config.visual_len, 1))

    @property
    def languages(self) -> tuple[str, ...]:
        """The target-language codes it was trained on (its --tgt languages); () for a directory that
        predates recording them ("unknown": nothing can be checked against it)."""
        return tuple(self.config.languages)

    @property
    def dim(self) -> int:
        return self.config.text.dim

    @property
    def tokenizer(self) -> Any:
        return self.text.tokenizer

    def forward_visual(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return F.normalize(self.visual(x.float(), mask).float(), dim=-1)

    def forward_text(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.text(input_ids, attention_mask).emb

    # -------------------------------------------------------------- retrieval interface
    def encode_text(self, texts: list[str], batch_size: int = 256) -> torch.Tensor:
        """Target-language captions → [N, D], L2-normalised, float32 on CPU."""
        return encode_texts(self.text, texts, batch_size)

    @torch.no_grad()
    def encode_visual(self, features: torch.Tensor, mask: torch.Tensor | None = None,
                      batch_size: int = 1024) -> torch.Tensor:
        """Rows of the tensor named by `config.visual_input` (+ its mask) → [N, D], L2-normalised, on CPU."""
        want = 3 if self.config.visual_len > 0 else 2
        if features.dim() != want or features.shape[-1] != self.config.visual_dim:
            raise UserError(f"visual rows of shape {tuple(features.shape)}, the student reads "
                            f"{self.config.visual_input} of shape [N{', T' if want == 3 else ''}, "
                            f"{self.config.visual_dim}]")
        device = next(self.parameters()).device
        was_training = self.training
        self.eval()
        out = []
        try:
            for start in range(0, features.shape[0], batch_size):
                x = features[start:start + batch_size].to(device)
                m = None if mask is None else mask[start:start + batch_size].to(device)
                out.append(self.forward_visual(x, m).cpu())
        finally:
            self.train(was_training)
        return torch.cat(out) if out else torch.empty(0, self.dim)

    def encode_store(self, store: Any, batch_size: int = 1024) -> torch.Tensor:
        """Every row of a loaded feature store, reading the tensor this student was trained on."""
        x, mask = visual_rows(store, self.config.visual_input)
        return self.encode_visual(x, mask, batch_size)

    def image_encoder(self, *, model: str | None = None, pretrained: str | None = None) -> Any:
        """The recorded frozen visual encoder, rebuilt once (pass it to `encode_images` to reuse it)."""
        from cl2cm.features.encoders import rebuild_encoder

        if self.config.visual_input == "features" and self.config.visual_len > 0:
            raise ValueError("a video (frames) student encodes frame features, not single images")
        return rebuild_encoder(self.config.visual_model, self.config.visual_encoder.get("encoder", {}),
                               device=next(self.parameters()).device, tokens=self.config.visual_input == "tokens",
                               model=model, pretrained=pretrained)

    @torch.no_grad()
    def encode_images(self, paths: list[str | Path], *, batch_size: int = 64, model: str | None = None,
                      pretrained: str | None = None, encoder: Any = None) -> torch.Tensor:
        """Raw image files → [N, D], L2-normalised, on CPU: the recorded frozen visual encoder, then the head.

        The encoder is rebuilt from what the student recorded about its training features (the backend;
        open_clip name or config file, pretrained tag or checkpoint file, seed of random weights; or the
        Hugging Face model id/directory); `model`/`pretrained` override a recorded path that moved. The vectors equal `encode_store` on an extraction of the same
        files. Video students (frames) have no single-image input.
        """
        from cl2cm.features.extract import encode_image_files

        encoder = encoder or self.image_encoder(model=model, pretrained=pretrained)
        rec = self.config.visual_encoder
        kwargs = {"max_pixels": rec["max_pixels"]} if rec.get("max_pixels") else {}
        pooled, tokens = encode_image_files(encoder, list(paths), normalize=rec.get("normalized", True),
                                            batch_size=batch_size, **kwargs)
        return self.encode_visual(tokens if self.config.visual_input == "tokens" else pooled)

    def expect_store(self) -> dict[str, Any]:
        """`load_store` keyword arguments that refuse a store from another visual model or dimension."""
        expect = {"kind": "features", "expect_model": self.config.visual_model or None}
        if self.config.visual_input == "features":
            expect["expect_dim"] = self.config.visual_dim
        return expect

    # -------------------------------------------------------------- construction
    @classmethod
    def from_teacher(cls, teacher: nn.Module, teacher_dir: str | Path, config: StudentConfig, *,
                     init_text: str = "encoder") -> Student:
        """A fresh student whose text encoder starts from the pretrained backbone or from the teacher's TE.

        ``encoder``: `from_pretrained(config.text.encoder)` (as NRCCR starts from mBERT);
        ``teacher``: the teacher's target tower, all weights whose shapes match (the projection too when
        the dimensions agree), so the student starts in the space the teacher already aligned.
        """
        if init_text not in INIT_TEXT:
            raise ValueError(f"init_text {init_text!r}: expected one of {', '.join(INIT_TEXT)}")
        return INIT_TEXT[init_text](teacher, teacher_dir, config)

    # -------------------------------------------------------------- model directory
    def save(self, directory: str | Path, manifest: Manifest) -> Path:
        config = self.config.to_dict()
        config["backbone"] = self.text.hf_config_dict()
        manifest.model.setdefault("encoder", self.config.text.encoder)
        manifest.model.setdefault("dim", self.dim)
        manifest.model.setdefault("head", self.config.head)
        manifest.model.setdefault("visual_input", self.config.visual_input)
        manifest.model.setdefault("visual_model", self.config.visual_model)
        return save_model_dir(directory, self, config, manifest, tokenizer=self.tokenizer)

    @classmethod
    def from_dir(cls, directory: str | Path, device: str | torch.device = "cpu", *, lite: bool = False) -> Student:
        """A saved student in eval mode; `lite`: for inference only, a BERT text backbone without importing
        transformers (`bert_lite`; the same outputs)."""
        config, weights, _ = read_model_dir(directory, kind="student")
        try:
            student_config = StudentConfig.from_dict(config)
            model = cls(student_config, hf_config=config["backbone"], tokenizer_dir=directory, lite=lite)
        except (ValueError, KeyError, TypeError) as exc:
            raise UserError(f"config.json does not describe a student ({exc})", path=directory) from exc
        load_weights(model, weights, directory)
        return model.to(device).eval()


def _init_from_encoder(teacher: nn.Module, teacher_dir: str | Path, config: StudentConfig) -> Student:
    return Student(config)


def _init_from_teacher(teacher: nn.Module, teacher_dir: str | Path, config: StudentConfig) -> Student:
    tgt = teacher.tgt
    student = Student(config, hf_config=tgt.hf_config_dict(), tokenizer_dir=teacher_dir)
    own = student.text.state_dict()
    take = {k: v.detach().clone() for k, v in tgt.state_dict().items() if k in own and own[k].shape == v.shape}
    student.text.load_state_dict(take, strict=False)
    return student


INIT_TEXT: dict[str, Callable[[nn.Module, str | Path, StudentConfig], Student]] = {
    "encoder": _init_from_encoder,
    "teacher": _init_from_teacher,
}


def student_text_config(teacher_text: TextEncoderConfig, **overrides: Any) -> TextEncoderConfig:
    """The student's text config: the teacher's (encoder, pooling, layers, length) with overrides."""
    base = copy.deepcopy(teacher_text).to_dict()
    base.update({k: v for k, v in overrides.items() if v is not None})
    return TextEncoderConfig.from_dict(base)

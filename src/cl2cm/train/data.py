"""Training data shared by both stages: caption pairs, tokenising once, the token cache, index batches.

Both stages read (English, translation) pairs by caption id, tokenise every caption once before epoch 1
into padded int32 matrices (cached in `OUT/checkpoints/` so a resume does not tokenise again), and train
on a dataset of row indices whose collate gathers and trims the pre-tokenised rows.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from cl2cm.artifacts.captions import Caption, pair_by_id, read_captions
from cl2cm.artifacts.io import sha256_text
from cl2cm.artifacts.store import load_safetensors, save_safetensors
from cl2cm.errors import UserError

Pairs = list[tuple[Caption, Caption]]


def read_pairs(src: str | Path, tgt: str | Path, fmt: str | None, *, src_flag: str = "--src",
               tgt_flag: str = "--tgt", minimum: int = 2) -> Pairs:
    """(English, target) caption pairs matched by id; fewer than `minimum` is a user error.

    Training sets need two pairs (in-batch negatives); a validation set one.
    """
    pairs = pair_by_id(read_captions(src, fmt), read_captions(tgt, fmt), src_name=src_flag, tgt_name=tgt_flag)
    if len(pairs) < minimum:
        raise UserError(f"{tgt_flag}: {len(pairs)} caption pair(s) with --src ids, need at least {minimum}",
                        path=tgt)
    return pairs


def group_ids(images: Sequence[str]) -> torch.Tensor:
    """Image ids → dense integers (same image = same integer) for the positive mask."""
    index: dict[str, int] = {}
    return torch.tensor([index.setdefault(im, len(index)) for im in images], dtype=torch.long)


def tokenize_corpus(encoder: Any, texts: list[str], batch: int = 4096) -> tuple[torch.Tensor, torch.Tensor]:
    """All texts → [N, max_length] ids (pad id filled) and lengths; done once per run, not per batch."""
    pad = encoder.tokenizer.pad_token_id or 0
    ids = torch.full((len(texts), encoder.config.max_length), pad, dtype=torch.int32)
    lens = torch.zeros(len(texts), dtype=torch.int32)
    for start in range(0, len(texts), batch):
        enc = encoder.tokenizer(texts[start:start + batch], truncation=True, max_length=encoder.config.max_length,
                                padding=False, return_attention_mask=False, return_token_type_ids=False)
        for j, row in enumerate(enc["input_ids"]):
            ids[start + j, :len(row)] = torch.tensor(row, dtype=torch.int32)
            lens[start + j] = len(row)
    return ids, lens


def trim(ids: torch.Tensor, lens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows of a padded id matrix cut to their longest length, with the attention mask (both long)."""
    width = int(lens.max())
    ids = ids[:, :width].long()
    mask = (torch.arange(width)[None, :] < lens[:, None]).long()
    return ids, mask


class IndexDataset(Dataset):
    """Items are row indices; the collate gathers the pre-tokenised rows (no Python work per item)."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> int:
        return i


def cache_key(pairs: Pairs, *spec: object) -> str:
    """What a cached tensor file depends on: every pair's texts and image, plus `spec` (encoder, lengths)."""
    rows = "\x1e".join(f"{s.text}\x1f{t.text}\x1f{t.image}" for s, t in pairs)
    return sha256_text(rows + "\x1e" + repr(spec))[:16]


def cached(path: Path, build: Callable[[], dict[str, torch.Tensor]], *, write: bool) -> dict[str, torch.Tensor]:
    """`build()`'s tensors, read from `path` when a previous run of the same inputs left them there.

    An unreadable cache is rebuilt; only the process that writes (rank 0) saves it.
    """
    if path.exists():
        with contextlib.suppress(UserError):
            return load_safetensors(path)
    tensors = build()
    if write:
        path.parent.mkdir(parents=True, exist_ok=True)
        save_safetensors(path, tensors)
    return tensors

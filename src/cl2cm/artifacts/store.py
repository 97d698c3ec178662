"""Embedding stores: a directory of features.safetensors + ids.txt (+ images.txt) + manifest.json.

``features`` is [N, D] (images, text) or [N, K, D] with a boolean ``mask`` [N, K] (video frames, patch
tokens). Other named tensors may ride along (``tokens`` for patch features). Text stores have an
``images.txt`` that gives the visual id of each row, which is what evaluation needs to know a query's
positive. The manifest records the producing model and the dimension, and `load_store` checks them.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from cl2cm.artifacts.io import read_lines, temp_sibling, write_lines
from cl2cm.artifacts.manifest import Manifest, read_manifest, remove_manifest, write_manifest
from cl2cm.errors import UserError

FEATURES_FILE = "features.safetensors"


@dataclass
class EmbeddingStore:
    """Rows of embeddings with their ids (and, for text, the visual id of each row)."""

    features: torch.Tensor
    ids: list[str]
    images: list[str] | None = None
    mask: torch.Tensor | None = None
    extra: dict[str, torch.Tensor] = field(default_factory=dict)
    manifest: Manifest | None = None

    @property
    def dim(self) -> int:
        return int(self.features.shape[-1])

    def __len__(self) -> int:
        return len(self.ids)


def save_safetensors(path: str | Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None
                     ) -> None:
    """Atomic safetensors write (contiguous CPU copies, temp file + rename)."""
    path = Path(path)
    tmp = temp_sibling(path)
    try:
        try:
            save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp), metadata=metadata)
        except SafetensorError as exc:  # the Rust writer wraps I/O errors: disk full must stay an OSError
            code = re.search(r"os error (\d+)", str(exc))
            if code is None:
                raise
            raise OSError(int(code[1]), os.strerror(int(code[1])), str(path)) from exc
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def load_safetensors(path: str | Path, device: str = "cpu") -> dict[str, torch.Tensor]:
    """Load a safetensors file; a truncated or tampered file is a UserError naming it."""
    path = Path(path)
    if not path.exists():
        raise UserError("file not found", path=path)
    try:
        return load_file(str(path), device=device)
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise UserError(f"corrupt or truncated safetensors file ({str(exc).splitlines()[0]})", path=path) from exc


def save_store(
    directory: str | Path,
    features: torch.Tensor,
    ids: list[str],
    manifest: Manifest,
    *,
    images: list[str] | None = None,
    mask: torch.Tensor | None = None,
    extra: dict[str, torch.Tensor] | None = None,
) -> Path:
    """Write an embedding store; the manifest goes last and marks it complete."""
    directory = Path(directory)
    n = features.shape[0]
    if len(ids) != n:
        raise ValueError(f"{len(ids)} ids for {n} feature rows")
    if images is not None and len(images) != n:
        raise ValueError(f"{len(images)} image ids for {n} feature rows")
    directory.mkdir(parents=True, exist_ok=True)
    remove_manifest(directory)
    tensors = {"features": features}
    if mask is not None:
        tensors["mask"] = mask.to(torch.bool)
    tensors.update(extra or {})
    save_safetensors(directory / FEATURES_FILE, tensors)
    write_lines(directory / "ids.txt", ids)
    if images is not None:
        write_lines(directory / "images.txt", images)
    else:
        (directory / "images.txt").unlink(missing_ok=True)
    manifest.rows = n
    manifest.extra.setdefault("dim", int(features.shape[-1]))
    manifest.extra.setdefault("shape", list(features.shape))
    manifest.extra.setdefault("dtype", str(features.dtype).replace("torch.", ""))
    write_manifest(directory, manifest)
    return directory


def load_store(
    directory: str | Path,
    *,
    kind: str | tuple[str, ...] | None = None,
    expect_dim: int | None = None,
    expect_model: dict[str, Any] | None = None,
    dtype: torch.dtype | None = torch.float32,
    flag: str = "",
) -> EmbeddingStore:
    """Read and validate a store. `expect_model` keys must match the manifest's `model` entries."""
    directory = Path(directory)
    where = f"{flag} " if flag else ""
    manifest = read_manifest(directory, kind=kind)
    tensors = load_safetensors(directory / FEATURES_FILE)
    if "features" not in tensors:
        raise UserError(f"{where}no 'features' tensor in {FEATURES_FILE}", path=directory)
    feats = tensors.pop("features")
    mask = tensors.pop("mask", None)
    ids = read_lines(directory / "ids.txt")
    images = read_lines(directory / "images.txt") if (directory / "images.txt").exists() else None
    if len(ids) != feats.shape[0] or manifest.rows != feats.shape[0]:
        raise UserError(f"{where}inconsistent store: {feats.shape[0]} rows, {len(ids)} ids, manifest says "
                        f"{manifest.rows}", path=directory)
    if images is not None and len(images) != len(ids):
        raise UserError(f"{where}images.txt has {len(images)} lines for {len(ids)} rows", path=directory)
    first: dict[str, int] = {}
    for line, row_id in enumerate(ids, 1):  # every reader (eval, search, distill) relies on unique ids
        if first.setdefault(row_id, line) != line:
            raise UserError(f"duplicate id {row_id!r} (first on line {first[row_id]})"
                            + (f" in the {flag} store" if flag else ""), path=directory / "ids.txt", line=line)
    if expect_dim is not None and feats.shape[-1] != expect_dim:
        raise UserError(f"{where}features have dimension {feats.shape[-1]}, the model expects {expect_dim}",
                        path=directory)
    for key, want in (expect_model or {}).items():
        have = manifest.model.get(key)
        if have != want:
            raise UserError(f"{where}made with {key}={have!r}, expected {want!r}", path=directory)
    if dtype is not None and feats.is_floating_point():
        feats = feats.to(dtype)
    return EmbeddingStore(features=feats, ids=ids, images=images, mask=mask, extra=tensors, manifest=manifest)

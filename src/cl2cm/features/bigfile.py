"""NRCCR's BigFile layout ↔ our embedding store, for users of precomputed features (VATEX I3D, ResNet).

A BigFile directory holds ``feature.bin`` (raw float32, row-major N×D), ``id.txt`` (the N ids, separated
by spaces or newlines) and ``shape.txt`` ("N D"). Video features there are per *frame*; NRCCR's
``video2frames.txt`` (a Python dict literal, video id → frame ids) groups them into videos, which we
store as [N, K, D] + mask with the same uniform K-frame sampling `extract-features --frames` uses.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from cl2cm.artifacts.io import (
    atomic_write_bytes,
    atomic_write_text,
    read_lines,
    removed_if_left_empty,
    sha256_file,
)
from cl2cm.artifacts.lock import output_lock
from cl2cm.artifacts.manifest import MANIFEST_NAME, Manifest
from cl2cm.artifacts.store import first_bad_row, first_duplicate, first_nonfinite_row, save_store
from cl2cm.errors import UserError
from cl2cm.features.datasets import uniform_indices


@dataclass
class ImportResult:
    out: Path
    rows: int
    dim: int
    frames: int | None
    shape: list[int]


def _text(path: Path) -> str:
    """A small text file; invalid UTF-8 is a UserError naming file and line (via read_lines), not a crash."""
    return "\n".join(read_lines(path))


def read_bigfile(directory: str | Path) -> tuple[list[str], np.ndarray]:
    """Ids (checked unique) and a read-only memory map [N, D] float32 (nothing is loaded until rows are
    touched: the values are checked as they are converted, `_half_rows`)."""
    d = Path(directory)
    if not d.is_dir():
        raise UserError("BigFile directory not found", path=d)
    for name in ("feature.bin", "id.txt", "shape.txt"):
        if not (d / name).is_file():
            raise UserError(f"not a BigFile directory (no {name})", path=d)
    parts = _text(d / "shape.txt").split()
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise UserError(f"expected 'N D', got {' '.join(parts)!r}", path=d / "shape.txt", line=1)
    n, dim = int(parts[0]), int(parts[1])
    ids = _text(d / "id.txt").split()
    if len(ids) != n:
        raise UserError(f"{len(ids)} ids, shape.txt says {n} rows", path=d / "id.txt")
    dup = first_duplicate(ids)  # the store's readers refuse it, and frame grouping would pick one at random
    if dup is not None:
        raise UserError(f"duplicate id {ids[dup[0]]!r} (first as id {dup[1] + 1}, again as id {dup[0] + 1})",
                        path=d / "id.txt")
    size = (d / "feature.bin").stat().st_size
    if size != n * dim * 4:
        raise UserError(f"{size} bytes, shape.txt {n}x{dim} float32 needs {n * dim * 4}", path=d / "feature.bin")
    if n == 0:
        return ids, np.zeros((0, dim), dtype=np.float32)
    return ids, np.memmap(d / "feature.bin", dtype=np.float32, mode="r", shape=(n, dim))


def write_bigfile(directory: str | Path, ids: list[str], features: np.ndarray | torch.Tensor) -> Path:
    """Write a BigFile (export to NRCCR's tools; also how tests build one)."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    arr = features.float().numpy() if isinstance(features, torch.Tensor) else np.asarray(features, np.float32)
    if arr.ndim != 2 or arr.shape[0] != len(ids):
        raise ValueError(f"need [N, D] features for {len(ids)} ids, got {arr.shape}")
    atomic_write_bytes(d / "feature.bin", np.ascontiguousarray(arr, dtype="<f4").tobytes())
    atomic_write_text(d / "id.txt", " ".join(ids))
    atomic_write_text(d / "shape.txt", f"{arr.shape[0]} {arr.shape[1]}")
    return d


def read_video2frames(path: str | Path) -> dict[str, list[str]]:
    """NRCCR's video2frames.txt (a dict literal, parsed safely), JSON, or lines 'video frame frame ...'."""
    path = Path(path)
    if not path.is_file():
        raise UserError("--video2frames: file not found", path=path)
    text = _text(path).strip()
    if text.startswith("{"):
        try:
            data = ast.literal_eval(text)
        except (ValueError, SyntaxError) as exc:
            raise UserError(f"--video2frames: not a dict literal ({exc})", path=path) from exc
        if not isinstance(data, dict) or not all(isinstance(v, (list, tuple)) for v in data.values()):
            raise UserError("--video2frames: expected {video: [frame ids]}", path=path)
        return {str(k): [str(f) for f in v] for k, v in data.items()}
    out: dict[str, list[str]] = {}
    for i, line in enumerate(read_lines(path), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) < 2:
            raise UserError("expected 'video frame_id [frame_id ...]'", path=path, line=i)
        out[fields[0]] = fields[1:]
    return out


def import_bigfile(src: str | Path, out: str | Path, *, video2frames: str | Path | None = None,
                   frames: int | None = None, name: str | None = None, overwrite: bool = False) -> ImportResult:
    """Convert a BigFile into a `features` store (float16; rows kept as given, not re-normalised)."""
    src, out = Path(src), Path(out)
    if frames is not None and frames < 1:
        raise UserError(f"--frames {frames}: must be at least 1")
    ids, feats = read_bigfile(src)
    with removed_if_left_empty(out), output_lock(out):
        if (out / MANIFEST_NAME).exists() and not overwrite:
            raise UserError("already holds a finished store; pass --overwrite to replace it", path=out)
        mask = None
        inputs = {str(src / "feature.bin"): sha256_file(src / "feature.bin"),
                  str(src / "id.txt"): sha256_file(src / "id.txt")}
        if video2frames is None:
            features = _to_half(feats, ids, src / "feature.bin")
            row_ids = ids
        else:
            groups = read_video2frames(video2frames)
            inputs[str(video2frames)] = sha256_file(video2frames)
            features, mask, row_ids = _group_frames(ids, feats, groups, frames, Path(video2frames),
                                                    src / "feature.bin")
            frames = int(features.shape[1])
        manifest = Manifest(kind="features", model={"backend": "bigfile", "name": name or src.name},
                            inputs=inputs, extra={"normalized": False, "source_format": "bigfile",
                                                  "frames": frames, "normalization": "none (as imported)"})
        save_store(out, features, row_ids, manifest, mask=mask)
    return ImportResult(out=out, rows=len(row_ids), dim=int(features.shape[-1]), frames=frames,
                        shape=list(features.shape))


def _half_rows(feats: np.ndarray, rows: slice | list[int], ids: list[str], where: Path) -> torch.Tensor:
    """float16 copy of some rows of the BigFile; a row holding NaN or infinity, or a value float16 cannot
    hold, is a UserError naming the row and its id (every reader of the store would refuse it)."""
    block = torch.from_numpy(np.array(feats[rows], dtype=np.float32))
    half = block.half()
    wide = first_nonfinite_row(half)
    for bad in (first_bad_row(block), None if wide is None else (wide, "holds a value beyond float16's range "
                                                                       "(±65504)")):
        if bad is not None:
            row = range(feats.shape[0])[rows][bad[0]] if isinstance(rows, slice) else rows[bad[0]]
            raise UserError(f"row {row} (id {ids[row]!r}) {bad[1]}", path=where)
    return half


def _to_half(feats: np.ndarray, ids: list[str], where: Path, block: int = 65536) -> torch.Tensor:
    """float16 copy of a memory map, a block of rows at a time (never the whole float32 file in RAM)."""
    out = torch.empty(feats.shape, dtype=torch.float16)
    for s in range(0, feats.shape[0], block):
        out[s: s + block] = _half_rows(feats, slice(s, s + block), ids, where)
    return out


def _group_frames(ids: list[str], feats: np.ndarray, groups: dict[str, list[str]], k: int | None, where: Path,
                  bin_path: Path) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    row = {fid: i for i, fid in enumerate(ids)}
    k = k or max((len(v) for v in groups.values()), default=1)
    videos = sorted(groups)
    out = torch.zeros(len(videos), k, feats.shape[1], dtype=torch.float16)
    mask = torch.zeros(len(videos), k, dtype=torch.bool)
    for v, vid in enumerate(videos):
        frame_ids = groups[vid]
        missing = [f for f in frame_ids if f not in row]
        if missing:
            raise UserError(f"video {vid!r}: frame id {missing[0]!r} is not in the BigFile's id.txt", path=where)
        picked = [row[frame_ids[j]] for j in uniform_indices(len(frame_ids), k)]
        if picked:
            out[v, : len(picked)] = _half_rows(feats, picked, ids, bin_path)
            mask[v, : len(picked)] = True
    return out, mask, videos


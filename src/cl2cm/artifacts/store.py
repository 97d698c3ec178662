"""Embedding stores: a directory of features.safetensors + ids.txt (+ images.txt) + manifest.json.

``features`` is [N, D] (images, text) or [N, K, D] with a boolean ``mask`` [N, K] (video frames, patch
tokens). Other named tensors may ride along (``tokens`` for patch features). Text stores have an
``images.txt`` that gives the visual id of each row, which is what evaluation needs to know a query's
positive. The manifest records the producing model and the dimension, and `load_store` checks them.
"""

from __future__ import annotations

import json
import os
import re
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from cl2cm.artifacts.checksum import DIGEST_KEY, StreamDigest, check_file, check_tensors, tensors_digest
from cl2cm.artifacts.io import give_default_mode, read_lines, temp_sibling, write_lines
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
    cpu = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    metadata = {**(metadata or {}), DIGEST_KEY: tensors_digest(cpu, metadata)}  # the file checks itself on load
    try:
        try:
            save_file(cpu, str(tmp), metadata=metadata)
        except SafetensorError as exc:  # the Rust writer wraps I/O errors: disk full must stay an OSError
            code = re.search(r"os error (\d+)", str(exc))
            if code is None:
                raise
            raise OSError(int(code[1]), os.strerror(int(code[1])), str(path)) from exc
        _sort_metadata(tmp)
        give_default_mode(tmp)  # save_file creates 0600 whatever the umask
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _sort_metadata(path: Path) -> None:
    """Rewrite the header's metadata with its keys sorted, in place (the same bytes, another order).

    safetensors' writer keeps the metadata in a Rust HashMap, whose order changes from map to map: the same
    tensors with two metadata keys (a model's ``format`` and our digest) came out as two different files,
    about one save in two. Sorted keys make a saved model, and a rerun's, the same bytes.
    """
    with open(path, "r+b") as fh:
        (size,) = struct.unpack("<Q", fh.read(8))
        raw = fh.read(size)
        header = json.loads(raw)
        meta = header.get("__metadata__")
        if not isinstance(meta, dict) or len(meta) < 2:
            return
        header["__metadata__"] = dict(sorted(meta.items()))
        out = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
        if len(out) > size or json.loads(out + b" " * (size - len(out))) != json.loads(raw):
            return  # a header this serialisation does not reproduce: leave the file as written
        fh.seek(8)
        fh.write(out + b" " * (size - len(out)))


def load_safetensors(path: str | Path, device: str = "cpu") -> dict[str, torch.Tensor]:
    """Load a safetensors file; a truncated or tampered file, or one whose bytes no longer match the digest
    it was written with (`cl2cm.artifacts.checksum`), is a UserError naming it."""
    path = Path(path)
    if not path.exists():
        raise UserError("file not found", path=path)
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise UserError(f"corrupt or truncated safetensors file ({str(exc).splitlines()[0]})", path=path) from exc
    check_tensors(path, tensors, read_metadata(path))
    return tensors if device == "cpu" else {k: v.to(device) for k, v in tensors.items()}


def read_metadata(path: str | Path) -> dict[str, str]:
    """The string metadata of a safetensors file's header ({} when it has none)."""
    path = Path(path)
    meta = _read_header(path, keep_metadata=True)[1].get("__metadata__") or {}
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise UserError("corrupt safetensors header (metadata is not a map of strings)", path=path)
    return meta


_ITEM_BYTES = {"BOOL": 1, "U8": 1, "I8": 1, "I16": 2, "I32": 4, "I64": 8, "F16": 2, "BF16": 2, "F32": 4, "F64": 8}
_DTYPE_NAMES = {"F16": "float16", "BF16": "bfloat16", "F32": "float32", "F64": "float64", "BOOL": "bool",
                "U8": "uint8", "I8": "int8", "I16": "int16", "I32": "int32", "I64": "int64"}


_COPY_BLOCK = 16 << 20  # bytes per read/write when concatenating


def _read_header(path: Path, *, keep_metadata: bool = False) -> tuple[int, dict[str, Any]]:
    """(offset of the data section, header) of a safetensors file, without reading its tensors; the length
    is checked against the file size first (a header never makes us allocate on its word)."""
    try:
        with open(path, "rb") as fh:
            (n,) = struct.unpack("<Q", fh.read(8))
            if n > os.fstat(fh.fileno()).st_size - 8:
                raise ValueError(f"header length {n} exceeds the file")
            header = json.loads(fh.read(n))
        if not isinstance(header, dict):
            raise ValueError("header is not a JSON object")
        if not keep_metadata:
            header.pop("__metadata__", None)
        return 8 + n, header
    except (OSError, ValueError, struct.error) as exc:
        raise UserError(f"corrupt or truncated safetensors file ({exc})", path=path) from exc


def concat_safetensors(path: str | Path, parts: Sequence[str | Path], names: Sequence[str]) -> dict[str, list]:
    """Write each tensor of `names`, concatenated along rows over the safetensors files `parts`, to `path`.

    Streams bytes: the header is computed from the parts' headers, then each part's tensor bytes are copied
    in 16 MB blocks, so memory never holds a tensor, let alone the store (a 100k-image ViT-B/16 token store
    is 30 GB). The result loads as the concatenated tensors. Atomic (temp file + rename).
    Returns {name: [dtype, shape]}.
    """
    path = Path(path)
    heads = [(Path(part), *_read_header(Path(part))) for part in parts]
    info: dict[str, tuple[str, list[int]]] = {}
    for name in names:
        dtype, rows, tail = None, 0, None
        for part, _, header in heads:
            if name not in header:
                raise UserError(f"chunk has no tensor {name!r}; rerun with --overwrite", path=part)
            dt, shape = header[name]["dtype"], list(header[name]["shape"])
            if dtype is None:
                dtype, tail = dt, shape[1:]
            elif dt != dtype or shape[1:] != tail:
                raise UserError(f"part {part.name}: {name} is {dt} {shape}, earlier parts {dtype} [*, {tail}]",
                                path=part)
            rows += shape[0]
        if dtype is None:
            raise ValueError("concat_safetensors needs at least one part")
        info[name] = (dtype, [rows, *(tail or [])])
    info = {name: info[name] for name in sorted(info)}  # data in name order: the digest streams in that order
    header_out: dict[str, Any] = {"__metadata__": {DIGEST_KEY: "0" * 32}}  # filled in once the data is written
    offset = 0
    for name, (dtype, shape) in info.items():
        size = _ITEM_BYTES[dtype]
        for dim in shape:
            size *= dim
        header_out[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header_out, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    digest = StreamDigest()
    tmp = temp_sibling(path)
    try:
        with open(tmp, "wb") as out:
            out.write(struct.pack("<Q", len(raw)))
            out.write(raw)
            for name, (dtype, shape) in info.items():
                digest.tensor(name, f"torch.{_DTYPE_NAMES[dtype]}", shape)
                for part, base, header in heads:
                    start, end = header[name]["data_offsets"]
                    with open(part, "rb") as fh:
                        fh.seek(base + start)
                        left = end - start
                        while left:
                            block = fh.read(min(left, _COPY_BLOCK))
                            if not block:
                                raise UserError("truncated chunk; rerun with --overwrite", path=part)
                            out.write(block)
                            digest.update(block)
                            left -= len(block)
            out.seek(8)
            out.write(raw.replace(b"0" * 32, digest.hexdigest().encode(), 1))
            out.flush()
            os.fsync(out.fileno())
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return {name: [_DTYPE_NAMES[dtype], shape] for name, (dtype, shape) in info.items()}


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
    _check_rows(features.shape[0], ids, images)
    directory.mkdir(parents=True, exist_ok=True)
    remove_manifest(directory)
    tensors = {"features": features}
    if mask is not None:
        tensors["mask"] = mask.to(torch.bool)
    tensors.update(extra or {})
    save_safetensors(directory / FEATURES_FILE, tensors)
    return _finish_store(directory, ids, images, manifest, list(features.shape),
                         str(features.dtype).replace("torch.", ""))


def save_store_from_parts(
    directory: str | Path,
    parts: Sequence[str | Path],
    names: Sequence[str],
    ids: list[str],
    manifest: Manifest,
    *,
    images: list[str] | None = None,
) -> dict[str, list[int]]:
    """`save_store` of tensors concatenated over chunk files, streamed (`concat_safetensors`); `names` must
    start with "features". Returns the shape of each stored tensor."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    remove_manifest(directory)
    info = concat_safetensors(directory / FEATURES_FILE, parts, names)
    dtype, shape = info["features"]
    _check_rows(shape[0], ids, images)
    _finish_store(directory, ids, images, manifest, shape, dtype)
    return {name: shape for name, (_, shape) in info.items()}


NONFINITE = "holds NaN or infinity"
ROW_TENSORS = ("features", "tokens")  # one vector per item (per frame/patch): a zero one is never real
ZERO = "is all zeros"


def first_bad_row(tensor: torch.Tensor, *, zeros: bool = True) -> tuple[int, str] | None:
    """(row, why) of the first row of `tensor` no reader can rank or train on: NaN or ±inf anywhere in it
    (`NONFINITE`), or (`zeros`) all zeros (`ZERO`); None when every row is usable, or for a non-float tensor.

    A zero row has no direction: cosine 0 with everything, a tie with every query, nothing to train on;
    it is what a failed encoding written as a placeholder looks like. Model weights are not row tensors
    (zero biases are normal): their callers pass `zeros=False`.

    One pass of row sums screens for both (NaN and inf propagate; a plain reduction allocates nothing per
    element, where isfinite or a dtype conversion over a 100 MB float16 store took 20-30x longer here);
    only rows whose sum is not finite (or overflowed), or is exactly 0, get the element-wise check."""
    if not tensor.is_floating_point() or tensor.numel() == 0:
        return None
    if tensor.ndim == 0:
        return None if bool(torch.isfinite(tensor)) else (0, NONFINITE)
    flat = tensor.reshape(tensor.shape[0], -1)
    sums = flat.sum(dim=1)
    suspect = ~torch.isfinite(sums)
    if zeros:
        suspect |= sums == 0
    for row in suspect.nonzero().flatten().tolist():
        if not bool(torch.isfinite(flat[row]).all()):
            return int(row), NONFINITE
        if zeros and not bool(flat[row].any()):
            return int(row), ZERO
    return None


def first_nonfinite_row(tensor: torch.Tensor) -> int | None:
    """The first row of `tensor` holding NaN or ±inf, or None (`first_bad_row` without the zero check)."""
    bad = first_bad_row(tensor, zeros=False)
    return None if bad is None else bad[0]


def first_nonfinite(tensors: Mapping[str, torch.Tensor]) -> tuple[str, int] | None:
    """(name, row) of the first floating tensor of `tensors`, in their order, holding NaN or ±inf, else None:
    the value check every reader of stored tensors runs (stores, model weights, `cl2cm verify`)."""
    for name, tensor in tensors.items():
        row = first_nonfinite_row(tensor)
        if row is not None:
            return name, row
    return None


def first_duplicate(ids: Sequence[str]) -> tuple[int, int] | None:
    """(index of the first id seen before, index where it was first seen), or None when all are unique:
    rows are joined by id (positives, gallery rows), so a repeated id makes every reader ambiguous."""
    first: dict[str, int] = {}
    for i, row_id in enumerate(ids):
        j = first.setdefault(row_id, i)
        if j != i:
            return i, j
    return None


def _check_rows(n: int, ids: list[str], images: list[str] | None) -> None:
    if len(ids) != n:
        raise ValueError(f"{len(ids)} ids for {n} feature rows")
    if images is not None and len(images) != n:
        raise ValueError(f"{len(images)} image ids for {n} feature rows")


def _finish_store(directory: Path, ids: list[str], images: list[str] | None, manifest: Manifest,
                  shape: list[int], dtype: str) -> Path:
    """ids.txt, images.txt, then the manifest: the last write marks the store complete."""
    write_lines(directory / "ids.txt", ids)
    if images is not None:
        write_lines(directory / "images.txt", images)
    else:
        (directory / "images.txt").unlink(missing_ok=True)
    manifest.rows = shape[0]
    manifest.extra.setdefault("dim", int(shape[-1]))
    manifest.extra.setdefault("shape", list(shape))
    manifest.extra.setdefault("dtype", dtype)
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
    for name in ("ids.txt", "images.txt"):  # small: checked on every load (the tensors check themselves)
        check_file(directory, name, manifest.files)
    ids = read_lines(directory / "ids.txt")
    images = read_lines(directory / "images.txt") if (directory / "images.txt").exists() else None
    if len(ids) != feats.shape[0] or manifest.rows != feats.shape[0]:
        raise UserError(f"{where}inconsistent store: {feats.shape[0]} rows, {len(ids)} ids, manifest says "
                        f"{manifest.rows}", path=directory)
    if images is not None and len(images) != len(ids):
        raise UserError(f"{where}images.txt has {len(images)} lines for {len(ids)} rows", path=directory)
    dup = first_duplicate(ids)  # every reader (eval, search, distill) relies on unique ids
    if dup is not None:
        raise UserError(f"duplicate id {ids[dup[0]]!r} (first on line {dup[1] + 1})"
                        + (f" in the {flag} store" if flag else ""), path=directory / "ids.txt", line=dup[0] + 1)
    for name, rows in (("features", feats), *tensors.items()):  # every reader ranks or trains on these rows
        bad = first_bad_row(rows, zeros=name in ROW_TENSORS)
        if bad is not None:
            row, why = bad
            fix = ("the store is corrupt, rebuild it" if why == NONFINITE else
                   "nothing to rank or train on (a failed encoding?); rebuild the store or drop the row")
            raise UserError(f"{where}row {row} (id {ids[row]!r}, line {row + 1} of ids.txt) of {name!r} {why}; {fix}",
                            path=directory)
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

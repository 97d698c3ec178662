"""Bring your own embeddings: an `.npy` / `.safetensors` matrix + an id list → a cl2cm embedding store.

`eval --query-emb/--gallery-emb` reads stores (features.safetensors + ids.txt [+ images.txt] +
manifest.json). This turns the output of any other tool into one, so its retrieval quality is measured
by cl2cm's exact engine (the same ranks, ties and metrics as for cl2cm's own models). The layout is in
docs/formats.md, for users who prefer to write it by hand.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from cl2cm.artifacts.io import read_lines, remove_stale_temps, removed_if_left_empty, sha256_file
from cl2cm.artifacts.lock import output_lock
from cl2cm.artifacts.manifest import MANIFEST_NAME, Manifest, read_manifest
from cl2cm.artifacts.store import first_bad_row, first_duplicate, load_safetensors, save_store
from cl2cm.errors import UserError

SUFFIXES = (".npy", ".safetensors")


@dataclass
class ImportedEmbeddings:
    out: Path
    rows: int
    dim: int
    status: str  # "complete" or "already complete"
    queries: bool  # True when --images made it a query store (each row knows its visual id)


_NPY_HEADERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


def read_npy(path: Path) -> np.ndarray:
    """A numeric array from an .npy file, checked against the file before anything is allocated: the header
    is read alone, and the bytes its shape and dtype claim must be the bytes the file holds (a header that
    claims (10**8, 1000) is one line, not a 373 GiB allocation). Big-endian data is converted; object
    arrays (pickle) are refused."""
    try:
        with path.open("rb") as fh:
            version = np.lib.format.read_magic(fh)
            reader = _NPY_HEADERS.get(version)
            if reader is None:
                raise UserError(f"unsupported .npy format version {version[0]}.{version[1]} (1.0 and 2.0 are read)",
                                path=path)
            shape, fortran, dtype = reader(fh)
            offset = fh.tell()
            if dtype.hasobject or not np.issubdtype(dtype, np.number):
                raise UserError(f"not a numeric .npy array (dtype {dtype})", path=path)
            count = int(np.prod(shape, dtype=object))
            need, have = count * dtype.itemsize, path.stat().st_size - offset
            if need != have:
                raise UserError(f"the header says shape {tuple(shape)} of {dtype.str} ({need:,} bytes), the file "
                                f"holds {have:,} bytes of data: truncated or not what it claims", path=path)
            data = np.fromfile(fh, dtype=dtype, count=count)
    except ValueError as exc:  # a bad magic string or header
        raise UserError(f"not a numeric .npy array ({str(exc).splitlines()[0]})", path=path) from exc
    data = data.reshape(shape, order="F" if fortran else "C")
    if not dtype.isnative:
        data = data.astype(dtype.newbyteorder("="))  # big-endian (">f4"): converted to this machine's order
    return np.ascontiguousarray(data)


def read_matrix(path: str | Path, tensor: str | None = None) -> torch.Tensor:
    """A float [N, D] matrix from `.npy` (never unpickled) or `.safetensors` (one tensor, or `tensor`)."""
    path = Path(path)
    if not path.exists():
        raise UserError("file not found", path=path)
    if not path.is_file():
        raise UserError("is not a file, expected an .npy or .safetensors matrix", path=path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise UserError(f"expected a {' or '.join(SUFFIXES)} file, got {suffix or 'no suffix'!r}", path=path)
    if suffix == ".npy":
        if tensor is not None:
            raise UserError("--tensor names a tensor of a .safetensors file; an .npy holds one array", path=path)
        matrix = torch.from_numpy(read_npy(path))
    else:
        tensors = load_safetensors(path)
        if not tensors:
            raise UserError("holds no tensors", path=path)
        if tensor is None and len(tensors) != 1:
            raise UserError(f"holds {len(tensors)} tensors ({', '.join(sorted(tensors)) or 'none'}); pick one "
                            "with --tensor", path=path)
        name = tensor if tensor is not None else next(iter(tensors))
        if name not in tensors:
            raise UserError(f"--tensor {name!r}: not in the file (it has {', '.join(sorted(tensors))})", path=path)
        matrix = tensors[name]
    if matrix.ndim != 2 or matrix.shape[0] < 1 or matrix.shape[1] < 1:
        raise UserError(f"expected a [rows, dim] matrix, got shape {tuple(matrix.shape)}", path=path)
    if not matrix.is_floating_point():
        raise UserError(f"expected floating-point embeddings, got {str(matrix.dtype).replace('torch.', '')}",
                        path=path)
    bad = first_bad_row(matrix)
    if bad is not None:
        raise UserError(f"row {bad[0]} {bad[1]}", path=path)
    return matrix.float() if matrix.dtype not in (torch.float16, torch.float32) else matrix


def read_id_list(path: str | Path, rows: int, flag: str, *, unique: bool) -> list[str]:
    """One id per line for each of `rows` rows: no blank line, no id twice (when `unique`)."""
    path = Path(path)
    lines = read_lines(path)
    while lines and lines[-1] == "":  # a trailing newline, not an id
        lines.pop()
    if len(lines) != rows:
        raise UserError(f"{flag}: {len(lines)} lines for {rows} embedding rows", path=path)
    for i, line in enumerate(lines, 1):
        if not line.strip() or line != line.strip():
            raise UserError(f"{flag}: empty id or id with surrounding spaces {line!r}", path=path, line=i)
    dup = first_duplicate(lines) if unique else None
    if dup is not None:
        raise UserError(f"{flag}: duplicate id {lines[dup[0]]!r} (first on line {dup[1] + 1})", path=path,
                        line=dup[0] + 1)
    return lines


def import_embeddings(source: str | Path, ids: str | Path, out: str | Path, *, images: str | Path | None = None,
                      tensor: str | None = None, name: str | None = None, normalize: bool = False,
                      overwrite: bool = False) -> ImportedEmbeddings:
    """Write `out` as an `embeddings` store; the same command on a finished store is "already complete"."""
    source, ids, out = Path(source), Path(ids), Path(out)
    if out.exists() and not out.is_dir():
        raise UserError("exists and is not a directory", path=out)
    matrix = read_matrix(source, tensor)
    rows = int(matrix.shape[0])
    row_ids = read_id_list(ids, rows, "--ids", unique=True)
    visual = read_id_list(images, rows, "--images", unique=False) if images is not None else None
    inputs = {"embeddings": sha256_file(source), "ids": sha256_file(ids)}
    if images is not None:
        inputs["images"] = sha256_file(images)
    key = {"inputs": inputs, "tensor": tensor, "normalize": normalize, "name": name or source.stem}
    with removed_if_left_empty(out), output_lock(out):
        remove_stale_temps(out)  # the lock is ours: temp files here are a killed run's leftovers
        if (out / MANIFEST_NAME).exists():
            old = read_manifest(out)
            if old.kind == "embeddings" and old.extra.get("key") == json.loads(json.dumps(key)):
                return ImportedEmbeddings(out, old.rows, int(old.extra.get("dim", matrix.shape[1])),
                                          "already complete", visual is not None)
            if not overwrite:
                raise UserError("already holds another artifact; pass --overwrite to replace it", path=out)
        if normalize:
            matrix = torch.nn.functional.normalize(matrix.float(), dim=-1)
        manifest = Manifest(kind="embeddings", model={"name": key["name"], "backend": "imported"},
                            inputs={str(source): inputs["embeddings"], str(ids): inputs["ids"],
                                    **({str(images): inputs["images"]} if images is not None else {})},
                            extra={"key": key, "normalized": normalize, "source_format": source.suffix.lower()[1:],
                                   "normalization": "L2 (--normalize)" if normalize else "none (as imported)"})
        save_store(out, matrix, row_ids, manifest, images=visual)
    return ImportedEmbeddings(out, rows, int(matrix.shape[1]), "complete", visual is not None)

"""`cl2cm verify DIR`: check every byte of an artifact against the digests its manifest and its safetensors
headers recorded, and the values its readers would refuse (a module of its own: it reads manifests and
stores, which themselves use the checksums)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from cl2cm.artifacts.checksum import DIGEST_KEY, file_digest
from cl2cm.artifacts.io import read_lines
from cl2cm.artifacts.manifest import data_files, read_manifest
from cl2cm.artifacts.store import (
    FEATURES_FILE,
    ROW_TENSORS,
    first_bad_row,
    first_duplicate,
    load_safetensors,
    read_metadata,
)
from cl2cm.errors import UserError

IDS_FILE = "ids.txt"  # a store's row ids (`cl2cm.artifacts.store`)


@dataclass
class VerifyReport:
    """What `verify_artifact` checked, for the ok line."""

    recorded: int  # files checked against the digest the manifest recorded
    self_checked: int  # safetensors files checked against the digest in their own header
    tensor_files: int  # safetensors files read whole and value-checked (finite floats)
    has_digests: bool  # False for artifacts written before checksums
    unchecked: list[str] = field(default_factory=list)  # files with no recorded checksum at all


def _nonfinite_reason(tensors: dict[str, torch.Tensor], ids: list[str] | None) -> str | None:
    """Why a safetensors file's values would be refused by its reader, or None: NaN or infinity in any
    floating tensor (`first_bad_row`), and for a store's rows (`ids` given) an all-zero row too."""
    for name, tensor in tensors.items():
        bad = first_bad_row(tensor, zeros=ids is not None and name in ROW_TENSORS)
        if bad is None:
            continue
        row, why = bad
        ndim = tensor.ndim
        where = f" row {row}" if ndim >= 2 else f" element {row}" if ndim == 1 else ""
        if ids is not None and ndim >= 2 and row < len(ids):
            where += f" (id {ids[row]!r})"
        return f"tensor {name!r}{where} {why}"
    return None


def verify_artifact(directory: str | Path) -> VerifyReport:
    """Check an artifact in full, as its readers would and more: each data file against the digest its
    manifest recorded; every safetensors file under it (checkpoints too) against the digest in its own header
    and for non-finite values in any floating tensor (what `load_store`/`load_weights` refuse); a store's
    ids.txt for a duplicate id (what `load_store` refuses). Files with nothing to check their bytes against
    are listed in the report, not skipped silently.

    Raises one UserError listing what is damaged (file, and tensor/row/id or the duplicate id)."""
    directory = Path(directory)
    manifest = read_manifest(directory)
    damaged: dict[str, str] = {}
    for name, want in manifest.files.items():
        path = directory / name
        if not path.is_file():
            damaged[name] = "missing"
        elif file_digest(path) != want:
            damaged[name] = "checksum mismatch"
    ids: list[str] | None = None
    if (directory / IDS_FILE).is_file() and IDS_FILE not in damaged:
        try:
            ids = read_lines(directory / IDS_FILE)
        except UserError as exc:
            damaged[IDS_FILE] = str(exc).removeprefix(f"{directory / IDS_FILE}: ")
        else:
            dup = first_duplicate(ids)
            if dup is not None:
                damaged[IDS_FILE] = f"duplicate id {ids[dup[0]]!r} on line {dup[0] + 1}, first on line {dup[1] + 1}"
    unchecked = {path.relative_to(directory).as_posix() for path in data_files(directory)} - manifest.files.keys()
    self_checked = tensor_files = 0
    for path in sorted(directory.rglob("*.safetensors")):
        rel = path.relative_to(directory).as_posix()
        if rel in damaged or rel.startswith(".") or "/." in rel or not path.is_file():
            continue
        try:
            tensors = load_safetensors(path)
        except UserError as exc:
            damaged[rel] = str(exc).removeprefix(f"{path}: ").split(":")[0].split(" (")[0]
            continue
        if DIGEST_KEY in read_metadata(path):
            self_checked += 1
            unchecked.discard(rel)
        elif rel not in manifest.files:
            unchecked.add(rel)  # an old-style file outside the manifest (a checkpoint, say): values only
        tensor_files += 1
        why = _nonfinite_reason(tensors, ids if rel == FEATURES_FILE else None)
        if why is not None:
            damaged[rel] = why
    if damaged:
        total = len(manifest.files) + tensor_files
        listed = "; ".join(f"{name} ({why})" for name, why in damaged.items())
        raise UserError(f"{len(damaged)} damaged file(s): {listed} (of {total} checked); restore "
                        "or rebuild the artifact", path=directory)
    return VerifyReport(recorded=len(manifest.files), self_checked=self_checked, tensor_files=tensor_files,
                        has_digests=bool(manifest.files), unchecked=sorted(unchecked))

"""`cl2cm verify DIR`: check every byte of an artifact against the digests its manifest and its safetensors
headers recorded (a module of its own: it reads manifests and stores, which themselves use the checksums)."""

from __future__ import annotations

from pathlib import Path

from cl2cm.artifacts.checksum import file_digest
from cl2cm.artifacts.manifest import read_manifest
from cl2cm.artifacts.store import load_safetensors
from cl2cm.errors import UserError


def verify_artifact(directory: str | Path) -> tuple[int, int, bool]:
    """Check every byte of an artifact: each data file against the digest its manifest recorded, and every
    safetensors file under it (checkpoints too) against the digest in its own header.

    Returns (files checked against the manifest, self-checking tensor files, whether the manifest records
    digests at all: False for artifacts written before checksums). Raises one UserError listing what is
    damaged."""
    directory = Path(directory)
    manifest = read_manifest(directory)
    damaged: dict[str, str] = {}
    for name, want in manifest.files.items():
        path = directory / name
        if not path.is_file():
            damaged[name] = "missing"
        elif file_digest(path) != want:
            damaged[name] = "checksum mismatch"
    tensor_files = 0
    for path in sorted(directory.rglob("*.safetensors")):
        rel = path.relative_to(directory).as_posix()
        if rel in damaged or rel.startswith(".") or "/." in rel or not path.is_file():
            continue
        try:
            load_safetensors(path)
        except UserError as exc:
            damaged[rel] = str(exc).removeprefix(f"{path}: ").split(":")[0].split(" (")[0]
            continue
        tensor_files += 1
    if damaged:
        total = len(manifest.files) + tensor_files
        listed = "; ".join(f"{name} ({why})" for name, why in damaged.items())
        raise UserError(f"{len(damaged)} damaged file(s): {listed} (of {total} checked); restore "
                        "or rebuild the artifact", path=directory)
    return len(manifest.files), tensor_files, bool(manifest.files)

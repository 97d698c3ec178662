"""`manifest.json`: what made an artifact, from what, and whether it is complete.

Every artifact directory gets a manifest, written last: it is the commit marker. A directory without a
valid manifest is unfinished and is never read as a result. Readers validate the manifest against what the
caller expects (kind, model, dimension), so a feature store made by another model is a clear error.
"""

from __future__ import annotations

import contextlib
import json
import shlex
import sys
import time
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cl2cm._version import __version__
from cl2cm.artifacts.io import atomic_write_json, sha256_file
from cl2cm.errors import UserError

SCHEMA_VERSION = 1
MANIFEST_NAME = "manifest.json"


_command: ContextVar[list[str] | None] = ContextVar("cl2cm_command", default=None)


@contextlib.contextmanager
def recording_command(argv: list[str]) -> Iterator[None]:
    """Record `cl2cm <argv>` as the producing command of artifacts written inside the block.

    The CLI entry point and in-process callers (the demo, tests) run commands without touching sys.argv,
    so the manifest must be told which command is running.
    """
    token = _command.set(["cl2cm", *argv])
    try:
        yield
    finally:
        _command.reset(token)


def current_command() -> str:
    """The command line that is producing an artifact, as a copy-pastable string."""
    recorded = _command.get()
    if recorded is not None:
        return shlex.join(recorded)
    argv = list(sys.argv)
    if argv and argv[0].endswith(("cl2cm", "__main__.py")):
        argv[0] = "cl2cm"
    return shlex.join(argv)


# The JSON type of every manifest field (what `Manifest.from_dict` checks before trusting a value).
_FIELD_TYPES: dict[str, type] = {"kind": str, "rows": int, "model": dict, "inputs": dict, "extra": dict, "files": dict,
                                 "cl2cm_version": str, "command": str, "created": str}


@dataclass
class Manifest:
    """The provenance record of one artifact directory."""

    kind: str  # "captions", "translations", "features", "embeddings", "teacher", "student", ...
    rows: int = 0
    model: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, str] = field(default_factory=dict)  # path -> sha256
    extra: dict[str, Any] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)  # data file -> digest (`cl2cm.artifacts.checksum`)
    schema_version: int = SCHEMA_VERSION
    cl2cm_version: str = __version__
    command: str = field(default_factory=current_command)
    created: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S%z"))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], path: Path | None = None) -> Manifest:
        if not isinstance(data, dict) or "kind" not in data:
            raise UserError("not a cl2cm manifest (no 'kind')", path=path)
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            raise UserError(f"manifest schema version {version!r}, this cl2cm reads {SCHEMA_VERSION}", path=path)
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        for key, value in known.items():  # a hand-edited manifest: "rows": "500" is a mistake, not 500
            want = _FIELD_TYPES.get(key)
            if want is not None and (not isinstance(value, want) or isinstance(value, bool)):
                raise UserError(f"manifest field {key!r} is {type(value).__name__} {value!r}, expected "
                                f"{want.__name__}", path=path)
        if known.get("rows", 0) < 0:
            raise UserError(f"manifest field 'rows' is {known['rows']}, expected a count >= 0", path=path)
        return cls(**known)


def checksum_inputs(paths: dict[str, str | Path] | list[str | Path]) -> dict[str, str]:
    """sha256 of each input file (directories: of their manifest, which already pins their content)."""
    items = paths.items() if isinstance(paths, dict) else ((str(p), p) for p in paths)
    out: dict[str, str] = {}
    for name, p in items:
        p = Path(p)
        target = p / MANIFEST_NAME if p.is_dir() else p
        out[str(name)] = sha256_file(target) if target.exists() else "missing"
    return out


# Directories whose files a manifest does not record: resume state, not the artifact itself.
SKIP_DIRS = {".parts", "checkpoints"}


def data_files(directory: Path) -> Iterable[Path]:
    """The data files of an artifact directory whose digests its manifest records, sorted."""
    for path in sorted(directory.rglob("*")):
        rel = path.relative_to(directory)
        if not path.is_file() or path.is_symlink() or rel.parts[0] in SKIP_DIRS or rel.name == MANIFEST_NAME:
            continue
        if any(part.startswith(".") for part in rel.parts) or rel.name.endswith((".tmp", ".lock")):
            continue
        yield path


def record_files(directory: Path) -> dict[str, str]:
    """{relative path: digest} of every data file of `directory` (what `write_manifest` records)."""
    from cl2cm.artifacts.checksum import file_digest  # torch-free callers of this module stay torch-free

    return {path.relative_to(directory).as_posix(): file_digest(path) for path in data_files(directory)}


def write_manifest(directory: str | Path, manifest: Manifest) -> Path:
    """Commit an artifact: record the digest of each of its data files, then write the manifest (last)."""
    path = Path(directory) / MANIFEST_NAME
    manifest.files = record_files(Path(directory))
    atomic_write_json(path, manifest.to_dict())
    return path


def read_manifest(directory: str | Path, *, kind: str | tuple[str, ...] | None = None) -> Manifest:
    """Read and validate a directory's manifest; `kind` restricts which artifact kinds are accepted."""
    directory = Path(directory)
    if not directory.exists():
        raise UserError("directory not found", path=directory)
    path = directory / MANIFEST_NAME
    if not path.exists():
        raise UserError("no manifest.json: not a cl2cm artifact, or an unfinished one", path=directory)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"corrupt manifest ({exc})", path=path) from exc
    manifest = Manifest.from_dict(data, path)
    kinds = (kind,) if isinstance(kind, str) else kind
    if kinds and manifest.kind not in kinds:
        raise UserError(f"is a {manifest.kind!r} artifact, expected {' or '.join(kinds)}", path=directory)
    return manifest


def remove_manifest(directory: str | Path) -> None:
    """Un-commit an artifact before rewriting it, so a crash mid-rewrite never leaves a 'complete' mix."""
    (Path(directory) / MANIFEST_NAME).unlink(missing_ok=True)

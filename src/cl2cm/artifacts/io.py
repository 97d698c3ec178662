"""Atomic file writes and checksums.

Every artifact file is written to a temporary file in the same directory, flushed to disk and renamed over
its final name, so a reader never sees a half-written file: after a kill (or a full disk) the old file, or
no file, is there — never a truncated one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from cl2cm.errors import UserError


def current_umask() -> int:
    """The process umask, read without changing it (Linux /proc; else set-and-restore).

    Read at every write, not cached: a caller may change it, and the file must get what `open()` gives now.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def default_file_mode(*, executable: bool = False) -> int:
    """The mode a plain `open()` (0o666) or an executable (0o777) gets under the current umask."""
    return (0o777 if executable else 0o666) & ~current_umask()


def give_default_mode(*paths: str | Path) -> None:
    """chmod files to what `open()` gives under the umask: for writers that force 0600 themselves
    (safetensors' `save_file`, hence HF `save_pretrained`), whatever mode the file had before."""
    mode = default_file_mode()
    for path in paths:
        os.chmod(path, mode)


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w", encoding: str | None = "utf-8", *,
                executable: bool = False) -> Iterator[IO[Any]]:
    """Open a temporary sibling of `path` for writing; rename it over `path` only if the block succeeds.

    The file ends with the mode a plain `open()` would give (mkstemp's 0600 would hide every artifact from
    other users); `executable` gives what `chmod +x` under the umask gives (commands.sh).
    """
    path = Path(path)
    binary = "b" in mode
    fd, tmp = _mkstemp_beside(path, executable=executable)
    try:
        with os.fdopen(fd, mode, encoding=None if binary else encoding, newline=None if binary else "\n") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.filename is None and exc.errno is not None:
            # write()/fsync() errors carry no file name: name the artifact, so "disk full" says where
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        raise


def atomic_write_text(path: str | Path, text: str, *, executable: bool = False) -> None:
    with atomic_open(path, "w", executable=executable) as fh:
        fh.write(text)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_open(path, "wb") as fh:
        fh.write(data)


def atomic_write_json(path: str | Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=False) + "\n")


def atomic_replace_from(tmp_path: str | Path, path: str | Path) -> None:
    """Move an already-written temporary file into place (for writers such as safetensors' save_file)."""
    with open(tmp_path, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp_path, path)


def _mkstemp_beside(path: Path, *, executable: bool = False) -> tuple[int, str]:
    """mkstemp next to `path`; failing (read-only, disk full, a file where a directory should be) names `path`.

    The temp file's random name means nothing to the user: "m.json: Read-only file system" does. It gets the
    umask's mode at once, so whatever writes into it afterwards (safetensors, PIL, matplotlib) and the rename
    keep that mode.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            os.fchmod(fd, default_file_mode(executable=executable))
        except BaseException:
            os.close(fd)
            os.unlink(tmp)
            raise
        return fd, tmp
    except FileExistsError as exc:  # mkdir: a regular file sits where a parent directory should be
        raise UserError(f"cannot write here: {exc.filename} is a file, not a directory", path=path) from exc
    except NotADirectoryError as exc:
        raise UserError("cannot write here: a parent of it is a file, not a directory", path=path) from exc
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, str(path)) from exc


def temp_sibling(path: str | Path) -> Path:
    """A fresh temporary path next to `path` (same filesystem, so rename is atomic)."""
    fd, tmp = _mkstemp_beside(Path(path))
    os.close(fd)
    return Path(tmp)


def check_output_path(path: str | Path | None, flag: str, *, directory: bool = False) -> None:
    """Refuse, before any work, an output path that cannot be what `flag` asks for.

    A file output (`eval --out m.json`) must not be an existing directory; a directory output must not be
    an existing file; and no parent may be a regular file (`--out afile/m.json`). One line naming the flag
    and the path, exit 2, instead of IsADirectoryError / FileExistsError after minutes of work.
    """
    if path is None:
        return
    path = Path(path)
    if path.is_dir() and not directory:
        raise UserError(f"{flag}: is a directory, expected a file path", path=path)
    if path.exists() and not path.is_dir() and directory:
        raise UserError(f"{flag}: is a file, expected a directory", path=path)
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise UserError(f"{flag}: {parent} is a file, not a directory", path=path)
            break


# `temp_sibling`/`atomic_open` names: "." + final name + "." + mkstemp's 8 random characters + ".tmp"
_TEMP_RE = re.compile(r"^\..+\.[A-Za-z0-9_]{8}\.tmp$")


def remove_stale_temps(directory: str | Path) -> list[Path]:
    """Delete the temp files a killed atomic write left in `directory` (not in subdirectories).

    Call it only while holding the directory's output lock: then no live writer owns any of them, so every
    one is the leftover of a dead run (SIGKILL during the final merge), and a finished artifact never keeps
    one. Returns what was removed.
    """
    removed: list[Path] = []
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        for entry in os.scandir(directory):
            if _TEMP_RE.match(entry.name) and entry.is_file(follow_symlinks=False):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
                    removed.append(Path(entry.path))
    return removed


@contextlib.contextmanager
def atomic_dir(out: str | Path) -> Iterator[Path]:
    """Fill a temp sibling directory, then rename it to `out`: the directory appears whole or not at all.
    An existing `out` is an error unless it is empty (never half-overwrite someone's directory)."""
    import shutil

    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserError("output exists and is not an empty directory", path=out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        yield tmp
        os.chmod(tmp, default_file_mode(executable=True))  # mkdtemp makes 0700: give what mkdir gives
        for child in tmp.iterdir():  # and what open() gives (writers such as safetensors force 0600)
            os.chmod(child, default_file_mode(executable=child.is_dir()))
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def removed_if_left_empty(directory: str | Path, *, resumable: str | None = None) -> Iterator[None]:
    """If the block fails, remove `directory` again when the block created it and left it empty.

    A run that fails on a user mistake discovered late (a bad --model, say) must not leave an empty OUT
    behind that looks like a started artifact. `resumable` (a path inside `directory`, e.g. a training
    stage's last checkpoint): on a user mistake the block's whole output goes too, as long as that path was
    never written (caches of tokens or teacher embeddings are not a run to resume); an interruption or
    an I/O error keeps it.
    """
    directory = Path(directory)
    existed = directory.exists()
    try:
        yield
    except BaseException as exc:
        if not existed:
            if isinstance(exc, UserError) and resumable is not None and not (directory / resumable).exists():
                shutil.rmtree(directory, ignore_errors=True)
            with contextlib.suppress(OSError):
                directory.rmdir()  # only succeeds when empty
        raise


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes (inputs are identified by content, not by name or mtime)."""
    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            while block := fh.read(chunk):
                h.update(block)
    except FileNotFoundError as exc:
        raise UserError("file not found", path=path) from exc
    return h.hexdigest()


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def write_lines(path: str | Path, lines: list[str]) -> None:
    """Write one item per line atomically (ids.txt, images.txt)."""
    for i, line in enumerate(lines):
        if "\n" in line or "\r" in line:
            raise UserError(f"id {line!r} (row {i}) contains a line break", path=path)
    atomic_write_text(path, "".join(f"{line}\n" for line in lines))


def read_lines(path: str | Path) -> list[str]:
    """Read a one-item-per-line file, tolerating CRLF and a UTF-8 BOM."""
    return list(iter_lines(path))


def iter_lines(path: str | Path) -> Iterator[str]:
    """`read_lines` one line at a time: memory holds one line, never the file (streaming readers).

    Lines end at "\\n" only (one trailing "\\r" dropped); a BOM opening the file is dropped; invalid UTF-8 is a
    UserError naming the line. "\\n" never occurs inside a multi-byte UTF-8 sequence, so decoding line by line
    accepts and rejects exactly what decoding the whole file does.
    """
    path = Path(path)
    try:
        fh = path.open("rb")
    except FileNotFoundError as exc:
        raise UserError("file not found", path=path) from exc
    except IsADirectoryError as exc:
        raise UserError("is a directory, expected a file", path=path) from exc
    with fh:
        for i, raw in enumerate(fh, 1):
            if i == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
                if not raw:  # the BOM was the whole file
                    return
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise UserError("invalid UTF-8", path=path, line=i) from exc
            if line.endswith("\n"):
                line = line[:-1]
            yield line[:-1] if line.endswith("\r") else line

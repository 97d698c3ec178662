"""An output-directory lock, so two runs never write the same artifact at once.

`OUT/.cl2cm.lock` is held with a kernel lock (`filelock`: flock on POSIX), which the kernel releases
when its owner exits however it dies (SIGKILL included), so there is no staleness to guess: a lock file
left behind by a dead run is simply free. The holder writes its pid and host into the file, only for the
message the second run prints. The file is removed while still held, on the way out; a run that locks a
file somebody removed meanwhile (it opened the old one just before) notices that the path no longer is
the file it holds and tries again, so two runs never both hold the output.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from cl2cm.errors import UserError

LOCK_NAME = ".cl2cm.lock"
_ATTEMPTS = 20  # a lock file removed under us this often in a row means something else is wrong


def _owner(path: Path) -> str:
    """'pid N on HOST' from a held lock file, as far as it can be read (the holder may still be writing)."""
    try:
        owner = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        owner = None
    if not isinstance(owner, dict):
        return "pid ? on ?"
    return f"pid {owner.get('pid', '?')} on {owner.get('host', '?')}"


def _holds(lock: FileLock, path: Path) -> bool:
    """Whether the locked file is still the one at `path` (not removed by the previous holder's exit)."""
    fd = getattr(getattr(lock, "_context", None), "lock_file_fd", None)
    try:
        now = os.stat(path)
    except FileNotFoundError:
        return False
    if fd is None:  # a filelock without the descriptor to compare: trust the path
        return True
    held = os.fstat(fd)
    return (held.st_dev, held.st_ino) == (now.st_dev, now.st_ino)


def _acquire(directory: Path, path: Path) -> FileLock:
    for _ in range(_ATTEMPTS):
        # preserve_lock_file: filelock must never remove the path itself (it may be the next holder's file by then)
        lock = FileLock(str(path), timeout=0, thread_local=False, preserve_lock_file=True)
        try:
            lock.acquire()
        except Timeout:
            raise UserError(f"is in use by another cl2cm run ({_owner(path)}); wait for it to finish or stop it",
                            path=directory) from None
        except OSError as exc:
            raise UserError(f"cannot write to output directory ({exc.strerror})", path=directory) from exc
        if _holds(lock, path):
            return lock
        lock.release()
    raise UserError("its lock file keeps disappearing; is another program deleting it?", path=directory)


@contextlib.contextmanager
def output_lock(directory: str | Path) -> Iterator[Path]:
    """Hold `directory/.cl2cm.lock` for the duration of the block."""
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create output directory ({exc.strerror})", path=directory) from exc
    path = directory / LOCK_NAME
    lock = _acquire(directory, path)
    try:
        try:
            with open(path, "w", encoding="utf-8") as fh:
                json.dump({"pid": os.getpid(), "host": socket.gethostname()}, fh)
        except OSError as exc:  # e.g. a disk already full: name the output, leave no lock behind
            raise OSError(exc.errno, exc.strerror, str(directory)) from exc
        yield path
    finally:
        with contextlib.suppress(OSError):
            path.unlink()  # while still held: the next run creates a fresh file
        lock.release()

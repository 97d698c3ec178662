"""An output-directory lock, so two runs never write the same artifact at once.

The lock file holds the owner's pid and host. A lock left by a process that no longer exists on this host
is stale and is taken over; a live one makes the second run fail with a clear message.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

from cl2cm.errors import UserError

LOCK_NAME = ".cl2cm.lock"


# An owner writes its pid right after creating the lock; an empty or unreadable lock older than this was
# left by a run killed in between.
WRITE_GRACE_S = 10.0


def _age(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        return 0.0


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def output_lock(directory: str | Path) -> Iterator[Path]:
    """Hold `directory/.cl2cm.lock` for the duration of the block."""
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create output directory ({exc.strerror})", path=directory) from exc
    path = directory / LOCK_NAME
    me = {"pid": os.getpid(), "host": socket.gethostname()}
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                owner = json.loads(path.read_text())
            except (OSError, ValueError):
                owner = {}
            if not isinstance(owner, dict):
                owner = {}
            pid, host = owner.get("pid"), owner.get("host")
            if host == me["host"] and isinstance(pid, int) and not _pid_alive(pid):
                path.unlink(missing_ok=True)  # stale: its process is gone
                continue
            if not owner and _age(path) > WRITE_GRACE_S:
                path.unlink(missing_ok=True)  # stale: its owner was killed between creating it and writing it
                continue
            raise UserError(
                f"is in use by another cl2cm run (pid {pid} on {host}); "
                f"if that run is dead, delete {path}",
                path=directory,
            ) from None
        except OSError as exc:
            raise UserError(f"cannot write to output directory ({exc.strerror})", path=directory) from exc
        with os.fdopen(fd, "w") as fh:
            json.dump(me, fh)
        break
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)

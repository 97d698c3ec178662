"""Ctrl-C (and SIGTERM) that cannot be lost.

Python turns SIGINT into a KeyboardInterrupt wherever the main thread happens to be. When that is a
`__del__` or a weakref callback (the regex package's `Group.__del__` runs during transformers' import),
the interpreter prints "Exception ignored in ..." and carries on: a `cl2cm serve` interrupted while it
starts would then serve forever. The handler below also records the signal, so the places that start
something long (the server loop, each training step, the end of a command) can honour an interrupt that
was swallowed on the way. Torch-free on purpose: `__main__` installs it before any heavy import.

SIGTERM (`kill`, a scheduler's time limit, `docker stop`, systemd, torchrun stopping the other ranks when
one failed) is the same interruption, raised as `Terminated` (a KeyboardInterrupt, so every cleanup that
handles Ctrl-C handles it too); the command line reports it with its own line and exit code 143. Only the
process that installed the handlers acts on SIGTERM: a forked child that inherited them dies of it as
before (DataLoader workers replace it anyway: torch's own handler exits quietly when the parent sends it).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from types import FrameType
from typing import Any


class Terminated(KeyboardInterrupt):
    """SIGTERM: ends the command like Ctrl-C (same cleanup, resumable), reported as terminated (exit 143)."""


_received: int = 0  # the signal that arrived and was not yet acted upon (SIGINT or SIGTERM), 0 if none
_owner_pid: int | None = None  # the process that installed the handlers (SIGTERM is acted upon only there)
_default_unraisablehook = sys.unraisablehook


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    global _received
    _received = signal.SIGINT
    raise KeyboardInterrupt


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    global _received
    if os.getpid() != _owner_pid:  # a forked child inherited the handler: it dies of the signal, as before
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
        return
    _received = signal.SIGTERM
    # `systemctl stop`, `scancel`, `kill -TERM -PGID` signal the DataLoader workers too, and torch's worker
    # handler dies of SIGTERM unless its parent sent it: the loader's SIGCHLD handler would then raise
    # "worker is killed by signal: Terminated" into our cleanup. We are stopping them anyway: drop the report.
    if getattr(signal.getsignal(signal.SIGCHLD), "__module__", "").startswith("torch.utils.data"):
        signal.signal(signal.SIGCHLD, _child_ended)  # not SIG_DFL: a pending SIGCHLD would then be "ignored
        # due to race condition", printed as an unraisable OSError
    raise Terminated


def _child_ended(signum: int, frame: FrameType | None) -> None:
    """SIGCHLD while terminating: nothing to report (the children are waited for as usual)."""


def _unraisable(info: Any) -> None:
    """A KeyboardInterrupt that Python could not raise is kept for `check`, not printed as a traceback."""
    if info.exc_type is not None and issubclass(info.exc_type, KeyboardInterrupt):
        global _received
        _received = signal.SIGTERM if issubclass(info.exc_type, Terminated) else (_received or signal.SIGINT)
        return
    _default_unraisablehook(info)


def install() -> None:
    """Route SIGINT and SIGTERM through the recording handlers (main thread only; elsewhere a no-op).

    Only replaces the default handlers: a handler someone else installed (a test runner, an embedding
    application, `cl2cm serve` while it serves) is left alone. Swallowed KeyboardInterrupts ("Exception
    ignored in ...") are recorded too and not printed: the command reports the interrupt in its one line
    when it ends."""
    global _owner_pid
    if threading.current_thread() is not threading.main_thread():
        return
    _owner_pid = os.getpid()
    if signal.getsignal(signal.SIGINT) in (signal.default_int_handler, _on_sigint):
        signal.signal(signal.SIGINT, _on_sigint)
        if sys.unraisablehook is _default_unraisablehook:
            sys.unraisablehook = _unraisable
    if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, _on_sigterm):
        signal.signal(signal.SIGTERM, _on_sigterm)


def received() -> bool:
    """True once SIGINT or SIGTERM arrived through `install`'s handlers, whether or not its exception got
    through."""
    return bool(_received)


def clear() -> None:
    """The interrupt was acted upon (the command ended, or the server stopped as asked)."""
    global _received
    _received = 0


def check() -> None:
    """Raise KeyboardInterrupt (`Terminated` for SIGTERM) if a signal arrived and was not yet acted upon
    (`clear`), e.g. because a swallowing context ate it; called where stopping is clean. The flag stays set
    until `clear`, so the command line's end (`cl2cm.cli.main`) still reports it after the parser turned it
    into exit code 130."""
    if _received == signal.SIGTERM:
        raise Terminated
    if _received:
        raise KeyboardInterrupt

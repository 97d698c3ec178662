"""Ctrl-C that cannot be lost.

Python turns SIGINT into a KeyboardInterrupt wherever the main thread happens to be. When that is a
`__del__` or a weakref callback (the regex package's `Group.__del__` runs during transformers' import),
the interpreter prints "Exception ignored in ..." and carries on: a `cl2cm serve` interrupted while it
starts would then serve forever. The handler below also records the signal, so the places that start
something long (the server loop, each training step, the end of a command) can honour an interrupt that
was swallowed on the way. Torch-free on purpose: `__main__` installs it before any heavy import.
"""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType
from typing import Any

_received = False
_default_unraisablehook = sys.unraisablehook


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    global _received
    _received = True
    raise KeyboardInterrupt


def _unraisable(info: Any) -> None:
    """A KeyboardInterrupt that Python could not raise is kept for `check`, not printed as a traceback."""
    if info.exc_type is not None and issubclass(info.exc_type, KeyboardInterrupt):
        global _received
        _received = True
        return
    _default_unraisablehook(info)


def install() -> None:
    """Route SIGINT through the recording handler (main thread only; elsewhere a no-op).

    Only replaces Python's default handler: a handler someone else installed (a test runner, an
    embedding application) is left alone. Swallowed KeyboardInterrupts ("Exception ignored in ...") are
    recorded too and not printed: the command reports the interrupt in its one line when it ends."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGINT) in (signal.default_int_handler, _on_sigint):
        signal.signal(signal.SIGINT, _on_sigint)
        if sys.unraisablehook is _default_unraisablehook:
            sys.unraisablehook = _unraisable


def received() -> bool:
    """True once SIGINT arrived through `install`'s handler, whether or not its exception got through."""
    return _received


def clear() -> None:
    """The interrupt was acted upon (the command ended, or the server stopped as asked)."""
    global _received
    _received = False


def check() -> None:
    """Raise KeyboardInterrupt if SIGINT arrived and was not yet acted upon (`clear`), e.g. because a
    swallowing context ate it; called where stopping is clean. The flag stays set until `clear`, so the
    command line's end (`cl2cm.cli.main`) still reports it after the parser turned it into exit code 130."""
    if _received:
        raise KeyboardInterrupt

"""A Ctrl-C that lands inside a `__del__` is swallowed by Python; `cl2cm.interrupts` keeps it."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

_SWALLOW = textwrap.dedent("""
    import os, signal, sys
    from cl2cm import interrupts
    {install}
    class Eater:
        def __del__(self):
            os.kill(os.getpid(), signal.{signal})  # the handler runs here: its exception is "ignored"
            for _ in range(1000):
                pass
    Eater()
    print("carried on", interrupts.received(), flush=True)
    try:
        interrupts.check()
    except KeyboardInterrupt as exc:
        print("check raised", interrupts.received(), type(exc).__name__, flush=True)
    interrupts.clear()
    interrupts.check()
    print("second check passes", flush=True)
""")


def _run(install: str, signal: str = "SIGINT") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", _SWALLOW.format(install=install, signal=signal)],
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(("signal", "raised"), [("SIGINT", "KeyboardInterrupt"), ("SIGTERM", "Terminated")])
def test_an_interrupt_swallowed_by_a_del_is_raised_by_check_until_cleared(signal: str, raised: str) -> None:
    out = _run("interrupts.install()", signal)
    assert out.stderr == ""  # no "Exception ignored ... Traceback": the command's one line says it later
    assert out.stdout.splitlines() == ["carried on True", f"check raised True {raised}", "second check passes"]


def test_without_the_handler_the_interrupt_is_lost() -> None:
    """The failure the module exists for: Python's own handler leaves no trace once the exception is eaten."""
    out = _run("")
    assert "Exception ignored" in out.stderr and "KeyboardInterrupt" in out.stderr  # Python did swallow it
    assert out.stdout.splitlines() == ["carried on False", "second check passes"]


def test_install_leaves_a_foreign_handler_alone() -> None:
    import signal

    from cl2cm import interrupts

    def mine(signum: int, frame: object) -> None:
        pass

    previous, hook = signal.signal(signal.SIGINT, mine), sys.unraisablehook
    try:
        interrupts.install()
        assert signal.getsignal(signal.SIGINT) is mine and sys.unraisablehook is hook
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.mark.parametrize("argv", [["--version"]])
def test_main_installs_the_handler_and_a_normal_end_keeps_no_interrupt(argv: list[str]) -> None:
    code = ("import signal; from cl2cm.cli import main; from cl2cm import interrupts\n"
            f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
            "print(signal.getsignal(signal.SIGINT) is interrupts._on_sigint,\n"
            "      signal.getsignal(signal.SIGTERM) is interrupts._on_sigterm, interrupts.received())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip().splitlines()[-1] == "True True False", out

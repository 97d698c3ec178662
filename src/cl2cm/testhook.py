"""Test hook: stop the process at a known commit point, so kill-and-resume tests never race the clock.

``CL2CM_TEST_PAUSE_AT=<what>:<n>`` makes the process stop itself (SIGSTOP) right after its n-th commit
(counted in this process) of <what>: a chunk of the parts directory <what> (``de`` for translate to
German, ``features`` for extract-features: every `artifacts.chunks.ChunkedRun` write) or ``epoch``, a
training checkpoint (``checkpoints/last.safetensors`` of that epoch). Unset, which it always is outside
the tests, the hook does nothing. The test side is `paused`: it starts a command with the variable set,
waits for the stop, hands over the stopped process (a live holder of its output lock) and SIGKILLs it
afterwards, at exactly that point. docs/reliability.md lists the tests that use it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

PAUSE_ENV = "CL2CM_TEST_PAUSE_AT"
_commits: Counter[str] = Counter()


def committed(what: str) -> None:
    """One more `what` is on disk for good; stop here if CL2CM_TEST_PAUSE_AT names this commit."""
    spec = os.environ.get(PAUSE_ENV)
    if not spec:
        return
    _commits[what] += 1
    if spec == f"{what}:{_commits[what]}":
        os.kill(os.getpid(), signal.SIGSTOP)


@contextmanager
def paused(cmd: list[str], at: str, *, env: Mapping[str, str] | None = None, timeout: float = 180,
           start_new_session: bool = False) -> Iterator[subprocess.Popen[bytes]]:
    """Start `cmd` with CL2CM_TEST_PAUSE_AT=`at` and yield it once it has stopped there; SIGKILL it on exit.

    A run that ends (or hangs) before its pause point is an AssertionError with its stderr: never a skip.
    `start_new_session`: its own process group (pid = pgid), for tests that signal it with its children."""
    proc = subprocess.Popen(cmd, env={**(os.environ if env is None else env), PAUSE_ENV: at},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=start_new_session)
    try:
        deadline = time.monotonic() + timeout
        info = None
        while info is None and time.monotonic() < deadline:  # WNOWAIT: Popen still reaps it below
            info = os.waitid(os.P_PID, proc.pid, os.WSTOPPED | os.WEXITED | os.WNOWAIT | os.WNOHANG)
            if info is None:
                time.sleep(0.01)
        if info is None or info.si_code != os.CLD_STOPPED:
            if info is None:
                proc.kill()
            proc.wait()
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            raise AssertionError(f"{' '.join(cmd[:4])} ... {'hung' if info is None else 'ended'} before its "
                                 f"pause point {at} (exit {proc.returncode}): {err[-2000:]}")
        yield proc
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        if proc.stderr:
            proc.stderr.close()

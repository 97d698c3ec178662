"""The kill-point test hook (`cl2cm.testhook`): inert unless set, stops at exactly the named commit, and a
run that never reaches its pause point fails the test (it cannot be skipped)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from cl2cm.testhook import PAUSE_ENV, paused

# Commits 5 chunks of "de", printing how many it has committed after each.
COMMITS = ("from cl2cm import testhook\nfor i in range(5):\n    testhook.committed('de')\n"
           "    print(i + 1, flush=True)\n")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != PAUSE_ENV}
    env["PYTHONPATH"] = os.pathsep.join(sys.path)
    return {**env, **extra}


def test_unset_the_hook_does_nothing() -> None:
    res = subprocess.run([sys.executable, "-c", COMMITS], env=_env(), capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and res.stdout.split() == ["1", "2", "3", "4", "5"], res.stderr


@pytest.mark.parametrize("at", ["de:9", "features:3", "de"])
def test_other_names_and_counts_do_not_stop(at: str) -> None:
    res = subprocess.run([sys.executable, "-c", COMMITS], env=_env(**{PAUSE_ENV: at}), capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0 and res.stdout.split() == ["1", "2", "3", "4", "5"], res.stderr


def test_paused_stops_right_after_the_named_commit_then_kills(tmp_path) -> None:
    log = tmp_path / "log"
    script = COMMITS.replace("print(i + 1, flush=True)", f"open({str(log)!r}, 'a').write(f'{{i + 1}}\\n')")
    with paused([sys.executable, "-c", script], "de:3", env=_env()) as proc:
        assert proc.returncode is None  # alive, stopped
        assert log.read_text().split() == ["1", "2"]  # stopped after commit 3, before its line
    assert proc.returncode == -9 and log.read_text().split() == ["1", "2"]


def test_a_run_that_ends_before_its_pause_point_fails() -> None:
    with pytest.raises(AssertionError, match="ended before its pause point de:9"), \
            paused([sys.executable, "-c", COMMITS], "de:9", env=_env()):
        pass

"""Two runs writing one output directory: the second is refused; a dead run's lock is free at once."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hardening_helpers import World, paused, run_main

from cl2cm.artifacts.lock import LOCK_NAME, output_lock
from cl2cm.features.bigfile import write_bigfile

IN_USE = "in use by another cl2cm run"
# Flags that make a rerun over a finished artifact rewrite it (translate would reuse a same-options one).
REWRITE = {"translate": ["--noise", "0.3", "--overwrite"], "extract-features": ["--overwrite"]}


def _argv(cmd: str, world: World, out: Path, tmp_path: Path) -> list[str]:
    """A run of `cmd` that writes `out` (every command that writes an output directory)."""
    if cmd in ("translate", "extract-features", "train-teacher", "distill"):
        return world.argv(cmd, out) + REWRITE.get(cmd, [])
    if cmd == "demo --generate":
        return ["demo", "--generate", str(out), "--train", "3", "--val", "2", "--test", "2", "--quiet"]
    if cmd == "import-bigfile":
        src = write_bigfile(tmp_path / "bigfile", ["a", "b", "c"], np.eye(3, 4, dtype=np.float32))
        return ["import-bigfile", str(src), "--out", str(out), "--quiet"]
    if cmd == "eval --save-embeddings":
        return ["eval", "--model", str(world.ref / "distill"), "--captions", str(world.ref / "translate" / "de.jsonl"),
                "--features", str(world.ref / "extract-features"), "--save-embeddings", str(out), "--quiet",
                "--device", "cpu"]
    raise ValueError(cmd)


def _files(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


COMMANDS = ["translate", "extract-features", "train-teacher", "distill", "demo --generate", "import-bigfile",
            "eval --save-embeddings"]


@pytest.mark.parametrize(("cmd", "fresh"), [(c, False) for c in COMMANDS] + [("translate", True)])
def test_every_writing_command_holds_the_lock(cmd: str, fresh: bool, world: World, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """A live lock (this test process) on OUT: the command exits 2 naming it and leaves OUT as it was.

    `fresh`: an empty OUT (translate once refused only when merging, after all the work, and exited 0)."""
    out = tmp_path / "out"
    ref = world.ref / cmd
    if ref.exists() and not fresh:  # a finished artifact under the lock must survive the refused run untouched
        shutil.copytree(ref, out)
    with output_lock(out):  # held by this process: the command's own lock is another open file, refused
        before = _files(out)
        code = run_main(_argv(cmd, world, out, tmp_path))
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1 and IN_USE in err and f"pid {os.getpid()}" in err, err
        assert _files(out) == before


def test_second_run_refused_while_the_first_runs_then_stale_lock_taken_over(world: World, tmp_path: Path,
                                                                           capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "teacher"
    argv = world.argv("train-teacher", out)
    with paused(argv, "epoch:1") as first:  # stopped after its first epoch, alive, holding the lock
        assert run_main(argv) == 2
        err = capsys.readouterr().err
        assert IN_USE in err and f"pid {first.pid}" in err and err.count("\n") == 1, err
    # SIGKILLed on leaving the block, while it held the lock: its lock file stays behind, stale.
    assert json.loads((out / LOCK_NAME).read_text())["pid"] == first.pid
    assert run_main(world.argv("train-teacher", out, resume=True)) == 0  # the dead run's lock is taken over
    assert (out / "manifest.json").exists() and not (out / LOCK_NAME).exists()


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_lock_of_a_dead_process_is_stale(world: World, tmp_path: Path) -> None:
    out = tmp_path / "mt"
    out.mkdir()
    (out / LOCK_NAME).write_text(json.dumps({"pid": _dead_pid(), "host": socket.gethostname()}))
    assert run_main(world.argv("translate", out)) == 0
    assert (out / "de.jsonl").read_bytes() == (world.ref / "translate" / "de.jsonl").read_bytes()
    assert not (out / LOCK_NAME).exists()


@pytest.mark.parametrize("content", ["", "[1]", "{\"pid\": ", json.dumps({"pid": 10**30, "host": "x"}),
                                     json.dumps({"pid": 1, "host": "some-other-node"})])
def test_a_lock_file_nobody_holds_is_free(content: str, world: World, tmp_path: Path) -> None:
    """Whatever a left-over lock file says (empty after a kill right after creating it, garbage, an absurd
    pid, another host), only a held kernel lock refuses: no staleness guess, no pid arithmetic."""
    out = tmp_path / "mt"
    out.mkdir()
    (out / LOCK_NAME).write_text(content)
    assert run_main(world.argv("translate", out)) == 0
    assert not (out / LOCK_NAME).exists()


_RACER = """
import sys, time
from pathlib import Path
from cl2cm.artifacts.lock import output_lock
from cl2cm.errors import UserError
out, start = Path(sys.argv[1]), float(sys.argv[2])
_read = Path.read_text
def slow_read(self, *args, **kwargs):  # a slow filesystem: whoever reads the lock acts on it 0.2 s later
    text = _read(self, *args, **kwargs)
    if self.name == ".cl2cm.lock":
        time.sleep(0.2)
    return text
Path.read_text = slow_read
while time.time() < start:
    pass
try:
    with output_lock(out):
        log = out.parent / "holders.log"
        with open(log, "a") as fh:
            fh.write(f"+{time.time()}\\n")
        time.sleep(0.3)
        with open(log, "a") as fh:
            fh.write(f"-{time.time()}\\n")
    print("held")
except UserError:
    print("refused")
"""


def test_runs_racing_for_a_stale_lock_never_both_hold_it(tmp_path: Path) -> None:
    """The old takeover's race: several runs find the same stale lock at the same moment (reading it is made
    slow, so each acts on what it read late); each one that gets the output must have it alone (holding
    intervals never overlap), and at least one gets it. The pid-file lock failed this: a late reader
    unlinked the winner's fresh lock as stale and took the output too."""
    out = tmp_path / "out"
    out.mkdir()
    for _ in range(3):  # a few rounds: a race shows up only sometimes
        (out / LOCK_NAME).write_text(json.dumps({"pid": _dead_pid(), "host": socket.gethostname()}))
        (tmp_path / "holders.log").unlink(missing_ok=True)
        start = time.time() + 1.5
        procs = [subprocess.Popen([sys.executable, "-c", _RACER, str(out), str(start)], stdout=subprocess.PIPE,
                                  text=True) for _ in range(6)]
        outcomes = [p.communicate(timeout=60)[0].strip() for p in procs]
        assert set(outcomes) <= {"held", "refused"} and "held" in outcomes, outcomes
        events = sorted((float(line[1:]), line[0]) for line in (tmp_path / "holders.log").read_text().split())
        depth = 0
        for _, kind in events:
            depth += 1 if kind == "+" else -1
            assert depth <= 1, events  # two holders at once
        assert not (out / LOCK_NAME).exists()

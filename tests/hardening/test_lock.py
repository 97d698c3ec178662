"""Two runs writing one output directory: the second is refused; a dead run's lock is taken over."""

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
from hardening_helpers import World, kill_when, run_main, start

from cl2cm.artifacts.lock import LOCK_NAME
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
    out.mkdir(exist_ok=True)
    (out / LOCK_NAME).write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname()}))
    before = _files(out)
    code = run_main(_argv(cmd, world, out, tmp_path))
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and IN_USE in err and f"pid {os.getpid()}" in err, err
    assert _files(out) == before


def test_second_run_refused_while_the_first_runs_then_stale_lock_taken_over(world: World, tmp_path: Path,
                                                                           capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "teacher"
    argv = world.argv("train-teacher", out)
    first = start(argv)
    try:
        deadline = time.monotonic() + 120
        while not (out / LOCK_NAME).exists() and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        assert first.poll() is None, "the first run ended before it could be raced"
        assert run_main(argv) == 2
        err = capsys.readouterr().err
        assert IN_USE in err and f"pid {first.pid}" in err and err.count("\n") == 1, err
    finally:
        # Kill the first run while it holds the lock: its lock file stays behind, stale.
        kill_when(first, lambda: True)
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


def test_lock_from_another_host_is_not_guessed_stale(world: World, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """A pid on another host cannot be checked from here (shared filesystems): refuse, say how to clear it."""
    out = tmp_path / "mt"
    out.mkdir()
    (out / LOCK_NAME).write_text(json.dumps({"pid": _dead_pid(), "host": "some-other-node"}))
    assert run_main(world.argv("translate", out)) == 2
    err = capsys.readouterr().err
    assert IN_USE in err and "some-other-node" in err and f"delete {out / LOCK_NAME}" in err


@pytest.mark.parametrize("content", ["", "[1]", "{\"pid\": "])
def test_empty_lock_left_by_a_kill_between_create_and_write_is_stale(content: str, world: World, tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """A SIGKILL right after O_EXCL creation leaves an empty lock file: once it is old, it is stale too."""
    out = tmp_path / "mt"
    out.mkdir()
    lock = out / LOCK_NAME
    lock.write_text(content)
    assert run_main(world.argv("translate", out)) == 2  # fresh: its owner may be writing its pid right now
    assert IN_USE in capsys.readouterr().err
    old = time.time() - 120
    os.utime(lock, (old, old))
    assert run_main(world.argv("translate", out)) == 0
    assert not lock.exists()

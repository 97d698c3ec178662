"""SIGKILL every long stage mid-run, rerun until it completes: the artifact equals an uninterrupted run's.

Default suite: one kill point per stage, right after its first chunks / its first epoch checkpoint are
committed (the test hook `cl2cm.testhook` stops the run there; no timing, no skip).
`-m slow`: a seeded sweep of random kill delays per stage, each killed run rerun (and possibly killed
again) until it completes. Translations and feature stores are compared byte for byte / tensor for
tensor; trained models tensor for tensor (exact: a resumed run restores weights, optimizer and RNG).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from hardening_helpers import ENV, STAGES, World, cl2cm, paused, run_main, run_until_complete
from safetensors.torch import load_file

from cl2cm import testhook
from cl2cm.artifacts.captions import read_captions
from cl2cm.artifacts.store import load_store


def assert_same_artifact(stage: str, got: Path, ref: Path) -> None:
    """The rerun artifact is the uninterrupted one: same rows, once each, same values."""
    assert (got / "manifest.json").exists() and not (got / ".parts").exists()
    assert not list(got.glob(".cl2cm.lock")) and not list(got.rglob("*.tmp"))
    if stage == "translate":
        assert (got / "de.jsonl").read_bytes() == (ref / "de.jsonl").read_bytes()
        ids = [c.id for c in read_captions(got / "de.jsonl")]
        assert len(ids) == len(set(ids)) == 120
    elif stage == "extract-features":
        a, b = load_store(got, dtype=None), load_store(ref, dtype=None)
        assert a.ids == b.ids and len(set(a.ids)) == 60
        assert torch.equal(a.features, b.features)
    else:
        a, b = load_file(str(got / "model.safetensors")), load_file(str(ref / "model.safetensors"))
        assert a.keys() == b.keys()
        diff = [k for k in a if not torch.equal(a[k], b[k])]
        assert not diff, diff[:5]
        epochs = [json.loads(x)["epoch"] for x in (got / "metrics.jsonl").read_text().splitlines()
                  if json.loads(x)["split"] == "val"]
        assert epochs == list(range(6))  # one record per epoch: none lost, none repeated


# The kill point of the default test (`cl2cm.testhook`): some work committed, most still ahead.
PAUSE_AT = {"translate": "de:3", "extract-features": "features:2", "train-teacher": "epoch:1", "distill": "epoch:1"}


def _committed(stage: str, out: Path) -> int:
    """Chunks (translate, extract-features) or epochs (training: val records) on disk."""
    if stage == "translate":
        return len(list((out / ".parts" / "de").glob("chunk-*.jsonl")))
    if stage == "extract-features":
        return len(list((out / ".parts" / "features").glob("chunk-*.safetensors")))
    assert (out / "checkpoints" / "last.safetensors").exists()
    return sum(json.loads(x)["split"] == "val" for x in (out / "metrics.jsonl").read_text().splitlines())


@pytest.mark.parametrize("stage", STAGES)
def test_sigkill_then_rerun_equals_uninterrupted(stage: str, world: World, tmp_path: Path) -> None:
    out = tmp_path / stage
    with paused(world.argv(stage, out), PAUSE_AT[stage]):
        pass  # SIGKILLed on leaving the block
    assert _committed(stage, out) == int(PAUSE_AT[stage].split(":")[1])  # killed right after that commit
    assert not (out / "manifest.json").exists()  # nothing committed yet: a reader refuses it
    assert run_main(world.argv(stage, out, resume=True)) == 0  # takes over the dead run's lock
    assert_same_artifact(stage, out, world.ref / stage)


# Slow sweep: seeded random kill delays, then rerun (killed again at random) until complete.
SWEEP_RUNS = 4  # independent runs per stage
SWEEP_KILLS = 3  # kill attempts per run (a run can finish before its kill point)


@pytest.mark.slow
@pytest.mark.parametrize("stage", STAGES)
def test_random_kill_sweep(stage: str, world: World, tmp_path: Path) -> None:
    t0 = time.monotonic()
    res = cl2cm(world.argv(stage, tmp_path / "timing"))
    assert res.returncode == 0, res.stderr
    span = time.monotonic() - t0  # kill anywhere from interpreter start to the end of a clean run
    rng = random.Random(f"sweep-{stage}")
    killed = 0
    for i in range(SWEEP_RUNS):
        out = tmp_path / f"run{i}"
        killed += run_until_complete(world.argv(stage, out), world.argv(stage, out, resume=True), rng,
                                     SWEEP_KILLS, span)
        assert_same_artifact(stage, out, world.ref / stage)
    print(f"\nSWEEP {stage}: {SWEEP_RUNS} runs, {killed} kills landed, clean run {span:.1f} s")
    assert killed >= SWEEP_RUNS  # most kill points land before the end


TERMINATED = "cl2cm: terminated (SIGTERM); rerun the same command to resume (training stages: add --resume)"


def _terminated(proc: subprocess.Popen[bytes]) -> str:
    """The stderr of a run that SIGTERM ended, checked: exit 143 (128 + 15) and its one line."""
    _, err = proc.communicate(timeout=120)
    text = err.decode(errors="replace")
    assert proc.returncode == 143, text[-2000:]
    assert text.strip().splitlines() == [TERMINATED], text  # no traceback, no "Exception ignored"
    return text


@pytest.mark.parametrize("stage", STAGES)
def test_sigterm_is_an_interruption_and_a_rerun_finishes(stage: str, world: World, tmp_path: Path) -> None:
    """kill / a time limit / docker stop: the same cleanup as Ctrl-C (lock gone, no temp file, resumable)."""
    out = tmp_path / stage
    with paused(world.argv(stage, out), PAUSE_AT[stage]) as proc:
        proc.send_signal(signal.SIGTERM)  # delivered when it continues: inside the next chunk / epoch
        proc.send_signal(signal.SIGCONT)
        _terminated(proc)
    assert not (out / ".cl2cm.lock").exists() and not list(out.rglob("*.tmp"))
    assert not (out / "manifest.json").exists()
    assert run_main(world.argv(stage, out, resume=True)) == 0
    assert_same_artifact(stage, out, world.ref / stage)


def _children(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/task/{pid}/children").read_text().split()


def test_sigterm_to_the_process_group_with_dataloader_workers_is_one_line(world: World, tmp_path: Path) -> None:
    """systemctl stop / scancel signal the workers too; torch's worker dies of it and the loader's SIGCHLD
    handler once raised "worker is killed by signal: Terminated" into the cleanup (a traceback)."""
    out = tmp_path / "workers"
    argv = [*world.argv("train-teacher", out), "--workers", "2", "--epochs", "40"]
    with testhook.paused([sys.executable, "-m", "cl2cm", *argv], "epoch:1", env=ENV,
                         start_new_session=True) as proc:
        proc.send_signal(signal.SIGCONT)
        # an epoch with both workers up for a while (not torch's iterator half-built: its own __del__ fails then,
        # under Ctrl-C as well)
        deadline, seen = time.monotonic() + 60, []
        while time.monotonic() < deadline:
            now = _children(proc.pid)
            if len(now) == 2 and now == seen:
                break
            seen = now
            time.sleep(0.1)
        assert len(seen) == 2, f"no DataLoader workers seen: {seen}"
        os.killpg(proc.pid, signal.SIGTERM)
        _terminated(proc)
    assert not (out / ".cl2cm.lock").exists() and not list(out.rglob("*.tmp"))

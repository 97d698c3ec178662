"""Helpers of the hardening tests: the argv of every long stage on the tiny world, subprocess and kill helpers.

The world is `cl2cm.demo.world.generate_world` at 60/20/20 images (2 captions each); the reference
artifacts are the uninterrupted runs of each stage on it, made once per session through the real CLI
entry point (`cl2cm.cli.main`) with one torch thread, exactly as the killed subprocesses run them.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from cl2cm import testhook

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1",
       "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
STAGES = ("translate", "extract-features", "train-teacher", "distill")


@dataclass
class World:
    """Paths of the tiny world and of the reference (uninterrupted) artifact of every stage."""

    root: Path
    ref: Path

    def argv(self, stage: str, out: Path, *, resume: bool = False) -> list[str]:
        """The command line of `stage` writing `out` (the same one for reference, killed and rerun runs)."""
        w, ref = self.root, self.ref
        common = ["--out", str(out), "--quiet", "--device", "cpu", "--seed", "0"]
        if stage == "translate":
            return ["translate", str(w / "train.en.jsonl"), "--to", "de", "--backend", "lexicon",
                    "--model", str(w / "lexicon.json"), "--chunk-size", "2", *common]
        if stage == "extract-features":
            return ["extract-features", str(w / "train_images.txt"), "--root", str(w / "images" / "train"),
                    "--model", str(w / "tiny-vit.json"), "--pretrained", "none", "--chunk-size", "4",
                    "--batch-size", "4", "--workers", "0", *common]
        # --keep-checkpoints: the cases below corrupt and resume the finished runs' checkpoints
        train = ["--epochs", "6", "--batch-size", "20", "--log-every", "2", "--keep-checkpoints", *common,
                 *(["--resume"] if resume else [])]
        if stage == "train-teacher":
            return ["train-teacher", "--src", str(w / "train.en.jsonl"), "--tgt", str(ref / "translate" / "de.jsonl"),
                    "--encoder", str(w / "encoder"), "--dim", "32", "--max-length", "32", "--ot-weight", "0",
                    "--train-layers", "all", *train]
        if stage == "distill":
            return ["distill", "--teacher", str(ref / "train-teacher"), "--features", str(ref / "extract-features"),
                    "--src", str(w / "train.en.jsonl"), "--tgt", str(ref / "translate" / "de.jsonl"), *train]
        raise ValueError(stage)


def run_main(argv: list[str]) -> int:
    """Run the CLI entry point in this process; its exit code (0 on success)."""
    from cl2cm.cli import main

    try:
        main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def cl2cm(argv: list[str], *, timeout: float = 300, preexec: Callable[[], None] | None = None
          ) -> subprocess.CompletedProcess[str]:
    """Run `python -m cl2cm argv` in a subprocess (one thread, offline)."""
    return subprocess.run([sys.executable, "-m", "cl2cm", *argv], env=ENV, capture_output=True, text=True,
                          timeout=timeout, preexec_fn=preexec)


def start(argv: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "cl2cm", *argv], env=ENV, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)


def paused(argv: list[str], at: str) -> AbstractContextManager[subprocess.Popen[bytes]]:
    """`python -m cl2cm argv`, stopped right after commit `at` ("de:3", "epoch:1": `cl2cm.testhook`) while
    the block runs, then SIGKILLed."""
    return testhook.paused([sys.executable, "-m", "cl2cm", *argv], at, env=ENV)


def kill_when(proc: subprocess.Popen[bytes], ready: Callable[[], bool], timeout: float = 180) -> bool:
    """SIGKILL `proc` as soon as `ready()` holds; True if it was killed before it ended by itself."""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and proc.poll() is None and not ready():
            time.sleep(0.005)
        if proc.poll() is not None:
            return False
        proc.send_signal(signal.SIGKILL)
        return True
    finally:
        proc.wait()


def run_until_complete(argv: list[str], rerun_argv: list[str], rng: random.Random, kills: int, span: float
                       ) -> int:
    """Run, SIGKILL after a random delay in [0, span) s, rerun (rerun_argv), ... `kills` times, then let it finish.

    Returns how many runs were really killed (a run may finish before its kill point)."""
    killed = 0
    cmd = argv
    for _ in range(kills):
        proc = start(cmd)
        delay = rng.uniform(0, span)
        t0 = time.monotonic()
        if kill_when(proc, lambda t0=t0, delay=delay: time.monotonic() - t0 >= delay):
            killed += 1
            cmd = rerun_argv
        else:
            assert proc.returncode == 0, proc.stderr.read().decode() if proc.stderr else ""
            return killed
    res = cl2cm(cmd)
    assert res.returncode == 0, res.stderr
    return killed

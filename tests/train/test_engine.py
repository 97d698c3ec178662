"""The training engine: resume after a kill, DDP equivalence, schedules, checkpoints without pickle."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from toy import ToyTask

from cl2cm.cli.flags import flag_of
from cl2cm.errors import ConfigError, UserError
from cl2cm.train import TrainConfig, fit
from cl2cm.train.engine import lr_factor, read_checkpoint

HERE = Path(__file__).resolve().parent
CFG = dict(epochs=3, batch_size=32, lr=0.05, log_every=1, device="cpu", seed=7)


def _weights(out: Path) -> dict[str, torch.Tensor]:
    return load_file(str(out / "toy.safetensors"))


def test_resume_after_kill_reproduces_uninterrupted_weights(tmp_path: Path) -> None:
    full = fit(ToyTask(), TrainConfig(**CFG), tmp_path / "full")
    assert full.epochs == 3 and full.steps == 24
    with pytest.raises(KeyboardInterrupt):  # killed in the middle of epoch 2
        fit(ToyTask(fail_at_step=12), TrainConfig(**CFG), tmp_path / "cut")
    _, meta = read_checkpoint(tmp_path / "cut" / "checkpoints" / "last.safetensors")
    assert meta["state"]["epoch"] == 1 and meta["state"]["step"] == 8
    fresh = ToyTask()
    with torch.no_grad():  # whatever the new process starts from, the checkpoint's weights win
        for p in fresh.net.parameters():
            p.add_(1.0)
    resumed = fit(fresh, TrainConfig(**CFG), tmp_path / "cut", resume=True)
    assert resumed.resumed_from == 1 and resumed.steps == 24
    a, b = _weights(tmp_path / "full"), _weights(tmp_path / "cut")
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-6)
    # metrics.jsonl holds each epoch once, as if the run had never stopped
    recs = [json.loads(x) for x in (tmp_path / "cut" / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in recs if r["split"] == "val"] == [0, 1, 2]
    assert [r["step"] for r in recs if r["split"] == "train"] == list(range(1, 25))


def test_resume_with_other_settings_is_refused(tmp_path: Path) -> None:
    fit(ToyTask(), TrainConfig(**{**CFG, "epochs": 1}), tmp_path)
    with pytest.raises(ConfigError, match="^.*last.safetensors: lr 0.01 differs from the checkpoint's") as e:
        fit(ToyTask(), TrainConfig(**{**CFG, "lr": 0.01}), tmp_path, resume=True)
    assert "last.safetensors: --lr 0.01 differs" in e.value.render(flag_of)
    assert e.value.render(flag_of).endswith("start a new --out")


def test_checkpoint_is_plain_safetensors_and_best_is_kept(tmp_path: Path) -> None:
    task = ToyTask()
    res = fit(task, TrainConfig(**CFG), tmp_path)
    tensors, meta = read_checkpoint(tmp_path / "checkpoints" / "last.safetensors")
    assert any(k.startswith("optim.") and k.endswith("exp_avg") for k in tensors)
    assert "rng.torch" in tensors and meta["state"]["step"] == 24
    best = load_file(str(tmp_path / "checkpoints" / "best.safetensors"))
    final = _weights(tmp_path)
    for k in final:  # the model written at the end is the best epoch's
        torch.testing.assert_close(best[k], final[k])
    assert res.best_metric == max(json.loads(x).get("acc", 0) for x in
                                  (tmp_path / "metrics.jsonl").read_text().splitlines())
    # The engine hands the best epoch's validation metrics to the task (which writes them to its manifest).
    assert task.saved_best == {"acc": res.best_metric} == meta["state"]["best_val"]


def test_learning_rate_schedules() -> None:
    cfg = TrainConfig(lr=1.0, warmup=10, schedule="cosine")
    f = [lr_factor(cfg, s, 110, 1.0) for s in range(110)]
    assert f[0] == pytest.approx(0.1) and f[9] == pytest.approx(1.0)
    assert f[60] == pytest.approx(0.5, abs=0.02) and f[-1] < 0.01
    nr = TrainConfig(warmup=0, schedule="nrccr")
    assert lr_factor(nr, 50, 100, 0.99 * 0.5) == pytest.approx(0.495)


def test_bad_settings_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="^schedule 'linear': expected one of"):
        fit(ToyTask(), TrainConfig(**{**CFG, "schedule": "linear"}), tmp_path)
    with pytest.raises(UserError, match="larger than the training set"):
        fit(ToyTask(n=16), TrainConfig(**CFG), tmp_path)
    with pytest.raises(ConfigError, match="^amp fp16: mixed precision needs device cuda"):
        fit(ToyTask(), TrainConfig(**{**CFG, "amp": "fp16"}), tmp_path)


def test_ddp_two_processes_match_one_process_on_the_global_batch(tmp_path: Path) -> None:
    path = os.pathsep.join(p for p in (str(HERE), os.environ.get("PYTHONPATH", "")) if p)  # keep the code under test
    env = {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           str(HERE / "ddp_toy.py"), str(tmp_path / "ddp"), "3"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    # one process, same global batch of 32 (in-process: no torchrun environment, so no process group)
    fit(ToyTask(dropout=0.0), TrainConfig(epochs=1, batch_size=32, lr=0.05, max_steps=3, log_every=1,
                                          device="cpu", warmup=0, seed=3), tmp_path / "one")

    def losses(d: Path) -> list[float]:
        return [json.loads(x)["loss"] for x in (d / "metrics.jsonl").read_text().splitlines()
                if json.loads(x)["split"] == "train"]

    one, two = losses(tmp_path / "one"), losses(tmp_path / "ddp")
    assert len(one) == len(two) == 3
    assert one == pytest.approx(two, rel=1e-5)
    a, b = _weights(tmp_path / "one"), _weights(tmp_path / "ddp")
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5)


@pytest.mark.gpu
@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_amp_on_cuda_trains_and_resumes(tmp_path: Path, amp: str) -> None:
    cfg = {**CFG, "device": "cuda", "amp": amp, "epochs": 2}
    res = fit(ToyTask(), TrainConfig(**cfg), tmp_path)
    assert res.last_loss is not None and res.last_loss == res.last_loss  # finite, not NaN
    tensors, meta = read_checkpoint(tmp_path / "checkpoints" / "last.safetensors")
    assert (meta["scaler"] is not None) == (amp == "fp16")
    more = fit(ToyTask(), TrainConfig(**{**cfg, "epochs": 3}), tmp_path, resume=True)
    assert more.resumed_from == 2 and more.steps == 24


def test_accumulation_steps_and_no_leak_across_epochs(tmp_path: Path) -> None:
    # batch 48 = 3 micro-batches of 16; 256 items → 16 micro-batches per epoch → 5 steps, the 16th is dropped
    res = fit(ToyTask(), TrainConfig(**{**CFG, "batch_size": 48, "accum": 3, "epochs": 2}), tmp_path)
    assert res.steps == 2 * 5
    recs = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in recs if r["split"] == "train"] == list(range(1, 11))


def test_a_diverged_run_stops_with_one_line_and_finishes_nothing(tmp_path: Path) -> None:
    """A loss that became NaN ends the run (exit 2 through the CLI) before metrics.jsonl gets a NaN (not
    JSON) and before the model is written: nothing downstream can take a NaN model for a finished one."""
    with pytest.raises(ConfigError, match=r"training diverged: the loss is nan at step \d+ \(epoch 1\); lower lr") as e:
        fit(ToyTask(), TrainConfig(**{**CFG, "lr": 1e30}), tmp_path)
    assert "lower --lr (now 1e+30) or check the inputs" in e.value.render(flag_of)  # as the CLI says it
    assert not (tmp_path / "toy.safetensors").exists()
    for line in (tmp_path / "metrics.jsonl").read_text().splitlines():
        json.loads(line, parse_constant=lambda c: pytest.fail(f"{c} in metrics.jsonl"))

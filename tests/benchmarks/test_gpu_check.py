"""benchmarks/gpu_check.py must never rot: its tiny CPU run goes through every section of the real script."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "gpu_check.py"
SECTIONS = ("eval", "search", "translate", "extract", "decode", "train_teacher", "distill")


def _module():  # noqa: ANN202
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules["gpu_check"] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


def test_tiny_cpu_run_writes_every_section(tmp_path: Path) -> None:
    out = tmp_path / "g.json"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.run([sys.executable, str(SCRIPT), "--tiny", "--device", "cpu", "--threads", "1",
                           "--json", str(out)], capture_output=True, text=True, env=env, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads(out.read_text())
    for name in SECTIONS:
        assert name in data, name
        assert "error" not in data[name], data[name].get("traceback")
    assert data["ddp"]["skipped"] == "needs CUDA (NCCL)"
    e = data["eval"]
    assert e["fp32"]["seconds"] > 0 and e["fp32"]["gemm_floor_s"] > 0 and e["fp16"]["SumR"] > 0
    assert e["fp32"]["SumR"] == pytest.approx(e["fp16"]["SumR"], abs=5.0)  # bf16 scores, same retrieval
    assert data["search"]["identical"] and data["search"]["codec"] == "int8" and data["search"]["compact_s"] > 0
    assert data["decode"]["torchvision_img_s"] > 0 and data["decode"]["pil_exact_img_s"] > 0
    assert data["decode"]["vs_pil_exact_mean_abs"] < 2.0  # the same pixels, up to the decoders' rounding
    assert data["translate"]["hf"]["sent_per_s"] > 0 and data["translate"]["naive"]["sentences"] > 0
    assert data["extract"]["images"] == 48 and data["extract"]["end_to_end_img_s"] > 0
    assert data["train_teacher"]["steps"] == 3 and 0 <= data["train_teacher"]["outside_fwd_bwd_share"] < 1
    assert data["distill"]["head"] == "flat" and data["distill"]["pairs_per_s"] > 0
    assert "gpu_check on CPU" in proc.stdout and "train_teacher" in proc.stdout  # the one table


def test_a_failing_section_is_recorded_and_the_rest_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mod = _module()

    def boom(ctx: object) -> dict:
        raise RuntimeError("section exploded")

    monkeypatch.setitem(mod.SECTIONS, "eval", boom)
    out = tmp_path / "g.json"
    rc = mod.main(["--tiny", "--device", "cpu", "--only", "eval", "ddp", "--json", str(out)])
    data = json.loads(out.read_text())
    assert rc == 1
    assert data["eval"]["error"] == "RuntimeError: section exploded"
    assert data["ddp"]["skipped"]  # ran after the failure


def test_bad_options_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    mod = _module()
    assert mod.main(["--tiny", "--device", "cpu", "--set", "nope=1"]) == 2
    assert "--set" in capsys.readouterr().err
    if not torch.cuda.is_available():
        assert mod.main(["--tiny"]) == 2  # --device cuda is the default

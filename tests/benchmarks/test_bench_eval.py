"""benchmarks/bench_eval.py at a tiny scale: every method, the fused kernel included, asserts the same ranks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from needs import need_numba

REPO = Path(__file__).resolve().parents[1].parent
SCRIPT = REPO / "benchmarks" / "bench_eval.py"


def test_tiny_run_compares_every_method_and_reports_the_fused_kernel(tmp_path: Path) -> None:
    need_numba()
    out = tmp_path / "e.json"
    run = subprocess.run([sys.executable, str(SCRIPT), "--scales", "300x60", "--repeat", "2", "--clipb-sample",
                          "100", "--json", str(out)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    row = json.loads(out.read_text())[0]
    assert row["scale"] == "300x60"
    for key in ("ours_rank_s", "loop_rank_s", "clipb_rank_s", "fused_rank_s", "loop_fused_ratio"):
        assert row[key] > 0, key
    assert "fused kernel (--rank-kernel numba)" in run.stdout and "same ranks asserted" in run.stdout

"""`make bench`: every stage's benchmark (ours vs the naive way, side by side), then one table of ratios.

Each benchmark is its own script (see benchmarks/bench_*.py and docs/performance.md); this runner calls them
with sizes that finish in under 10 minutes on a 2-core CPU, collects their `--json` output and prints one
summary. Pass `--quick` for a smoke run of a minute or two.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# name → (script args, quick args); `headline` reads the ratios from each script's --json output
BENCHES: dict[str, tuple[list[str], list[str]]] = {
    "eval": (["--scales", "5000x1000,50000x10000"], ["--scales", "5000x1000", "--repeat", "1",
                                                       "--skip-clip-benchmark"]),
    "translate": ([], ["--no-ct2"]),
    "features": (["--n", "512", "--naive-n", "128", "--sizes", "500x375,640x480"],
                 ["--n", "128", "--naive-n", "32"]),
    "train": (["--steps", "30", "--repeats", "2"], ["--steps", "10", "--repeats", "1"]),
}


def headline(name: str, data: object) -> list[tuple[str, str, str]]:
    """(what, ours vs naive, note) rows for the summary table."""
    rows: list[tuple[str, str, str]] = []
    if name == "eval":
        for r in data:  # type: ignore[union-attr]
            for peer, label in (("loop", "NRCCR argsort loop"), ("clipb", "CLIP_benchmark topk+one-hot")):
                if f"{peer}_rank_ratio" in r:
                    sampled = " (peer extrapolated from a sample)" if f"{peer}_sample" in r else ""
                    rows.append((f"eval ranks {r['scale']}", f"{r[f'{peer}_rank_ratio']:.1f}×",
                                 f"vs {label}; end to end {r[f'{peer}_e2e_ratio']:.1f}×{sampled}"))
            if "loop_fused_ratio" in r:
                rows.append((f"eval ranks {r['scale']}", f"{r['loop_fused_ratio']:.1f}×",
                             f"--rank-kernel numba (fused) vs NRCCR argsort loop; {r['fused_note']}"))
    elif name == "translate":
        for r in data["rows"][1:]:  # type: ignore[index]
            rows.append((f"translate {data['captions']:,} captions", f"{r['speedup']:.2f}×",  # type: ignore[index]
                         f"{r['method']} vs HF generate (input order, batch 16); identical {r['identical']:,}"))
    elif name == "features":
        for r in data:  # type: ignore[union-attr]
            what = f"extract-features {r['size']}"  # type: ignore[index]
            rows.append((what, f"{r['ratio_ours_draft_vs_naive']:.1f}×",  # type: ignore[index]
                         "vs naive PIL loop batch 1 (--decode draft)"))
            for mode in ("draft", "exact"):
                rows.append((what, f"{r[f'ratio_ours_{mode}_vs_predecoded']:.2f}",  # type: ignore[index]
                             f"ours (--decode {mode}) / pre-decoded tensors (1.0 = loader hidden)"))
    elif name == "train":
        rows.append(("train-teacher", f"{data['speedup']:.2f}×",  # type: ignore[index]
                     f"vs re-tokenising loop; outside fwd/bwd {100 * data['engine']['outside_share']:.1f}% "  # type: ignore[index]
                     f"vs {100 * data['naive']['outside_share']:.1f}%"))  # type: ignore[index]
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    ap.add_argument("--only", nargs="*", choices=list(BENCHES), help="run only these")
    ap.add_argument("--json", type=Path, help="write all results here")
    args = ap.parse_args()
    summary: list[tuple[str, str, str]] = []
    everything: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (full, quick) in BENCHES.items():
            if args.only and name not in args.only:
                continue
            out = Path(tmp) / f"{name}.json"
            cmd = [sys.executable, str(HERE / f"bench_{name}.py"), *(quick if args.quick else full), "--json", str(out)]
            print(f"\n=== {name}: {' '.join(cmd[1:])}", flush=True)
            t = time.perf_counter()
            proc = subprocess.run(cmd, check=False)
            if proc.returncode != 0 or not out.exists():
                summary.append((name, "FAILED", f"exit {proc.returncode}"))
                continue
            data = json.loads(out.read_text())
            everything[name] = data
            summary.extend(headline(name, data))
            print(f"({time.perf_counter() - t:.0f} s)")
    width = max(len(r[0]) for r in summary) if summary else 10
    print("\n" + "=" * 100 + "\nbenchmark summary (ours vs the naive way, measured just now on this machine)")
    for what, ratio, note in summary:
        print(f"{what:<{width}}  {ratio:>8}  {note}")
    if args.json:
        args.json.write_text(json.dumps(everything, indent=2) + "\n")
    if any(r[1] == "FAILED" for r in summary):
        sys.exit(1)


if __name__ == "__main__":
    main()

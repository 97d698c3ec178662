"""Start-up of the paths that only parse (`--help`, `--version`, a usage error) and of a one-query search,
side by side with `python -c pass` (the interpreter's own floor), in one run; prints each ratio.

    python benchmarks/bench_startup.py [--repeat 7] [--search-demo DIR] [--baseline-src OLD/src]

`--search-demo DIR` (a finished `cl2cm demo --out DIR`) also times `cl2cm search` of one query against
DIR/student and DIR/features/test: the whole process, as a user runs it. `--baseline-src` (another
checkout's src/, e.g. `git archive <commit> src | tar -x -C OLD`) times the same `--help` with that code
first on PYTHONPATH, in the same run (also the search, with --search-demo), and prints baseline / ours.
Both source trees are byte-compiled first. Medians of wall seconds and of the child's CPU seconds (user +
system), which a loaded machine moves far less than wall time.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _wall(argv: list[str], repeat: int, env: dict[str, str] | None = None) -> tuple[float, float]:
    """Median (wall, CPU) seconds of `repeat` runs. CPU (user + system of the child) barely moves with the
    machine's load, where wall does: on a shared machine it is the figure to compare."""
    walls, cpus = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), _cpu()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, env=env)
        walls.append(time.perf_counter() - t0)
        cpus.append(_cpu() - c0)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--search-demo", type=Path, default=None, help="a finished demo directory")
    ap.add_argument("--baseline-src", type=Path, default=None, help="src/ of another checkout, for comparison")
    args = ap.parse_args()
    py, cl2cm = [sys.executable], [sys.executable, "-m", "cl2cm"]
    cases = {"python -c pass": [*py, "-c", "pass"],
             "python -c 'import torch'": [*py, "-c", "import torch"],
             "cl2cm --help": [*cl2cm, "--help"],
             "cl2cm --version": [*cl2cm, "--version"],
             "cl2cm distill --help": [*cl2cm, "distill", "--help"],
             "cl2cm eval --query-block 0 (usage error)": [*cl2cm, "eval", "--query-block", "0"]}
    if args.search_demo is not None:
        d = args.search_demo
        cases["cl2cm search (1 query, demo)"] = [*cl2cm, "search", "ein Hund", "--model", str(d / "student"),
                                                 "--features", str(d / "features" / "test"), "--device", "cpu",
                                                 "-q"]
    envs: dict[str, dict[str, str]] = {}
    # byte-compile both trees first, as an installed package is: under PYTHONDONTWRITEBYTECODE (or a fresh
    # `git archive`) every run would otherwise compile the sources again and time that instead
    for tree in (Path(__file__).resolve().parents[1] / "src", args.baseline_src):
        if tree is not None:
            compileall.compile_dir(str(tree), quiet=1)
    if args.baseline_src is not None:
        for name in ("cl2cm --help", "cl2cm distill --help", "cl2cm search (1 query, demo)"):
            if name in cases:
                cases[f"{name} (baseline src)"] = cases[name]
                envs[f"{name} (baseline src)"] = {**os.environ, "PYTHONPATH": str(args.baseline_src.resolve())}
    floor = None
    rows: dict[str, tuple[float, float]] = {}
    for name, argv in cases.items():
        wall, cpu = _wall(argv, args.repeat, envs.get(name))
        floor = floor or wall
        rows[name] = wall, cpu
        ours = rows.get(name.removesuffix(" (baseline src)"))
        versus = (f"   baseline / ours: wall ×{wall / ours[0]:.2f}, CPU ×{cpu / ours[1]:.2f}"
                  if name.endswith("(baseline src)") and ours else "")
        print(f"{name:45s} {wall:7.3f} s wall {cpu:7.3f} s CPU   ×{wall / floor:6.1f} of python -c pass{versus}",
              flush=True)
    print(json.dumps({k: {"wall": round(w, 3), "cpu": round(c, 3)} for k, (w, c) in rows.items()}))


if __name__ == "__main__":
    main()

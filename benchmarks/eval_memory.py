"""Peak memory and time of exact ranks N × N on CPU (`compute_ranks`): the chunked engine's memory bound.

The score matrix of 200k × 200k would be 160 GB in fp32; the engine holds one block of rows (64 MB on CPU)
plus O(queries + gallery). Prints seconds, the peak RSS above the inputs (VmHWM reset after building them)
and SumR.

    .venv/bin/python benchmarks/eval_memory.py --n 200000 --dim 32      # ~25 min on one busy core
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from cl2cm.retrieval.metrics import compute_ranks, retrieval_metrics  # noqa: E402


def _kb(key: str) -> int:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith(key))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=200_000, help="queries = gallery items")
    ap.add_argument("--dim", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(0)
    g = torch.nn.functional.normalize(torch.randn(args.n, args.dim, generator=gen), dim=-1)
    q = torch.nn.functional.normalize(g + 0.5 * torch.randn(args.n, args.dim, generator=gen), dim=-1)
    with open("/proc/self/clear_refs", "w") as fh:  # VmHWM := current RSS: the peak of the ranking alone
        fh.write("5")
    base = _kb("VmRSS")
    t0 = time.perf_counter()
    metrics = retrieval_metrics(compute_ranks(q, g, torch.arange(args.n)))
    secs = time.perf_counter() - t0
    print(f"{args.n:,} x {args.n:,}, dim {args.dim}, {args.threads} thread(s): {secs:.1f} s, peak {(_kb('VmHWM') - base) / 1024:.0f} MB "
          f"above the inputs ({2 * args.n * args.dim * 4 / 2**20:.0f} MB); full score matrix would be "
          f"{args.n * args.n * 4 / 2**30:.0f} GiB; SumR {metrics['SumR']:.2f}")


if __name__ == "__main__":
    main()

"""Retrieval metrics: our chunked exact rank engine vs the two ways peer codebases compute them.

* ours     — `cl2cm.retrieval.metrics.compute_ranks` + `retrieval_metrics` (R@K, MedR, MeanR, mAP, both
             directions from the same blocks, no sort); the ranking column counts with torch ops, and a
             second line gives the fused numba kernel (`--rank-kernel numba`) when numba is installed.
* nrccr    — NRCCR `util/metrics.py::eval_q2m` style: full numpy score matrix, one `np.argsort` per query
             row (t2v) and per image column (v2t, best of its captions), in a Python loop (+ AP).
* clipb    — CLIP_benchmark `recall_at_k` style: full score matrix, dense positive mask, per row-batch
             `topk` + `one_hot` (batch, k, M); R@K only (it computes no MedR/MeanR/mAP).

All three run on the same random embeddings in one process; their R@K (and, for the loop, every rank) are
asserted equal before any time is printed. The loop can be timed on a sample of queries/items and
extrapolated (`--loop-sample`); the table says so when it is. Peak memory is the process's extra resident
memory during the method, sampled every 2 ms (CPU), or `torch.cuda.max_memory_allocated` (CUDA).

    .venv/bin/python benchmarks/bench_eval.py                      # 5,000×1,000 and 50,000×10,000
    .venv/bin/python benchmarks/bench_eval.py --scales 5000x1000 --dim 512 --json bench_eval.json
    .venv/bin/python benchmarks/bench_eval.py --gpu-scale          # 1M × 1M, ours only, on CUDA
    .venv/bin/python benchmarks/bench_eval.py --clock cpu          # CPU time: steadier on a busy machine
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from cl2cm.retrieval import kernels  # noqa: E402
from cl2cm.retrieval.metrics import compute_ranks, ranks_from_scores, retrieval_metrics  # noqa: E402

KS = (1, 5, 10)


# ---------------------------------------------------------------------------------------------- memory
def _rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class PeakMemory:
    """Peak extra memory of a block: sampled RSS on CPU, the allocator's peak on CUDA."""

    def __init__(self, device: torch.device) -> None:
        self.device, self.peak, self._stop = device, 0, threading.Event()

    def __enter__(self) -> PeakMemory:
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.base = torch.cuda.memory_allocated()
            return self
        self.base = _rss()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _rss() - self.base)
            time.sleep(0.002)

    def __exit__(self, *exc: object) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            self.peak = torch.cuda.max_memory_allocated() - self.base
            return
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss() - self.base)


#: The clock `timed` reads: wall time, or with --clock cpu this thread's CPU time. Every CPU method here runs
#: on the calling thread (one torch thread, numpy), so on a busy shared machine CPU time leaves out the
#: time spent waiting for a core, which wall time adds to whichever method the scheduler hit.
CLOCK: Callable[[], float] = time.perf_counter


#: Untimed calls before a best-of-repeat measurement, for this long (at least one call): a short method's
#: first calls in a process are slower (the fused ranking at 5k × 1k: 7.6 ms, then 5.1, 4.7, ... and 2.7-3.1
#: ms from about the 10th call on, 2026-12-07), and the argsort loop warms up inside its own long call.
WARMUP_S = 0.25


def timed(fn: Callable[[], Any], device: torch.device, repeat: int = 1) -> tuple[Any, float, int]:
    """(result, best-of-`repeat` seconds, peak extra memory): best-of because the machine is shared; with
    repeat > 1 the timed calls come after WARMUP_S of untimed ones, the same for every method. The peak
    memory is the first call's (later calls reuse what the allocators kept) or any later larger one."""
    best, peak = float("inf"), 0
    warm_until = None
    n = 0
    while n < max(1, repeat):
        with PeakMemory(device) as mem:
            t0 = CLOCK()
            out = fn()
            if device.type == "cuda":
                torch.cuda.synchronize()
            seconds = CLOCK() - t0
        peak = max(peak, mem.peak)
        if repeat > 1 and warm_until is None:  # the first call: memory measured, time not kept
            warm_until = time.perf_counter() + WARMUP_S
            continue
        if warm_until is not None and time.perf_counter() < warm_until:
            continue
        best = min(best, seconds)
        n += 1
    return out, best, peak


# ---------------------------------------------------------------------------------------------- methods
# Every method ranks the SAME precomputed score matrix S = Q·Gᵀ ("ranking" columns); "end-to-end" adds the
# time to compute S for the peers, and is measured directly for ours (which scores block by block).
def ours_e2e(q: torch.Tensor, g: torch.Tensor, idx: torch.Tensor, device: torch.device, chunk: int | None,
             half: bool = False) -> tuple[dict[str, Any], Any]:
    ranks = compute_ranks(q, g, idx, chunk=chunk, device=device, half=half)
    return retrieval_metrics(ranks), ranks


def ours_ranking(scores: torch.Tensor, idx: torch.Tensor, chunk: int | None,
                 kernel: str = "torch") -> tuple[dict[str, Any], Any]:
    ranks = ranks_from_scores(scores, idx, chunk=chunk, kernel=kernel)
    return retrieval_metrics(ranks), ranks


def nrccr_loop(scores: np.ndarray, idx: np.ndarray, rows: np.ndarray, items: np.ndarray) -> dict[str, np.ndarray]:
    """Per-row argsort, as NRCCR's eval_q2m (on the given sample of query rows and item columns) + AP."""
    t2v = np.empty(len(rows), dtype=np.int64)
    for n, i in enumerate(rows):
        order = np.argsort(-scores[i])
        t2v[n] = np.where(order == idx[i])[0][0] + 1
    v2t = np.empty(len(items), dtype=np.int64)
    v2t_ap = np.empty(len(items))
    for n, j in enumerate(items):
        order = np.argsort(-scores[:, j])
        where = np.where(idx[order] == j)[0] + 1  # positions of all of j's captions
        v2t[n] = where[0]
        v2t_ap[n] = np.mean(np.arange(1, len(where) + 1) / where)
    return {"t2v": t2v, "v2t": v2t, "t2v_ap": 1.0 / t2v, "v2t_ap": v2t_ap}


def clip_benchmark(scores: torch.Tensor, idx: torch.Tensor, rows: torch.Tensor, items: torch.Tensor,
                   batch: int = 64) -> dict[str, float]:
    """CLIP_benchmark's `recall_at_k`: dense positive mask, per batch topk + one_hot (batch, k, M), one call
    per K, hit if any positive is in the top K; both directions, on the given sample of rows / items."""
    positive = torch.zeros_like(scores, dtype=torch.bool)
    positive[torch.arange(len(idx)), idx] = True

    def recall(s: torch.Tensor, pos: torch.Tensor, k: int) -> float:
        hits = []
        for lo in range(0, s.shape[0], batch):
            top = torch.topk(s[lo:lo + batch], k, dim=1).indices
            onehot = torch.nn.functional.one_hot(top, num_classes=s.shape[1])  # (batch, k, M)
            tp = (onehot * pos[lo:lo + batch, None, :]).sum(dim=(1, 2))
            hits.append(tp > 0)
        return float(100.0 * torch.cat(hits).double().mean())

    s_t2v, p_t2v = scores[rows], positive[rows]
    s_v2t, p_v2t = scores[:, items].T, positive[:, items].T
    return {**{f"t2v R@{k}": recall(s_t2v, p_t2v, k) for k in KS},
            **{f"v2t R@{k}": recall(s_v2t, p_v2t, k) for k in KS}}


# ---------------------------------------------------------------------------------------------- driver
def make_world(n_q: int, n_g: int, dim: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Random unit embeddings, n_q / n_g captions per item in random order, with a learnable-ish signal."""
    gen = torch.Generator().manual_seed(seed)
    g = torch.nn.functional.normalize(torch.randn(n_g, dim, generator=gen), dim=-1)
    idx = (torch.arange(n_q) % n_g)[torch.randperm(n_q, generator=gen)]
    q = torch.nn.functional.normalize(g[idx] + 4.8 * torch.randn(n_q, dim, generator=gen) / dim ** 0.5, dim=-1)
    return q, g, idx


def _sampled(n_q: int, n_g: int, sample: int, seed: int, fn: Callable[[np.ndarray, np.ndarray], Any],
             repeat: int) -> tuple[Any, float, int, np.ndarray, np.ndarray, float]:
    """Run a peer on all rows/items, or on `sample` queries and the same fraction of items."""
    rows, items, frac = np.arange(n_q), np.arange(n_g), 1.0
    if sample and sample < n_q:
        rng = np.random.default_rng(seed)
        frac = sample / n_q
        rows = np.sort(rng.choice(n_q, sample, replace=False))
        items = np.sort(rng.choice(n_g, max(1, int(round(n_g * frac))), replace=False))
    out, seconds, mem = timed(lambda: fn(rows, items), torch.device("cpu"), repeat)
    return out, seconds, mem, rows, items, frac


def run_scale(n_q: int, n_g: int, args: argparse.Namespace) -> dict[str, Any]:
    cpu = torch.device("cpu")
    device = torch.device(args.device)
    repeat = args.repeat if n_q * n_g <= 5e7 else 1
    q, g, idx = make_world(n_q, n_g, args.dim, args.seed)
    row: dict[str, Any] = {"scale": f"{n_q}x{n_g}", "dim": args.dim, "repeat": repeat, "clock": args.clock}

    (metrics, ranks), row["ours_e2e_s"], mem = timed(lambda: ours_e2e(q, g, idx, device, args.chunk), device,
                                                    repeat)
    row["ours_e2e_peak_mb"] = mem / 2**20
    row["SumR"] = metrics["SumR"]
    scores, row["scores_s"], row["scores_mb"] = timed(lambda: q @ g.T, cpu, repeat)
    row["scores_mb"] = scores.numel() * scores.element_size() / 2**20
    (m2, r2), row["ours_rank_s"], mem = timed(lambda: ours_ranking(scores, idx, args.chunk), cpu, repeat)
    row["ours_rank_peak_mb"] = mem / 2**20
    assert m2 == metrics and torch.equal(r2.t2v, ranks.t2v) and torch.equal(r2.v2t, ranks.v2t)
    if kernels.available():  # the fused kernel: its one-time load in this process, then best-of-repeat
        t0 = time.perf_counter()
        kernels.load(int(torch.bincount(idx).max()), scores.dtype)  # import numba, compile or read its cache
        row["fused_load_s"] = time.perf_counter() - t0
        row["fused_note"] = _load_note(row["fused_load_s"])
        (m3, r3), row["fused_rank_s"], _ = timed(lambda: ours_ranking(scores, idx, args.chunk, "numba"), cpu,
                                                 repeat)
        assert m3 == metrics and all(torch.equal(getattr(r3, k), getattr(ranks, k))
                                     for k in ("t2v", "v2t", "t2v_ap", "v2t_ap")), "fused kernel differs"

    # Peers on all queries/items, or on a sample (timings extrapolated, and said so).
    ref, t_loop, mem, rows, items, frac = _sampled(
        n_q, n_g, args.loop_sample, args.seed, lambda r, i: nrccr_loop(scores.numpy(), idx.numpy(), r, i), repeat)
    assert np.array_equal(ranks.t2v.numpy()[rows], ref["t2v"]), "t2v ranks differ from the argsort loop"
    assert np.array_equal(ranks.v2t.numpy()[items], ref["v2t"]), "v2t ranks differ from the argsort loop"
    assert np.allclose(ranks.v2t_ap.numpy()[items], ref["v2t_ap"], rtol=1e-9)
    row["loop_rank_s"], row["loop_rank_peak_mb"] = t_loop / frac, mem / 2**20
    if frac < 1:
        row["loop_sample"] = f"{len(rows)} of {n_q} queries, {len(items)} of {n_g} items"

    if not args.skip_clip_benchmark:
        cb, t_cb, mem, rows, items, frac = _sampled(
            n_q, n_g, args.clipb_sample, args.seed,
            lambda r, i: clip_benchmark(scores, idx, torch.from_numpy(r), torch.from_numpy(i)), repeat)
        for key, value in cb.items():
            direction, k = key.split()
            r = ranks.t2v[torch.from_numpy(rows)] if direction == "t2v" else ranks.v2t[torch.from_numpy(items)]
            want = float(100.0 * (r <= int(k[2:])).double().mean())
            assert value == want, f"{key}: clip_benchmark {value} vs ours {want}"
        row["clipb_rank_s"], row["clipb_rank_peak_mb"] = t_cb / frac, mem / 2**20
        if frac < 1:
            row["clipb_sample"] = f"{len(rows)} of {n_q} queries, {len(items)} of {n_g} items"
    for peer in ("loop", "clipb"):
        if f"{peer}_rank_s" in row:
            row[f"{peer}_rank_ratio"] = row[f"{peer}_rank_s"] / row["ours_rank_s"]
            if "fused_rank_s" in row:
                row[f"{peer}_fused_ratio"] = row[f"{peer}_rank_s"] / row["fused_rank_s"]
            row[f"{peer}_e2e_ratio"] = (row["scores_s"] + row[f"{peer}_rank_s"]) / row["ours_e2e_s"]
    return row


def gpu_scale(args: argparse.Namespace) -> dict[str, Any]:
    if not torch.cuda.is_available():
        raise SystemExit("--gpu-scale needs CUDA")
    device = torch.device("cuda")
    n = args.gpu_n
    gen = torch.Generator(device=device).manual_seed(args.seed)
    g = torch.nn.functional.normalize(torch.randn(n, args.dim, device=device, generator=gen), dim=-1)
    q = torch.nn.functional.normalize(g + 0.5 * torch.randn(n, args.dim, device=device, generator=gen), dim=-1)
    idx = torch.arange(n)
    ours_e2e(q[:4096], g[:4096], idx[:4096], device, args.chunk, args.half)  # warm-up (kernels, allocator)
    (metrics, _), t, mem = timed(lambda: ours_e2e(q, g, idx, device, args.chunk, args.half), device, args.repeat)
    return {"scale": f"{n}x{n}", "dim": args.dim, "half": args.half, "ours_s": t, "ours_peak_mb": mem / 2**20,
            "SumR": metrics["SumR"], "device": torch.cuda.get_device_name()}


def _load_note(seconds: float) -> str:
    """The fused kernel's one-time cost in this process: import numba and compile or read its cache."""
    return f"after a one-time {seconds:.2f} s load in this process" if seconds >= 0.01 else "kernel already loaded"


def print_table(rows: list[dict[str, Any]], args: argparse.Namespace) -> None:
    nan = float("nan")
    print(f"torch threads {torch.get_num_threads()}, dim {args.dim}, best of --repeat runs at scales up to 5e7 "
          f"pairs, {'thread CPU' if CLOCK is time.thread_time else 'wall'} time; identical ranks / R@K asserted "
          "for all methods")
    print(f"{'scale':>12} | {'ranking only (seconds; × = peer / ours)':^44} | {'end to end incl. scores':^34} |"
          f" {'peak extra MB':^22}")
    print(f"{'':>12} | {'ours':>7} {'loop':>9} {'×':>6} {'clipb':>9} {'×':>6} | {'scores':>7} {'ours':>7} "
          f"{'× loop':>7} {'× clipb':>8} | {'ours':>6} {'S':>6} {'clipb':>7}")
    for r in rows:
        ls = "*" if "loop_sample" in r else ""
        cs = "*" if "clipb_sample" in r else ""
        print(f"{r['scale']:>12} | {r['ours_rank_s']:>7.3f} {r['loop_rank_s']:>8.2f}{ls:1} "
              f"{r['loop_rank_ratio']:>6.1f} {r.get('clipb_rank_s', nan):>8.2f}{cs:1} "
              f"{r.get('clipb_rank_ratio', nan):>6.1f} | {r['scores_s']:>7.2f} {r['ours_e2e_s']:>7.2f} "
              f"{r['loop_e2e_ratio']:>7.1f} {r.get('clipb_e2e_ratio', nan):>8.1f} | "
              f"{r['ours_e2e_peak_mb']:>6.0f} {r['scores_mb']:>6.0f} {r.get('clipb_rank_peak_mb', nan):>7.0f}")
    for r in rows:
        if "fused_rank_s" in r:
            print(f"{r['scale']:>12} | fused kernel (--rank-kernel numba): {r['fused_rank_s']:.4f} s, "
                  f"× loop {r['loop_fused_ratio']:.1f}, × clipb {r.get('clipb_fused_ratio', nan):.1f} "
                  f"({r['fused_note']}; same ranks asserted)")
    for r in rows:
        for peer in ("loop", "clipb"):
            if f"{peer}_sample" in r:
                print(f"* {r['scale']}: {peer} timed on {r[f'{peer}_sample']} and EXTRAPOLATED linearly "
                      "(its ranks / R@K on that sample are asserted equal to ours)")
    print("ours = cl2cm.retrieval (R@K, MedR, MeanR, mAP, both directions); loop = NRCCR per-row argsort (+AP); "
          "clipb = CLIP_benchmark topk+one_hot (R@K only). 'S' = the full score matrix the peers hold; "
          "ours holds one block.")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scales", default="5000x1000,50000x10000", help="QUERIESxITEMS,... (captions × images)")
    ap.add_argument("--dim", type=int, default=256, help="embedding dimension")
    ap.add_argument("--chunk", type=int, default=None, help="query rows per block for ours (default: budget)")
    ap.add_argument("--device", default="cpu", help="device for ours (the peers run on CPU as they do)")
    ap.add_argument("--loop-sample", type=int, default=5000,
                    help="time the argsort loop on this many queries (and the same fraction of items) and "
                         "extrapolate when the scale is larger; 0 = always run it fully")
    ap.add_argument("--clipb-sample", type=int, default=1000,
                    help="the same for the CLIP_benchmark method (its one_hot is the slowest part)")
    ap.add_argument("--skip-clip-benchmark", action="store_true")
    ap.add_argument("--gpu-scale", action="store_true", help="only ours, N×N on CUDA (see --gpu-n)")
    ap.add_argument("--gpu-n", type=int, default=1_000_000)
    ap.add_argument("--half", action="store_true", help="--gpu-scale: fp16 scores")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=3, help="best-of-N timing for every method (shared machines)")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch CPU threads (default 1: fair against the single-threaded loop, and stable on "
                         "a shared machine; 0 = torch's choice)")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                    help="wall time, or this thread's CPU time (needs --threads 1 and a CPU device): steadier "
                         "on a busy shared machine")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args()
    if args.clock == "cpu":
        if args.threads != 1 or args.device != "cpu" or args.gpu_scale:
            ap.error("--clock cpu measures one CPU thread: use it with --threads 1 on the CPU")
        global CLOCK
        CLOCK = time.thread_time
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.gpu_scale:
        rows = [gpu_scale(args)]
        print(json.dumps(rows[0], indent=2))
    else:
        rows = [run_scale(*(int(x) for x in spec.lower().split("x")), args) for spec in args.scales.split(",")]
        print_table(rows, args)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()

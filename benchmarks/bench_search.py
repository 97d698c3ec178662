"""Exact top-10 at scale on CPU: the previous engine vs exact fp32 vs compact-exact int8 vs faiss IVF, one run.

For each gallery size × dimension (random unit rows, seeded) every method answers the same queries,
**interleaved** (query j goes to each method in turn, so machine load hits them alike); latencies are per
query (batch of one, as `cl2cm serve` ranks), p50/p99 over the queries, queries/s = 1 / mean latency.

* before  — the engine before compact-exact (per 65,536-row chunk: fp32 GEMM, `topk` + boundary ties).
* exact   — `top_k` with the fp32 first pass (`Gallery(compact="off")`).
* int8    — `top_k` with the int8 compact copy (`compact="int8"`, opt-in: `choose_codec` keeps fp32 by default).
* ivf     — faiss IVF-Flat (`cl2cm serve --index ivf`), nlist ≈ √N, for each nprobe; recall@10 vs exact.

exact and int8 must return identical ids and scores for every query (asserted); `before` must return the
same ids wherever its scores have no near-tie at the k-th place (asserted on the ids it shares).

    nice -n 10 .venv/bin/python benchmarks/bench_search.py --sizes 100000x128,1000000x128,1000000x512
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from cl2cm.retrieval.compact import PreparedGallery, top_k_prepared  # noqa: E402

K = 10


def before_top_k(q: torch.Tensor, gallery: torch.Tensor, k: int, chunk: int = 65536
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """The previous `top_k` (commit 4404fef), kept here as the baseline."""
    best_s = torch.empty(q.shape[0], 0)
    best_i = torch.empty(q.shape[0], 0, dtype=torch.long)
    for lo in range(0, gallery.shape[0], chunk):
        g = gallery[lo:lo + chunk]
        s = torch.cat([best_s, q @ g.T], 1)
        i = torch.cat([best_i, torch.arange(lo, lo + g.shape[0]).expand(q.shape[0], -1)], 1)
        if s.shape[1] > k:
            top = torch.topk(s, k, dim=1)
            m = int((s >= top.values[:, -1:]).sum(1).max())
            if m > k:
                top = torch.topk(s, m, dim=1)
            s, i = top.values, i.gather(1, top.indices)
        by_index = torch.sort(i, dim=1, stable=True)
        s, i = s.gather(1, by_index.indices), by_index.values
        order = torch.sort(s, dim=1, descending=True, stable=True).indices[:, :k]
        best_s, best_i = s.gather(1, order), i.gather(1, order)
    return best_s, best_i


def pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


def stats(lat: list[float]) -> dict[str, float]:
    return {"n": len(lat), "qps": 1.0 / statistics.fmean(lat), "p50_ms": 1000 * pct(lat, 50),
            "p99_ms": 1000 * pct(lat, 99)}


def bench_size(n: int, d: int, args: argparse.Namespace) -> dict[str, Any]:
    g = torch.Generator().manual_seed(0)
    rows = torch.empty(n, d)
    for lo in range(0, n, 1 << 16):  # normalised in chunks: no second 2 GB temporary
        hi = min(n, lo + (1 << 16))
        rows[lo:hi] = torch.nn.functional.normalize(torch.randn(hi - lo, d, generator=g), dim=-1)
    queries = torch.nn.functional.normalize(torch.randn(args.queries, d, generator=g), dim=-1)
    out: dict[str, Any] = {"rows": n, "dim": d}
    t = time.perf_counter()
    exact = PreparedGallery(rows, "fp32")
    out["prepare_exact_s"] = time.perf_counter() - t
    t = time.perf_counter()
    int8 = PreparedGallery(rows, "int8")
    out["prepare_int8_s"] = time.perf_counter() - t
    out["bytes_per_row"] = {"exact": exact.bytes_per_row(), "int8": int8.bytes_per_row()}
    methods: dict[str, Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]] = {
        "before": lambda q: before_top_k(q, rows, K),
        "exact": lambda q: top_k_prepared(exact, q, K),
        "int8": lambda q: top_k_prepared(int8, q, K),
    }
    ivf = None
    if args.ann:
        from cl2cm.serve.ann import IVFIndex

        t = time.perf_counter()
        ivf = IVFIndex(rows, nprobe=1)
        out["ivf_build_s"], out["nlist"] = time.perf_counter() - t, ivf.nlist
        for nprobe in args.nprobe:
            def run(q: torch.Tensor, p: int = nprobe) -> tuple[torch.Tensor, torch.Tensor]:
                ivf.set_nprobe(p)
                s, i = ivf.search(q, K)
                return torch.as_tensor(s), torch.as_tensor(i)
            methods[f"ivf{nprobe}"] = run
    for f in methods.values():  # warm-up
        f(queries[:1])
    lat: dict[str, list[float]] = {m: [] for m in methods}
    res: dict[str, list[tuple[torch.Tensor, torch.Tensor]]] = {m: [] for m in methods}
    for j in range(args.queries):
        q = queries[j:j + 1]
        for m, f in methods.items():
            t = time.perf_counter()
            r = f(q)
            lat[m].append(time.perf_counter() - t)
            res[m].append(r)
    for j in range(args.queries):
        assert torch.equal(res["int8"][j][1], res["exact"][j][1]), "int8 and exact disagree"
        assert torch.equal(res["int8"][j][0], res["exact"][j][0]), "int8 and exact scores differ"
    same_before = sum(torch.equal(res["before"][j][1], res["exact"][j][1]) for j in range(args.queries))
    out["before_same_ids"] = same_before
    out["methods"] = {}
    for m in methods:
        row = stats(lat[m])
        if m.startswith("ivf"):
            row["recall_at_10"] = statistics.fmean(
                len(set(res[m][j][1][0].tolist()) & set(res["exact"][j][1][0].tolist())) / K
                for j in range(args.queries))
        out["methods"][m] = row
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="100000x128,1000000x128,1000000x512", help="ROWSxDIM,...")
    ap.add_argument("--queries", type=int, default=50, help="queries per size (each runs every method)")
    ap.add_argument("--threads", type=int, default=1, help="torch (and faiss) threads")
    ap.add_argument("--no-ann", dest="ann", action="store_false", help="skip faiss IVF")
    ap.add_argument("--nprobe", type=int, nargs="+", default=[32, 128], help="IVF lists probed")
    ap.add_argument("--json", type=Path, help="write the results here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.ann:
        import faiss

        faiss.omp_set_num_threads(args.threads)
    results = {"k": K, "threads": args.threads, "queries": args.queries, "sizes": []}
    for size in args.sizes.split(","):
        n, d = (int(x) for x in size.lower().split("x"))
        r = bench_size(n, d, args)
        results["sizes"].append(r)
        print(f"\n{n:,} rows × {d}, k={K}, {args.queries} queries interleaved, {args.threads} thread(s); "
              f"bytes/row exact {r['bytes_per_row']['exact']}, int8 {r['bytes_per_row']['int8']}; "
              f"int8 copy built in {r['prepare_int8_s']:.1f} s"
              + (f"; IVF nlist {r['nlist']} built in {r['ivf_build_s']:.1f} s" if "nlist" in r else ""))
        print(f"{'method':10s} {'queries/s':>10s} {'p50 ms':>8s} {'p99 ms':>8s} {'recall@10':>10s}")
        for m, s in r["methods"].items():
            rec = f"{s['recall_at_10']:.3f}" if "recall_at_10" in s else "1 (exact)"
            print(f"{m:10s} {s['qps']:10.1f} {s['p50_ms']:8.1f} {s['p99_ms']:8.1f} {rec:>10s}")
        b, e, i = (r["methods"][m]["p50_ms"] for m in ("before", "exact", "int8"))
        print(f"p50 ratio: before/int8 {b / i:.2f}×, exact/int8 {e / i:.2f}×, before/exact {b / e:.2f}×; "
              f"before returned the same ids on {r['before_same_ids']}/{args.queries} queries")
        if args.json:
            args.json.write_text(json.dumps(results, indent=2) + "\n")
        del r


if __name__ == "__main__":
    main()

"""`cl2cm serve`: queries/s and p50/p99 latency for k=10, against the naive ways, side by side.

Two galleries, both exact (the server has no approximate index):

* demo   — the demo's student and its 500-image test store (`make demo`), served over real HTTP on
           127.0.0.1; naive = one `cl2cm search` process per query (what a user had before `serve`).
* 1M     — the same student's text encoder over a synthetic store of 1,000,000 random unit rows (the
           student's dimension); ours = the server's ranking (chunked `topk` + boundary ties), over HTTP and
           in-process; naive = encode + one stable sort of the full score row per query, in-process.

With `--ann`, faiss IVF-Flat (`cl2cm serve --index ivf`) over the same 1M rows: build time, queries/s and
recall@10 against the exact top-10 for several nprobe. Random unit rows have no cluster structure, so this
is IVF's worst case; real embeddings cluster and recall more at the same nprobe.

Every query text is distinct (German test captions of the demo world), so the query-embedding cache never
helps. Ours and the naive way must return the same top-10 ids for every query they share; the script
asserts that before printing. Concurrency: `--clients` threads each send requests back to back.

    .venv/bin/python benchmarks/bench_serve.py --demo runs/demo
    .venv/bin/python benchmarks/bench_serve.py --demo runs/demo --rows 1000000 --ann --json bench_serve.json
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import quote

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from cl2cm.retrieval.search import Gallery  # noqa: E402
from cl2cm.serve import SearchIndex  # noqa: E402
from cl2cm.serve.app import create_app  # noqa: E402
from cl2cm.serve.server import bind_socket, make_server, url_of  # noqa: E402

K = 10


def pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


def summary(latencies: list[float], wall: float) -> dict[str, float]:
    return {"n": len(latencies), "qps": len(latencies) / wall, "p50_ms": 1000 * pct(latencies, 50),
            "p99_ms": 1000 * pct(latencies, 99), "mean_ms": 1000 * statistics.fmean(latencies)}


class Live:
    """The app on a real uvicorn server in a thread, on 127.0.0.1 and a free port."""

    def __init__(self, index: SearchIndex, workers: int) -> None:
        sock = bind_socket("127.0.0.1", 0)
        self.host, self.port = sock.getsockname()[:2]
        self.url = url_of(sock)
        ready = threading.Event()
        self.server = make_server(create_app(index, workers=workers, max_pending=10_000), on_started=ready.set)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True)
        self.thread.start()
        if not ready.wait(60):
            raise RuntimeError("server did not start")
        self._local = threading.local()

    def search(self, text: str) -> list[str]:
        conn = getattr(self._local, "conn", None)
        if conn is None:  # one keep-alive connection per client thread
            conn = self._local.conn = http.client.HTTPConnection(self.host, self.port, timeout=600)
        conn.request("GET", f"/api/search?q={quote(text)}&k={K}")
        r = conn.getresponse()
        body = r.read()
        if r.status != 200:
            raise RuntimeError(f"{r.status}: {body[:200]!r}")
        return [h["id"] for h in json.loads(body)["results"]]

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)


def timed(fn: Callable[[str], Any], texts: list[str], clients: int = 1, warm_up: bool = True
          ) -> tuple[dict[str, float], list[Any]]:
    """Latency per call and throughput over `texts` (after one untimed call with a text not in them)."""
    if warm_up:
        fn("Aufwärmen")
    lat: list[float] = [0.0] * len(texts)
    out: list[Any] = [None] * len(texts)

    def one(j: int) -> None:
        t = time.perf_counter()
        out[j] = fn(texts[j])
        lat[j] = time.perf_counter() - t

    t0 = time.perf_counter()
    if clients == 1:
        for j in range(len(texts)):
            one(j)
    else:
        with ThreadPoolExecutor(clients) as ex:
            list(ex.map(one, range(len(texts))))
    return summary(lat, time.perf_counter() - t0), out


def german_queries(demo: Path, n: int) -> list[str]:
    lines = (demo / "world" / "test.de.jsonl").read_text(encoding="utf-8").splitlines()
    texts = list(dict.fromkeys(json.loads(x)["text"] for x in lines))
    if len(texts) < n:
        texts += [f"{t} ({i})" for i in range(1, n // len(texts) + 2) for t in texts]
    return texts[:n]


def cli_search_process(demo: Path, text: str) -> list[str]:
    """The naive way: a fresh `cl2cm search` process per query (start-up, model and store load, encode)."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    out = subprocess.run([sys.executable, "-m", "cl2cm", "search", "--model", str(demo / "student"), "--features",
                          str(demo / "features" / "test"), text, "--k", str(K), "--device", "cpu"],
                         capture_output=True, text=True, env=env, check=True).stdout
    return [line.split("│")[2].strip() for line in out.splitlines() if line.startswith("│")]


def bench_demo(args: argparse.Namespace, texts: list[str]) -> dict[str, Any]:
    index = SearchIndex.load(args.demo / "student", args.demo / "features" / "test", device="cpu")
    live = Live(index, workers=args.workers)
    try:
        seq, ids = timed(live.search, texts[:args.queries])
        par, par_ids = timed(live.search, texts[args.queries:2 * args.queries], clients=args.clients)
    finally:
        live.close()
    naive, naive_ids = timed(lambda t: cli_search_process(args.demo, t), texts[:args.naive_queries], warm_up=False)
    assert naive_ids == ids[:args.naive_queries], "cl2cm search and the server disagree"
    return {"gallery": len(index), "serve_sequential": seq, f"serve_{args.clients}_clients": par,
            "naive_cli_process": naive, "ratio_qps_sequential": seq["qps"] / naive["qps"],
            "ratio_qps_parallel": par["qps"] / naive["qps"]}


def bench_synthetic(args: argparse.Namespace, texts: list[str]) -> dict[str, Any]:
    small = SearchIndex.load(args.demo / "student", args.demo / "features" / "test", device="cpu")
    model, dim = small.gallery.model, small.gallery.emb.shape[1]
    g = torch.Generator().manual_seed(0)
    emb = torch.nn.functional.normalize(torch.randn(args.rows, dim, generator=g), dim=-1)
    ids = [f"row-{i:07d}" for i in range(args.rows)]
    index = SearchIndex(Gallery(model=model, ids=ids, emb=emb, device=torch.device("cpu")))
    n = args.synthetic_queries

    def naive(text: str) -> list[str]:
        with torch.no_grad():
            q = model.encode_text([text.strip()])
        order = torch.sort(q @ emb.T, dim=1, descending=True, stable=True).indices[0, :K]
        return [ids[j] for j in order.tolist()]

    inproc, ours_ids = timed(lambda t: [i for i, _ in index.search(t, K)], texts[:n])
    naive_stats, naive_ids = timed(naive, texts[:n])
    assert ours_ids == naive_ids, "chunked top-k and the full sort disagree"
    live = Live(SearchIndex(index.gallery), workers=args.workers)  # a fresh query cache
    try:
        http_seq, http_ids = timed(live.search, texts[:n])
        http_par, _ = timed(live.search, texts[n:2 * n], clients=args.clients)
    finally:
        live.close()
    assert http_ids == ours_ids
    out = {"gallery": args.rows, "dim": int(dim), "serve_http_sequential": http_seq,
           f"serve_http_{args.clients}_clients": http_par, "ours_in_process": inproc,
           "naive_full_sort_in_process": naive_stats, "ratio_in_process": inproc["qps"] / naive_stats["qps"],
           "ratio_http_vs_naive_in_process": http_seq["qps"] / naive_stats["qps"]}
    if args.ann:
        out["ivf"] = bench_ivf(args, index, texts[:n], ours_ids)
    return out


def bench_ivf(args: argparse.Namespace, exact: SearchIndex, texts: list[str], exact_ids: list[list[str]]
              ) -> dict[str, Any]:
    """faiss IVF-Flat over the same rows: build time, then queries/s and recall@10 against the exact top-10."""
    t = time.perf_counter()
    ivf = SearchIndex(exact.gallery, index="ivf", nlist=args.nlist, nprobe=1)
    build = time.perf_counter() - t
    # Scoring only: both indexes have every query embedding cached (the exact one from its timed run).
    for text in texts:
        ivf.search(text, K)
    exact_stats, ids = timed(lambda text: [i for i, _ in exact.search(text, K)], texts)
    assert ids == exact_ids
    rows = [{"nprobe": "exact", "recall_at_10": 1.0, **exact_stats}]
    for nprobe in args.nprobe:
        ivf.approximate.set_nprobe(nprobe)
        stats, ids = timed(lambda text: [i for i, _ in ivf.search(text, K)], texts)
        recall = statistics.fmean(len(set(a) & set(b)) / K for a, b in zip(ids, exact_ids, strict=True))
        rows.append({"nprobe": ivf.approximate.nprobe, "recall_at_10": recall, **stats})
    return {"nlist": ivf.approximate.nlist, "build_s": build, "rows": rows}


def table(title: str, rows: list[tuple[str, dict[str, float]]]) -> str:
    out = [f"\n{title}", f"{'':38s} {'queries/s':>10s} {'p50 ms':>9s} {'p99 ms':>9s}  n"]
    for name, r in rows:
        out.append(f"{name:38s} {r['qps']:10.1f} {r['p50_ms']:9.1f} {r['p99_ms']:9.1f}  {r['n']}")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--demo", type=Path, default=REPO / "runs" / "demo", help="a finished `cl2cm demo --out` run")
    ap.add_argument("--queries", type=int, default=200, help="HTTP queries per measurement (demo gallery)")
    ap.add_argument("--naive-queries", type=int, default=5, help="`cl2cm search` processes to time")
    ap.add_argument("--rows", type=int, default=1_000_000, help="synthetic store rows (0: skip)")
    ap.add_argument("--synthetic-queries", type=int, default=30, help="queries per measurement (synthetic)")
    ap.add_argument("--clients", type=int, default=8, help="concurrent client threads")
    ap.add_argument("--workers", type=int, default=2, help="server worker threads (cl2cm serve --workers)")
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads (0: torch's default)")
    ap.add_argument("--ann", action="store_true", help="also faiss IVF-Flat on the synthetic store (recall@10)")
    ap.add_argument("--nlist", type=int, default=0, help="IVF lists (0: about √rows)")
    ap.add_argument("--nprobe", type=int, nargs="+", default=[8, 32, 128, 512],
                    help="IVF lists probed per query")
    ap.add_argument("--json", type=Path, help="write the results here")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if not (args.demo / "student" / "manifest.json").exists():
        sys.exit(f"bench_serve: no finished demo run at {args.demo} (run `make demo` first)")
    texts = german_queries(args.demo, 2 * max(args.queries, args.synthetic_queries))
    results: dict[str, Any] = {"k": K, "threads": torch.get_num_threads(), "workers": args.workers,
                               "clients": args.clients, "demo": bench_demo(args, texts)}
    d = results["demo"]
    print(table(f"demo gallery ({d['gallery']} images), k={K}, CPU, torch threads {results['threads']}", [
        ("cl2cm serve, 1 client (HTTP)", d["serve_sequential"]),
        (f"cl2cm serve, {args.clients} clients (HTTP)", d[f"serve_{args.clients}_clients"]),
        ("naive: one `cl2cm search` process each", d["naive_cli_process"])]))
    print(f"ratio queries/s: {d['ratio_qps_sequential']:.0f}× (1 client), {d['ratio_qps_parallel']:.0f}× "
          f"({args.clients} clients)")
    if args.rows:
        results["synthetic"] = s = bench_synthetic(args, texts)
        print(table(f"synthetic store ({s['gallery']:,} rows × {s['dim']}), k={K}, exact, CPU", [
            ("cl2cm serve, 1 client (HTTP)", s["serve_http_sequential"]),
            (f"cl2cm serve, {args.clients} clients (HTTP)", s[f"serve_http_{args.clients}_clients"]),
            ("ours in-process (chunked topk)", s["ours_in_process"]),
            ("naive in-process (full stable sort)", s["naive_full_sort_in_process"])]))
        print(f"ratio queries/s in-process ours/naive: {s['ratio_in_process']:.2f}×; "
              f"HTTP ours / naive in-process: {s['ratio_http_vs_naive_in_process']:.2f}×")
        if "ivf" in s:
            v = s["ivf"]
            print(f"\nfaiss IVF-Flat, nlist {v['nlist']} (build {v['build_s']:.1f} s), in-process, query "
                  f"embeddings cached (scoring only), recall vs the exact top-{K}")
            print(f"{'nprobe':>8s} {'recall@10':>10s} {'queries/s':>10s} {'p50 ms':>9s} {'p99 ms':>9s}")
            for r in v["rows"]:
                print(f"{r['nprobe']:>8} {r['recall_at_10']:10.3f} {r['qps']:10.1f} {r['p50_ms']:9.1f} "
                      f"{r['p99_ms']:9.1f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()

"""IVF recall and exact/compact speed on *real student embeddings* of a large generated gallery.

Random unit vectors are IVF's worst case (no clusters); this measures the same trade on what a student
actually outputs: N demo-world scenes (the demo's scene sampler and renderer, 64 px), encoded by the
student's recorded frozen visual encoder and its visual head, in memory (no files), queried by the German
test captions of the demo world through the student's text tower. Exact top-10 (fp32 first pass), int8
compact-exact (asserted identical) and faiss IVF-Flat at several nprobe (recall@10 vs exact), queries
interleaved, one thread.

    nice -n 10 .venv/bin/python benchmarks/bench_ivf_real.py --demo /work/ref/demo-small --rows 50000
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_search import pct  # noqa: E402

from cl2cm.demo.scene import sample_scene  # noqa: E402
from cl2cm.demo.world import render_scene  # noqa: E402
from cl2cm.models import load_model  # noqa: E402
from cl2cm.retrieval.compact import PreparedGallery, top_k_prepared  # noqa: E402
from cl2cm.serve.ann import IVFIndex  # noqa: E402

K = 10


def gallery_embeddings(student: object, n: int, seed: int, batch: int = 512) -> torch.Tensor:
    enc = student.image_encoder()  # type: ignore[attr-defined]
    rng = random.Random(seed)
    out = []
    for lo in range(0, n, batch):
        imgs = [render_scene(sample_scene(rng), rng)[0] for _ in range(min(batch, n - lo))]
        pixels = torch.stack([enc.transform(im) for im in imgs])
        pooled, tokens = enc.encode(pixels)
        store = SimpleNamespace(features=pooled.half().cpu(), mask=None,
                                extra={} if tokens is None else {"tokens": tokens.half().cpu()})
        out.append(student.encode_store(store))  # type: ignore[attr-defined]
    return torch.cat(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--demo", type=Path, required=True, help="a finished demo run (student + world)")
    ap.add_argument("--rows", type=int, default=50_000)
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--nprobe", type=int, nargs="+", default=[1, 4, 16, 64])
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.set_grad_enabled(False)
    import faiss

    faiss.omp_set_num_threads(1)
    student = load_model(args.demo / "student", torch.device("cpu"))
    t = time.perf_counter()
    emb = gallery_embeddings(student, args.rows, seed=12345)
    embed_s = time.perf_counter() - t
    lines = (args.demo / "world" / "test.de.jsonl").read_text(encoding="utf-8").splitlines()
    texts = list(dict.fromkeys(json.loads(x)["text"] for x in lines))[:args.queries]
    q = student.encode_text(texts)
    exact, int8 = PreparedGallery(emb, "fp32"), PreparedGallery(emb, "int8")
    t = time.perf_counter()
    ivf = IVFIndex(emb, nprobe=1)
    build_s = time.perf_counter() - t
    methods = {"exact": lambda x: top_k_prepared(exact, x, K)[1][0].tolist(),
               "int8": lambda x: top_k_prepared(int8, x, K)[1][0].tolist()}
    for p in args.nprobe:
        def run(x: torch.Tensor, p: int = p) -> list[int]:
            ivf.set_nprobe(p)
            return ivf.search(x, K)[1][0].tolist()
        methods[f"ivf{p}"] = run
    lat: dict[str, list[float]] = {m: [] for m in methods}
    res: dict[str, list[list[int]]] = {m: [] for m in methods}
    for j in range(len(texts)):
        for m, f in methods.items():
            t = time.perf_counter()
            res[m].append(f(q[j:j + 1]))
            lat[m].append(time.perf_counter() - t)
    assert res["int8"] == res["exact"], "int8 and exact disagree"
    print(f"{args.rows:,} generated scenes → student embeddings (dim {emb.shape[1]}) in {embed_s:.0f} s; "
          f"{len(texts)} German test captions as queries; IVF nlist {ivf.nlist} built in {build_s:.1f} s")
    print(f"{'method':8s} {'queries/s':>10s} {'p50 ms':>8s} {'p99 ms':>8s} {'recall@10':>10s}")
    out = {"rows": args.rows, "dim": int(emb.shape[1]), "queries": len(texts), "nlist": ivf.nlist,
           "embed_s": embed_s, "ivf_build_s": build_s, "methods": {}}
    for m in methods:
        rec = statistics.fmean(len(set(a) & set(b)) / K for a, b in zip(res[m], res["exact"], strict=True))
        row = {"qps": 1 / statistics.fmean(lat[m]), "p50_ms": 1000 * pct(lat[m], 50),
               "p99_ms": 1000 * pct(lat[m], 99), "recall_at_10": rec}
        out["methods"][m] = row
        print(f"{m:8s} {row['qps']:10.1f} {row['p50_ms']:8.1f} {row['p99_ms']:8.1f} {rec:10.3f}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()

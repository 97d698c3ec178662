"""What the checksums cost: hash throughput (xxh3-128, ours, vs hashlib.sha256, the naive choice, and
blake3 when installed) and the load time of a feature store with and without its verification.

    .venv/bin/python benchmarks/bench_checksum.py --rows 100000 --dim 512

"without" is the same `load_store` with the tensor digest check replaced by a no-op (the
code path before checksums), timed in the same run, best of --repeat, files in the page cache.
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from unittest import mock

import torch


def best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    import xxhash

    from cl2cm.artifacts import store as store_mod
    from cl2cm.artifacts.checksum import file_digest
    from cl2cm.artifacts.manifest import Manifest
    from cl2cm.artifacts.store import load_store, save_store

    torch.manual_seed(0)
    feats = torch.randn(args.rows, args.dim).half()
    buf = memoryview(feats.view(torch.uint8).numpy().reshape(-1))
    mb = len(buf) / 1e6
    print(f"hash throughput on {mb:.0f} MB (best of {args.repeat}):")
    hashes = {"xxh3_128 (ours)": lambda: xxhash.xxh3_128(buf).hexdigest(),
              "sha256 (naive)": lambda: hashlib.sha256(buf).hexdigest()}
    try:
        import blake3

        hashes["blake3"] = lambda: blake3.blake3(buf).hexdigest()
    except ImportError:
        print("  blake3: not installed")
    speed = {name: mb / 1e3 / best(fn, args.repeat) for name, fn in hashes.items()}
    for name, gbs in speed.items():
        print(f"  {name:16s} {gbs:6.2f} GB/s")
    print(f"  ratio xxh3_128 / sha256: {speed['xxh3_128 (ours)'] / speed['sha256 (naive)']:.1f}x")

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp) / "store"
        ids = [f"img-{i:07d}.jpg" for i in range(args.rows)]
        save_store(d, feats, ids, Manifest(kind="features", model={"name": "bench"}))
        load = lambda: load_store(d)  # noqa: E731
        load()
        with_check = without = float("inf")
        for _ in range(args.repeat):  # interleaved, so a change in the machine's load hits both alike
            with_check = min(with_check, best(load, 1))
            with mock.patch.object(store_mod, "check_tensors", lambda *a, **k: None):
                without = min(without, best(load, 1))
        t0 = time.perf_counter()
        file_digest(d / "features.safetensors")
        full = time.perf_counter() - t0
    print(f"load_store of {args.rows:,} x {args.dim} float16 ({mb:.0f} MB): {without * 1e3:.0f} ms without the "
          f"check, {with_check * 1e3:.0f} ms with it: +{100 * (with_check / without - 1):.1f} %")
    print(f"whole-file digest of features.safetensors (what `cl2cm verify` adds per file): {full * 1e3:.0f} ms")


if __name__ == "__main__":
    main()

"""benchmarks/bench_checkpoint.py must not rot: a tiny run measures both checkpoints, smaller than the model."""

from __future__ import annotations

import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_bench_checkpoint_measures_both_files_without_frozen_weights(tiny_bert_dir: Path, multi30k_slice: Path,
                                                                     tmp_path: Path) -> None:
    data = tmp_path / "multi30k"
    data.mkdir()
    for split, n in (("train", 32), ("test_2016_flickr", 32)):
        for lang in ("en", "de"):
            lines = (multi30k_slice / f"{split}.{lang}").read_text(encoding="utf-8").splitlines()[:n]
            (data / f"{split}.{lang}").write_text("".join(f"{x}\n" for x in lines), encoding="utf-8")
        (data / f"{split}.txt").write_text("".join(f"{split}{i}.jpg\n" for i in range(n)), encoding="utf-8")
    spec = importlib.util.spec_from_file_location("bench_checkpoint", REPO / "benchmarks" / "bench_checkpoint.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    res = bench.main(["--encoder", str(tiny_bert_dir), "--data", str(data), "--lines", "32", "--batch-size", "8",
                      "--max-length", "16", "--epochs", "2"])
    assert [s["file"] for s in res["saves"]].count("last.safetensors") == 2 == len(res["save_s_per_epoch"])
    # default --train-layers on 2 layers trains both, but the embeddings and pooler stay frozen and out
    assert 0 < res["best_bytes"] < res["model_bytes"] and len(res["fingerprint_s"]) == 1

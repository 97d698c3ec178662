"""translate / extract-features / eval under `torchrun --nproc_per_node 2` (gloo, CPU) = one process.

Each rank takes shard RANK of WORLD_SIZE of the chunks, the ranks meet at a barrier and rank 0 merges and
writes the manifest: the artifacts must equal a one-process run's byte for byte (eval: identical metrics and
ranks, the query blocks split over the ranks and the exact counts summed).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from cl2cm.distributed import StageRanks, stage_ranks
from cl2cm.errors import UserError
from needs import need_numba

REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(REPO / "src"), "OMP_NUM_THREADS": "1"}


def cl2cm(args: list[str], *, nproc: int = 1) -> subprocess.CompletedProcess:
    launcher = ([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc)]
                if nproc > 1 else [sys.executable])
    proc = subprocess.run([*launcher, "-m", "cl2cm", *args], env=ENV, capture_output=True, text=True, timeout=300,
                          check=False)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    return proc


def same_artifact(one: Path, two: Path, files: list[str]) -> None:
    """Equal files, nothing left behind (parts, locks), manifests equal but for time and command line."""
    assert sorted(p.name for p in two.iterdir()) == sorted(p.name for p in one.iterdir())
    for name in files:
        assert (one / name).read_bytes() == (two / name).read_bytes(), name
    m1, m2 = (json.loads((d / "manifest.json").read_text()) for d in (one, two))
    for m in (m1, m2):
        m.pop("created"), m.pop("command")
    assert m1 == m2


WORDS = "a man woman dog child walks runs sits on in the park street water red blue small big ball".split()


def sentences(n: int, seed: int) -> list[str]:
    rng = torch.Generator().manual_seed(seed)
    return [" ".join(WORDS[int(i)] for i in torch.randint(0, len(WORDS), (int(k),), generator=rng)).capitalize() + "."
            for k in torch.randint(3, 12, (n,), generator=rng)]


def translate_args(tmp_path: Path, backend: str) -> list[str]:
    from cl2cm.artifacts.captions import Caption, write_captions
    from cl2cm.translation.tiny import build_tiny_marian

    model = build_tiny_marian(tmp_path / "marian", sentences(400, 1), vocab_size=120, d_model=32, layers=1)
    texts = sentences(60, 2)
    texts += texts[:10]  # repeats: deduplicated across chunks and ranks alike
    src = tmp_path / "en.jsonl"
    write_captions(src, [Caption(f"i{i}#0", f"i{i}", "en", t) for i, t in enumerate(texts)])
    return ["translate", str(src), "--to", "de", "--model", str(model), "--backend", backend, "--chunk-size", "8",
            "--device", "cpu"]


@pytest.mark.slow  # three interpreter starts with transformers: ~1 min on 2 busy cores
@pytest.mark.parametrize("backend", ["hf", "ct2"])
def test_translate_under_torchrun_equals_one_process(tmp_path: Path, backend: str) -> None:
    """ct2: both ranks convert the model at once into the parts directory; the first rename wins."""
    if backend == "ct2":
        pytest.importorskip("ctranslate2")
    args = translate_args(tmp_path, backend)
    cl2cm([*args, "--out", str(tmp_path / "one")])
    cl2cm([*args, "--out", str(tmp_path / "two")], nproc=2)
    same_artifact(tmp_path / "one", tmp_path / "two", ["de.jsonl"])


def test_extract_features_under_torchrun_equals_one_process(tmp_path: Path, tiny_clip_config: Path) -> None:
    sys.path.insert(0, str(REPO / "benchmarks"))
    from bench_features import make_jpegs

    imgs = tmp_path / "imgs"
    imgs.mkdir()
    make_jpegs(imgs, 30, (120, 90), 0)
    args = ["extract-features", str(imgs), "--model", str(tiny_clip_config), "--pretrained", "none", "--tokens", "--chunk-size", "4",
            "--batch-size", "4", "--workers", "0", "--device", "cpu"]
    cl2cm([*args, "--out", str(tmp_path / "one")])
    cl2cm([*args, "--out", str(tmp_path / "two")], nproc=2)
    # Same chunks, same batches: the fp16 features are bitwise equal here (the issue allows fp16 rounding).
    same_artifact(tmp_path / "one", tmp_path / "two", ["features.safetensors", "ids.txt", "skipped.jsonl"])


@pytest.mark.parametrize("kernel", ["torch", "numba"])
def test_eval_under_torchrun_splits_queries_and_gives_identical_metrics(tmp_path: Path, kernel: str) -> None:
    """Two ranks (with either counting kernel) write what one process with the torch kernel writes."""
    if kernel == "numba":
        need_numba()
    from cl2cm.artifacts.manifest import Manifest
    from cl2cm.artifacts.store import save_store

    gen = torch.Generator().manual_seed(0)
    g = torch.nn.functional.normalize(torch.randn(200, 16, generator=gen), dim=-1)
    idx = torch.randperm(1000, generator=gen) % 200
    q = torch.nn.functional.normalize(g[idx] + torch.randn(1000, 16, generator=gen), dim=-1)
    q[7] = q[3]  # exact ties between queries count the same on every rank
    save_store(tmp_path / "q", q, [f"c{i}" for i in range(1000)], Manifest(kind="embeddings"),
               images=[f"i{j}" for j in idx.tolist()])
    save_store(tmp_path / "g", g, [f"i{j}" for j in range(200)], Manifest(kind="embeddings"))
    args = ["eval", "--query-emb", str(tmp_path / "q"), "--gallery-emb", str(tmp_path / "g"), "--query-block", "64",
            "--device", "cpu", "--recall-at", "1,5,10,50"]
    cl2cm([*args, "--out", str(tmp_path / "m1.json"), "--ranks", str(tmp_path / "r1.jsonl")])
    proc = cl2cm([*args, "--out", str(tmp_path / "m2.json"), "--ranks", str(tmp_path / "r2.jsonl"), "--rank-kernel",
                  kernel], nproc=2)
    assert (tmp_path / "m1.json").read_bytes() == (tmp_path / "m2.json").read_bytes()
    assert (tmp_path / "r1.jsonl").read_bytes() == (tmp_path / "r2.jsonl").read_bytes()
    assert proc.stdout.count("SumR") == 1  # one table, from rank 0


def test_stage_ranks_without_torchrun_is_the_shard_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert stage_ranks(None) == StageRanks(0, 1)
    assert stage_ranks("2/3").shard == (2, 3) and not stage_ranks("2/3").collective


def test_shard_flag_under_torchrun_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(UserError, match="under torchrun"):
        stage_ranks("0/2")

"""Real architecture sizes on CPU (slow): every stage runs at the size it has on a GPU, a few steps each.

mBERT (12 × 768, vocab 119,547) and XLM-R-base (12 × 768, vocab 250,002) random-init encoders through
train-teacher and distill; ViT-B/32 and ViT-B/16 (`--pretrained none`) through extract-features --tokens;
an opus-mt-en-de-sized Marian (6+6 × 512, vocab 58,101) through translate on 200 captions. Each command runs
as its own process, as a user runs it; its peak RSS (wait4) and wall time are printed (`-s`) and bounded.
docs/performance.md records the numbers and the command.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
GIB = 2**30

_SUBJ = ["a man", "a woman", "two dogs", "a little girl", "several men", "a boy", "three children", "a cyclist"]
_VERB = ["is walking", "are playing", "is sitting", "is climbing", "are standing", "is riding", "is holding"]
_OBJ = ["a red ball", "a wooden ladder", "the blue bicycle", "a small boat", "a guitar", "the white fence"]
_WHERE = ["in the park", "on the street", "near the water", "at the beach", "under a tree", "in the snow"]


def captions(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [f"{rng.choice(_SUBJ).capitalize()} {rng.choice(_VERB)} {rng.choice(_OBJ)} {rng.choice(_WHERE)}."
            for _ in range(n)]


def run_cli(args: list[str], name: str) -> tuple[float, float]:
    """Run `python -m cl2cm ARGS` in its own process; (wall seconds, peak RSS GiB). Fails on a non-zero exit."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "OMP_NUM_THREADS": "2"}
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "cl2cm", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    out = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall, rss = time.perf_counter() - t0, usage.ru_maxrss * 1024 / GIB
    print(f"\nSCALE {name}: {wall:.1f} s wall, peak RSS {rss:.2f} GiB")
    assert proc.returncode == 0, out[-4000:]
    return wall, rss


def write_pairs(folder: Path, n_images: int) -> tuple[Path, Path]:
    from cl2cm.artifacts.captions import Caption, write_captions

    en, de = folder / "train.en.jsonl", folder / "train.de.jsonl"
    src, tgt = captions(5 * n_images, 1), captions(5 * n_images, 2)
    ids = [(f"img{i // 5}#{i % 5}", f"img{i // 5}") for i in range(5 * n_images)]
    write_captions(en, [Caption(i, im, "en", t) for (i, im), t in zip(ids, src, strict=True)])
    write_captions(de, [Caption(i, im, "de", t) for (i, im), t in zip(ids, tgt, strict=True)])
    return en, de


def write_token_store(path: Path, n_images: int) -> Path:
    """A ViT-B/32-shaped token store as extract-features --tokens writes it: [N, 49, 768] fp16 patch tokens
    (no CLS) + [N, 512] pooled features."""
    from cl2cm.artifacts.manifest import Manifest
    from cl2cm.artifacts.store import save_store

    gen = torch.Generator().manual_seed(0)
    feats = torch.nn.functional.normalize(torch.randn(n_images, 512, generator=gen), dim=-1)
    tokens = torch.randn(n_images, 49, 768, generator=gen).half()
    return save_store(path, feats, [f"img{i}" for i in range(n_images)],
                      Manifest(kind="features", model={"name": "ViT-B-32", "pretrained": "none"}),
                      extra={"tokens": tokens})


ENCODERS = {
    # name: (builder, total vocabulary); both 12 layers × 768, FFN 3072, 12 heads, 512 positions
    "mbert": ("build_tiny_bert", 119_547),
    "xlmr": ("build_tiny_xlmr", 250_002),
}


@pytest.mark.parametrize("kind", list(ENCODERS))
def test_real_size_encoder_through_teacher_and_distill(kind: str, tmp_path: Path) -> None:
    import cl2cm.models.tiny as tiny

    builder, vocab = ENCODERS[kind]
    enc = getattr(tiny, builder)(tmp_path / kind, captions(2000, 3), vocab_size=3000, hidden=768, layers=12,
                                 heads=12, intermediate=3072, max_length=512, total_vocab=vocab)
    config = json.loads((enc / "config.json").read_text())
    assert config["vocab_size"] == vocab and config["num_hidden_layers"] == 12
    # 2 steps of batch 4 read 8 pairs; distill first embeds every pair with the 12-layer teacher, so more
    # images would only add encoding time (16 images: 160 teacher passes, ~15 s of a loaded 2-core run)
    en, de = write_pairs(tmp_path, 4)
    common = ["--batch-size", "4", "--max-length", "24", "--max-steps", "2", "--epochs", "1", "--log-every", "1"]
    wall, rss = run_cli(["train-teacher", "--src", str(en), "--tgt", str(de), "--encoder", str(enc),
                         "--out", str(tmp_path / "teacher"), *common], f"train-teacher {kind}")
    assert (tmp_path / "teacher" / "manifest.json").exists()
    assert rss < 6.0, f"train-teacher {kind}: peak RSS {rss:.2f} GiB"
    store = write_token_store(tmp_path / "feats", 4)
    wall, rss = run_cli(["distill", "--teacher", str(tmp_path / "teacher"), "--features", str(store),
                         "--visual-input", "tokens", "--src", str(en), "--tgt", str(de),
                         "--out", str(tmp_path / "student"), *[c for c in common if c != "--max-length"
                                                              and c != "24"]], f"distill {kind}")
    assert (tmp_path / "student" / "manifest.json").exists()
    assert rss < 6.0, f"distill {kind}: peak RSS {rss:.2f} GiB"


@pytest.mark.parametrize(("model", "tokens"), [("ViT-B-32", 49), ("ViT-B-16", 196)])  # patch tokens, no CLS
def test_real_size_vit_extract_tokens(model: str, tokens: int, tmp_path: Path) -> None:
    sys.path.insert(0, str(REPO / "benchmarks"))
    from bench_features import make_jpegs

    from cl2cm.artifacts.store import load_store

    imgs = tmp_path / "imgs"
    imgs.mkdir()
    make_jpegs(imgs, 16, (500, 375), 0)
    wall, rss = run_cli(["extract-features", str(imgs), "--out", str(tmp_path / "feats"), "--model", model,
                         "--pretrained", "none", "--tokens", "--batch-size", "8", "--workers", "1",
                         "--device", "cpu"], f"extract-features {model} --tokens")
    store = load_store(tmp_path / "feats", dtype=None)
    assert tuple(store.features.shape) == (16, 512)
    assert tuple(store.extra["tokens"].shape) == (16, tokens, 768)
    assert store.extra["tokens"].dtype == torch.float16  # tokens are stored in half: T × the pooled size
    assert rss < 3.0, f"extract-features {model}: peak RSS {rss:.2f} GiB"


@pytest.mark.parametrize(("backend", "n"), [("ct2", 200), ("hf", 40)])
def test_real_size_marian_translate(backend: str, n: int, tmp_path: Path) -> None:
    """200 captions through ct2; the hf path on 40 (random weights decode every sentence to its length budget,
    and greedy HF generate at this size runs ~1 sentence/s on 2 busy cores: 200 would take minutes)."""
    from cl2cm.artifacts.captions import Caption, read_captions, write_captions
    from cl2cm.translation.tiny import build_tiny_marian

    if backend == "ct2":
        pytest.importorskip("ctranslate2")
    texts = captions(n, 5)
    model = build_tiny_marian(tmp_path / "marian", captions(3000, 6), vocab_size=2000, d_model=512, layers=6,
                              heads=8, ffn=2048, max_length=512, total_vocab=58_101, init_std=0.5)
    src = tmp_path / "en.jsonl"
    write_captions(src, [Caption(f"i{i}#0", f"i{i}", "en", t) for i, t in enumerate(texts)])
    wall, rss = run_cli(["translate", str(src), "--to", "de", "--model", str(model), "--out", str(tmp_path / "mt"),
                         "--backend", backend, "--device", "cpu"], f"translate opus-mt-size {backend}, {n} captions")
    assert len(read_captions(tmp_path / "mt" / "de.jsonl")) == n
    assert rss < 3.0, f"translate: peak RSS {rss:.2f} GiB"

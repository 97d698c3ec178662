"""Shared fixtures: the real caption data in ../shared/data and tiny models built offline."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# One intra-op thread, here and in the subprocesses tests start: the models are tiny, and on a small or
# shared machine OpenMP threads only spin against each other (tiny-BERT steps measured 20-30x slower).
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """GPU tests run where CUDA is present and are skipped (not deleted) elsewhere."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data (Multi30K, COCO-CN, ...), beside the repository as on every machine and in CI."""
    if not SHARED_DATA.exists():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def multi30k(shared_data: Path) -> Path:
    return shared_data / "multi30k"


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory: pytest.TempPathFactory, multi30k: Path) -> Path:
    """A tiny BERT with a WordPiece vocabulary trained on Multi30K en/de/fr/cs, saved with save_pretrained."""
    from cl2cm.models.tiny import build_tiny_bert

    texts: list[str] = []
    for lang in ("en", "de", "fr", "cs"):
        texts += (multi30k / f"train.{lang}").read_text(encoding="utf-8").splitlines()[:3000]
    return build_tiny_bert(tmp_path_factory.mktemp("tiny-bert"), texts, vocab_size=3000)


@pytest.fixture(scope="session")
def tiny_clip_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An open_clip model-config JSON for a tiny random ViT (64 px, patch 16)."""
    from cl2cm.models.tiny import tiny_open_clip_config

    return tiny_open_clip_config(tmp_path_factory.mktemp("clip") / "tiny-vit.json")


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[[list[str]], tuple[int, str, str]]:
    """`cli(argv) -> (exit code, stdout, stderr)` through `cl2cm.cli.main`, as the console script runs it."""
    from cl2cm.cli import main

    def run(argv: list[str]) -> tuple[int, str, str]:
        code = 0
        try:
            main(argv)
        except SystemExit as exc:
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        return code, out, err

    return run

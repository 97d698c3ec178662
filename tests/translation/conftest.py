"""Tiny MT models built offline (random weights, vocabularies trained on the committed caption slice)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cl2cm.artifacts.captions import read_captions


def _lines(path: Path, n: int) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()[:n]


@pytest.fixture(scope="session")
def mt_texts(multi30k_slice: Path, multiscript_slice: Path) -> list[str]:
    """Text for the tiny vocabularies: Multi30K en/de plus Chinese and Ukrainian (non-Latin output)."""
    return (_lines(multi30k_slice / "train.en", 2000) + _lines(multi30k_slice / "train.de", 2000)
            + _lines(multiscript_slice / "val.zh_hans", 500) + _lines(multiscript_slice / "val.uk", 500))


@pytest.fixture(scope="session")
def tiny_marian(tmp_path_factory: pytest.TempPathFactory, mt_texts: list[str]) -> Path:
    """A multi-target MarianMT (`>>de<<`, `>>fr<<`, `>>zh<<`, `>>uk<<`) saved with save_pretrained."""
    from cl2cm.translation.tiny import build_tiny_marian

    return build_tiny_marian(tmp_path_factory.mktemp("marian"), mt_texts, vocab_size=1000,
                             target_tokens=[">>de<<", ">>fr<<", ">>zh<<", ">>uk<<"])


@pytest.fixture(scope="session")
def tiny_nllb(tmp_path_factory: pytest.TempPathFactory, mt_texts: list[str]) -> Path:
    """An NLLB-style M2M100 (FLORES language codes as special tokens, forced BOS)."""
    from cl2cm.translation.tiny import build_tiny_nllb

    return build_tiny_nllb(tmp_path_factory.mktemp("nllb"), mt_texts)


@pytest.fixture
def small_corpus(tmp_path: Path, multi30k_slice: Path) -> Path:
    """60 real test_2016 captions as JSONL, plus 12 rows repeating earlier sentences (dedupe)."""
    recs = read_captions(multi30k_slice / "test_2016_flickr.en")[:60]
    rows = [r.to_dict() for r in recs]
    rows += [{**rows[i], "id": f"dup{i}.jpg#0", "image": f"dup{i}.jpg"} for i in range(0, 60, 5)]
    path = tmp_path / "captions.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path

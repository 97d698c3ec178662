"""`load_model(..., lite=True)`: a saved BERT student encodes text bit-identically without transformers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from cl2cm.artifacts.manifest import Manifest
from cl2cm.models import TextEncoderConfig, load_model
from cl2cm.models.bert_lite import BertLite, supports
from cl2cm.models.student import Student, StudentConfig


@pytest.fixture(scope="module")
def student_dir(tmp_path_factory: pytest.TempPathFactory, tiny_bert_dir: Path) -> Path:
    out = tmp_path_factory.mktemp("lite") / "student"
    torch.manual_seed(0)
    text = TextEncoderConfig(encoder=str(tiny_bert_dir), dim=16, train_layers="all", max_length=24)
    student = Student(StudentConfig(text=text, head="mlp", visual_dim=12, hidden=16,
                                    visual_model={"name": "tiny-vit"}, languages=["de"]))
    with torch.no_grad():  # weights unlike a fresh init, so a wrongly wired layer cannot agree by chance
        for p in student.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    student.save(out, Manifest(kind="student", model={"languages": ["de"]}))
    return out


def test_lite_student_encodes_bit_identically(student_dir: Path, multi30k_slice: Path) -> None:
    full, lite = load_model(student_dir), load_model(student_dir, lite=True)
    assert isinstance(lite.text.backbone, BertLite) and not isinstance(full.text.backbone, BertLite)
    texts = (multi30k_slice / "train.de").read_text(encoding="utf-8").splitlines()[:40]
    texts += ["x", "ein Hund " * 30, "  zwei  Kinder ", "日本語"]  # one-token, truncated, spaces, unknown script
    a, b = full.text.tokenize(texts), lite.text.tokenize(texts)
    assert torch.equal(a["input_ids"], b["input_ids"]) and torch.equal(a["attention_mask"], b["attention_mask"])
    assert a["input_ids"].shape[1] == 24  # truncated to max_length, as transformers does
    assert sorted(full.text.tokenizer.all_special_ids) == lite.text.tokenizer.all_special_ids
    for batch_size in (1, 5, 64):  # unpadded single queries and padded batches
        assert torch.equal(full.encode_text(texts, batch_size=batch_size), lite.encode_text(texts, batch_size=batch_size))
    with torch.no_grad():
        fa, la = full.text(a["input_ids"][:6], a["attention_mask"][:6]), lite.text(b["input_ids"][:6], b["attention_mask"][:6])
    assert torch.equal(fa.tokens, la.tokens) and torch.equal(fa.token_mask, la.token_mask)


def test_what_lite_cannot_rebuild_goes_through_transformers(student_dir: Path) -> None:
    hf = json.loads((student_dir / "config.json").read_text())["backbone"]
    assert supports(hf, student_dir)
    for change in ({"model_type": "xlm-roberta"}, {"position_embedding_type": "relative_key"},
                   {"hidden_act": "gelu_new"}, {"_attn_implementation": "eager"}, {"is_decoder": True}):
        assert not supports({**hf, **change}, student_dir), change
    assert not supports(hf, student_dir.parent)  # no tokenizer.json there


def test_a_one_query_search_imports_no_transformers(student_dir: Path, tmp_path: Path) -> None:
    from cl2cm.artifacts.store import save_store

    save_store(tmp_path / "feats", torch.randn(3, 12), ["a", "b", "c"], Manifest(kind="features",
                                                                                 model={"name": "tiny-vit"}))
    code = ("import sys; from cl2cm.retrieval.search import search; "
            f"r = search({str(student_dir)!r}, {str(tmp_path / 'feats')!r}, ['ein Hund'], k=2, device='cpu', lang='de'); "
            "assert len(r[0].hits) == 2; print(sorted(m for m in sys.modules if m.split('.')[0] == 'transformers'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr

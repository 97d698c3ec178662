"""The runner: dedupe/sort/token-budget batches equal the plain path; output rows, manifest, refusal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cl2cm.artifacts.captions import read_captions
from cl2cm.artifacts.manifest import read_manifest
from cl2cm.errors import UserError
from cl2cm.translation.base import BackendOptions
from cl2cm.translation.hf import HFBackend, reference_translate
from cl2cm.translation.runner import TranslateConfig, token_batches, translate_corpus, translate_texts


@given(st.lists(st.integers(1, 60), max_size=80), st.integers(1, 200), st.integers(1, 16))
def test_token_batches_cover_in_order_within_budget(lengths: list[int], budget: int, max_batch: int) -> None:
    lengths = sorted(lengths, reverse=True)
    batches = list(token_batches(lengths, budget, max_batch))
    assert [i for b in batches for i in b] == list(range(len(lengths)))
    for b in batches:
        assert len(b) <= max_batch
        if len(b) > 1:  # a single over-long sentence may exceed the budget on its own
            assert len(b) * max(lengths[b.start:b.stop]) <= budget


@pytest.fixture(scope="module")
def marian_backend(tiny_marian: Path) -> HFBackend:
    return HFBackend(str(tiny_marian), BackendOptions())


def test_sorted_batched_greedy_equals_plain_generate(marian_backend: HFBackend, multi30k_slice: Path) -> None:
    texts = (multi30k_slice / "test_2016_flickr.en").read_text(encoding="utf-8").splitlines()[:40]
    texts += texts[:8]  # duplicates are translated once and copied back
    ours = translate_texts(marian_backend, texts, "en", "de", max_tokens=200, max_batch=32)
    plain = reference_translate(marian_backend, texts, "en", "de", batch_size=16)
    assert ours == plain
    assert len(set(ours)) > 20  # the random model's output depends on the input


def test_target_prefix_is_the_first_source_token(marian_backend: HFBackend) -> None:
    vocab = marian_backend.tokenizer.get_vocab()
    for lang in ("de", "fr"):
        inputs, _ = marian_backend.encode(["A man rides a red bike."], "en", lang)
        assert inputs["input_ids"][0, 0].item() == vocab[f">>{lang}<<"]
    with pytest.raises(UserError, match="--to 'cs'"):
        marian_backend.check_pair("en", "cs")


def test_corpus_rows_manifest_and_dedupe(tiny_marian: Path, small_corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "mt"
    res = translate_corpus(small_corpus, out, TranslateConfig(["de", "fr"], str(tiny_marian), chunk_size=16),
                           progress=False)
    src = read_captions(small_corpus)
    assert res.status == "complete"
    assert sorted(p.name for p in out.iterdir()) == ["de.jsonl", "fr.jsonl", "manifest.json"]  # parts gone
    for lang in ("de", "fr"):
        rows = read_captions(out / f"{lang}.jsonl")
        assert [r.id for r in rows] == [r.id for r in src]
        assert [r.image for r in rows] == [r.image for r in src]
        assert {r.lang for r in rows} == {lang}
        assert [r.extra["source"] for r in rows] == [r.text for r in src]
        by_source = {}
        for r in rows:  # the same English sentence always gets the same translation
            assert by_source.setdefault(r.extra["source"], r.text) == r.text
    man = read_manifest(out, kind="translations")
    assert man.rows == len(src) == 72
    assert man.extra["languages"]["de"]["distinct"] == 60
    assert man.model["name"] == str(tiny_marian) and man.model["backend"] == "hf"
    assert man.inputs["captions"] != "missing"
    again = translate_corpus(small_corpus, out, TranslateConfig(["de", "fr"], str(tiny_marian), chunk_size=32,
                                                                max_tokens=100), progress=False)
    assert again.status == "already complete"  # chunking and batching do not change a finished output


def test_long_caption_truncated_and_counted(tiny_marian: Path, tmp_path: Path) -> None:
    rows = [{"id": "a.jpg#0", "lang": "en", "text": "A dog runs on the beach."},
            {"id": "b.jpg#0", "lang": "en", "text": " ".join(["a big brown dog runs"] * 80)}]
    corpus = tmp_path / "long.jsonl"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    res = translate_corpus(corpus, tmp_path / "mt", TranslateConfig(["de"], str(tiny_marian)), progress=False)
    assert res.languages[0].truncated == 1
    out = [json.loads(line) for line in (tmp_path / "mt" / "de.jsonl").read_text().splitlines()]
    assert "truncated" not in out[0] and out[1]["truncated"] is True
    assert read_manifest(tmp_path / "mt").extra["languages"]["de"]["truncated"] == 1


def test_other_model_refused_unless_overwrite(tiny_marian: Path, tiny_nllb: Path, small_corpus: Path,
                                              tmp_path: Path) -> None:
    out = tmp_path / "mt"
    translate_corpus(small_corpus, out, TranslateConfig(["de"], str(tiny_marian)), progress=False)
    before = (out / "de.jsonl").read_bytes()
    with pytest.raises(UserError, match="--overwrite"):
        translate_corpus(small_corpus, out, TranslateConfig(["de"], str(tiny_nllb)), progress=False)
    assert (out / "de.jsonl").read_bytes() == before  # untouched
    res = translate_corpus(small_corpus, out, TranslateConfig(["de"], str(tiny_nllb), overwrite=True),
                           progress=False)
    assert res.status == "complete"
    assert read_manifest(out).model["name"] == str(tiny_nllb)


def test_partial_parts_of_other_model_refused(tiny_marian: Path, tiny_nllb: Path, small_corpus: Path,
                                              tmp_path: Path) -> None:
    out = tmp_path / "mt"
    res = translate_corpus(small_corpus, out, TranslateConfig(["de"], str(tiny_marian), chunk_size=16,
                                                              shard="0/2"), progress=False)
    assert res.status == "shard done" and not (out / "manifest.json").exists()
    with pytest.raises(UserError, match="different run"):
        translate_corpus(small_corpus, out, TranslateConfig(["de"], str(tiny_nllb), chunk_size=16, shard="1/2"),
                         progress=False)


def test_shards_merge_to_the_unsharded_output(tiny_marian: Path, small_corpus: Path, tmp_path: Path) -> None:
    whole = tmp_path / "whole"
    translate_corpus(small_corpus, whole, TranslateConfig(["de"], str(tiny_marian), chunk_size=8), progress=False)
    sharded = tmp_path / "sharded"
    statuses = [translate_corpus(small_corpus, sharded, TranslateConfig(["de"], str(tiny_marian), chunk_size=8,
                                                                        shard=f"{i}/3"), progress=False).status
                for i in (2, 0, 1)]
    assert statuses == ["shard done", "shard done", "complete"]
    assert (sharded / "de.jsonl").read_bytes() == (whole / "de.jsonl").read_bytes()
    assert not (sharded / ".parts").exists()


def test_non_latin_text_round_trips(tiny_marian: Path, multiscript_slice: Path, tmp_path: Path) -> None:
    uk = (multiscript_slice / "val.uk").read_text(encoding="utf-8").splitlines()[:20]
    corpus = tmp_path / "uk.jsonl"
    corpus.write_text("".join(json.dumps({"id": f"{i}.jpg#0", "lang": "uk", "text": t}, ensure_ascii=False) + "\n"
                              for i, t in enumerate(uk)), encoding="utf-8")
    out = tmp_path / "mt"
    translate_corpus(corpus, out, TranslateConfig(["zh"], str(tiny_marian), source_lang="uk"), progress=False)
    rows = read_captions(out / "zh.jsonl")
    assert [r.extra["source"] for r in rows] == uk  # Cyrillic source byte-exact
    backend = HFBackend(str(tiny_marian), BackendOptions())
    assert [r.text for r in rows] == translate_texts(backend, uk, "uk", "zh")
    raw = (out / "zh.jsonl").read_text(encoding="utf-8")
    assert any("\u0400" <= ch <= "\u04ff" for ch in raw) and "\\u04" not in raw  # stored as text, not escapes
    assert any(not ch.isascii() for r in rows for ch in r.text)  # the vocabulary's CJK/Cyrillic pieces survive


def test_foreign_input_language_refused(tiny_marian: Path, tmp_path: Path) -> None:
    corpus = tmp_path / "de.jsonl"
    corpus.write_text(json.dumps({"id": "a#0", "lang": "de", "text": "Ein Hund."}) + "\n", encoding="utf-8")
    with pytest.raises(UserError, match="not the source language"):
        translate_corpus(corpus, tmp_path / "mt", TranslateConfig(["fr"], str(tiny_marian)), progress=False)
    assert not (tmp_path / "mt").exists()


def test_back_translation_column(tiny_marian: Path, tiny_nllb: Path, tmp_path: Path) -> None:
    texts = ["A dog runs on the beach.", "Two girls play in the snow.", "A dog runs on the beach."]
    corpus = tmp_path / "c.jsonl"
    corpus.write_text("".join(json.dumps({"id": f"{i}.jpg#0", "lang": "en", "text": t}) + "\n"
                              for i, t in enumerate(texts)), encoding="utf-8")
    cfg = TranslateConfig(["de"], str(tiny_marian), back_translate=True, back_model=str(tiny_nllb))
    translate_corpus(corpus, tmp_path / "mt", cfg, progress=False)
    rows = read_captions(tmp_path / "mt" / "de.jsonl")
    back = HFBackend(str(tiny_nllb), BackendOptions())
    assert [r.extra["back"] for r in rows] == translate_texts(back, [r.text for r in rows], "de", "en")
    assert read_manifest(tmp_path / "mt").model["back_model"] == str(tiny_nllb)


@pytest.mark.gpu
def test_cuda_runs_in_half_precision(tiny_marian: Path, small_corpus: Path, tmp_path: Path) -> None:
    import torch

    backend = HFBackend(str(tiny_marian), BackendOptions(device=torch.device("cuda")))
    assert backend.model.dtype in (torch.bfloat16, torch.float16)
    res = translate_corpus(small_corpus, tmp_path / "mt", TranslateConfig(["de"], str(tiny_marian), device="cuda"),
                           progress=False)
    assert res.status == "complete" and len(read_captions(tmp_path / "mt" / "de.jsonl")) == 72

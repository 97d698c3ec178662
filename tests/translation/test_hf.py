"""Language codes per model family, NLLB forced BOS, and models that are not MT models."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from cl2cm.errors import UserError
from cl2cm.translation.base import BackendOptions
from cl2cm.translation.hf import HFBackend, LanguagePlanner


class FakeTokenizer:
    def __init__(self, tokens: list[str], target_lang: str | None = None) -> None:
        self.vocab = {t: i for i, t in enumerate(tokens)}
        self.target_lang = target_lang

    def get_vocab(self) -> dict[str, int]:
        return self.vocab


@pytest.mark.parametrize(("tokens", "lang", "scheme", "expect"), [
    (["eng_Latn", "deu_Latn", "zho_Hans"], "de", "nllb", "deu_Latn"),
    (["eng_Latn", "deu_Latn", "zho_Hans"], "zh", "nllb", "zho_Hans"),
    (["__en__", "__de__", "__uk__"], "uk", "m2m100", "__uk__"),
    (["en_XX", "de_DE", "fr_XX"], "de", "mbart50", "de_DE"),
])
def test_forced_bos_codes(tokens: list[str], lang: str, scheme: str, expect: str) -> None:
    planner = LanguagePlanner(FakeTokenizer(["<pad>", *tokens]), "some/model")
    plan = planner.plan("en", lang)
    assert planner.scheme == scheme
    assert plan.forced_token == expect and plan.forced_bos == planner.vocab[expect] and plan.prefix == ""


def test_marian_multi_target_prefix_tries_iso3() -> None:
    planner = LanguagePlanner(FakeTokenizer(["<pad>", ">>deu<<", ">>fra<<"]), "Helsinki-NLP/opus-mt-en-mul")
    assert planner.plan("en", "de").prefix == ">>deu<< "
    with pytest.raises(UserError, match="--to 'ja'"):
        planner.plan("en", "ja")


def test_single_pair_model_checks_its_pair() -> None:
    planner = LanguagePlanner(FakeTokenizer(["<pad>", "▁a"]), "Helsinki-NLP/opus-mt-en-de")
    assert planner.plan("en", "de").prefix == ""
    with pytest.raises(UserError, match="into 'de' only"):
        planner.plan("en", "fr")
    unknown = LanguagePlanner(FakeTokenizer(["<pad>", "▁a"]), "/models/my-mt")
    unknown.plan("en", "de")
    with pytest.raises(UserError, match="single --to"):
        unknown.plan("en", "fr")


def test_nllb_forced_bos_reaches_generate(tiny_nllb: Path) -> None:
    backend = HFBackend(str(tiny_nllb), BackendOptions())
    deu = backend.tokenizer.convert_tokens_to_ids("deu_Latn")
    backend.check_pair("en", "de")
    assert backend.tokenizer.src_lang == "eng_Latn"
    inputs, limits = backend.encode(["A dog runs.", "Two men play chess in a park."], "en", "de")
    assert inputs["input_ids"][0, 0].item() == backend.tokenizer.convert_tokens_to_ids("eng_Latn")
    plan = backend._plan("en", "de")
    with torch.inference_mode():
        seqs = backend.model.generate(**inputs, **backend.generate_kwargs(plan, max(limits)))
    assert seqs[:, 1].tolist() == [deu, deu]
    assert backend.translate(["A dog runs."], "en", "de") == backend.decode(seqs[:1], limits[:1])
    with pytest.raises(UserError, match="--to 'xx'.*no code"):
        backend.check_pair("en", "xx")


def test_not_a_seq2seq_model(tmp_path: Path) -> None:
    from transformers import BertConfig

    BertConfig(vocab_size=10, hidden_size=8, num_hidden_layers=1, num_attention_heads=1,
               intermediate_size=8).save_pretrained(str(tmp_path))
    with pytest.raises(UserError, match="not a sequence-to-sequence"):
        HFBackend(str(tmp_path), BackendOptions())

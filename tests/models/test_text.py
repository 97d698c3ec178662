"""TextEncoder: shapes and norms, pooling registry, layer freezing, padding invariance, XLM-R."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from cl2cm.cli.flags import flag_of
from cl2cm.errors import ConfigError
from cl2cm.models.text import (
    POOLINGS,
    TextEncoder,
    TextEncoderConfig,
    encode_texts,
    format_layers,
    parse_train_layers,
)

TEXTS = ["Ein Hund läuft über die Wiese.", "Two men are playing soccer on a green field in the sun.", "Hi"]


def _cfg(path: Path, **kw) -> TextEncoderConfig:
    return TextEncoderConfig(**{"encoder": str(path), "dim": 24, "train_layers": "1", "max_length": 16, **kw})


@pytest.mark.parametrize("pooling", sorted(POOLINGS))
def test_forward_shapes_norm_and_padding_invariance(tiny_bert_dir: Path, pooling: str) -> None:
    torch.manual_seed(0)
    enc = TextEncoder(_cfg(tiny_bert_dir, pooling=pooling)).eval()
    batch = enc.tokenize(TEXTS)
    out = enc(batch["input_ids"], batch["attention_mask"])
    assert out.emb.shape == (3, 24)
    torch.testing.assert_close(out.emb.norm(dim=-1), torch.ones(3))
    assert out.tokens.shape[:2] == batch["input_ids"].shape and out.tokens.shape[-1] == enc.hidden_size
    # special tokens ([CLS], [SEP]) and padding are excluded from the word-level mask
    assert out.token_mask.sum() == out.mask.sum() - 2 * 3
    # a short text padded inside a batch embeds exactly as on its own
    alone = enc.tokenize(TEXTS[2:])
    single = enc(alone["input_ids"], alone["attention_mask"]).emb
    torch.testing.assert_close(out.emb[2:], single, atol=1e-5, rtol=1e-4)
    # encode_texts sorts by length internally but returns rows in input order
    torch.testing.assert_close(encode_texts(enc, TEXTS, batch_size=2), out.emb, atol=1e-5, rtol=1e-4)


def test_truncation_to_max_length(tiny_bert_dir: Path) -> None:
    enc = TextEncoder(_cfg(tiny_bert_dir, max_length=8))
    assert enc.tokenize([" ".join(["Hund"] * 50)])["input_ids"].shape[1] == 8


def test_only_named_layers_train(tiny_bert_dir: Path) -> None:
    enc = TextEncoder(_cfg(tiny_bert_dir, train_layers="1"))
    trainable = {n for n, p in enc.backbone.named_parameters() if p.requires_grad}
    assert trainable and all(n.startswith("encoder.layer.1.") for n in trainable)
    assert all(p.requires_grad for p in enc.proj.parameters())
    frozen = TextEncoder(_cfg(tiny_bert_dir, train_layers="none"))
    assert not frozen.backbone_trainable
    everything = TextEncoder(_cfg(tiny_bert_dir, train_layers="all"))
    assert everything.backbone.embeddings.word_embeddings.weight.requires_grad
    assert not any(p.requires_grad for n, p in everything.backbone.named_parameters() if n.startswith("pooler."))
    no_words = TextEncoder(_cfg(tiny_bert_dir, train_layers="all", freeze_word_embeddings=True))
    assert not no_words.backbone.embeddings.word_embeddings.weight.requires_grad
    assert no_words.backbone.embeddings.position_embeddings.weight.requires_grad
    assert all(p.requires_grad for p in no_words.backbone.encoder.parameters())


def test_train_layers_parsing_and_errors(tiny_bert_dir: Path) -> None:
    assert parse_train_layers("3-11", 12) == list(range(3, 12))
    # auto: all but the bottom quarter, whatever the depth (NRCCR's 3-11 on 12 layers)
    assert parse_train_layers("auto", 12) == list(range(3, 12)) and parse_train_layers("AUTO", 24) == list(range(6, 24))
    assert parse_train_layers("auto", 2) == [0, 1] and parse_train_layers("auto", 6) == [1, 2, 3, 4, 5]
    assert format_layers([3, 4, 5, 7, 9, 10]) == "3-5,7,9-10" and format_layers([]) == "none"
    assert TextEncoder(_cfg(tiny_bert_dir, train_layers="auto")).trained_layers_text == "0-1 of 2 (auto)"
    assert TextEncoder(_cfg(tiny_bert_dir, train_layers="1")).trained_layers_text == "1 of 2"
    assert parse_train_layers("0,2,5-6", 12) == [0, 2, 5, 6]
    # the library names the config field; the CLI renders the same error with its flag
    with pytest.raises(ConfigError, match="^train_layers '3-11': the encoder has 2 layers .* auto fits any depth") as e:
        TextEncoder(_cfg(tiny_bert_dir, train_layers="3-11"))
    assert e.value.render(flag_of).startswith("--train-layers '3-11': the encoder has 2 layers")
    assert e.value.render(flag_of).endswith("; --train-layers auto fits any depth")
    with pytest.raises(ConfigError, match="^train_layers 'three'"):
        parse_train_layers("three", 12)
    with pytest.raises(ConfigError, match="^pooling 'max': expected one of mean, cls, attention$") as e:
        TextEncoder(_cfg(tiny_bert_dir, pooling="max"))
    assert e.value.render(flag_of) == "--pooling 'max': expected one of mean, cls, attention"
    with pytest.raises(ConfigError, match="^encoder '.*no-such-model': cannot load"):
        TextEncoder(_cfg(tiny_bert_dir.parent / "no-such-model"))


def test_xlm_roberta_backbone(tiny_bert_dir: Path, tmp_path: Path) -> None:
    from transformers import AutoTokenizer, XLMRobertaConfig, XLMRobertaModel

    tok = AutoTokenizer.from_pretrained(tiny_bert_dir)
    cfg = XLMRobertaConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                           intermediate_size=64, max_position_embeddings=40, pad_token_id=tok.pad_token_id)
    XLMRobertaModel(cfg).save_pretrained(tmp_path, safe_serialization=True)
    for f in tiny_bert_dir.iterdir():
        if f.name.startswith(("tokenizer", "vocab", "special")):
            shutil.copy(f, tmp_path / f.name)
    enc = TextEncoder(_cfg(tmp_path, pooling="attention", train_layers="0-1", max_length=16))
    assert enc.backbone.config.model_type == "xlm-roberta"
    assert {n.split(".")[2] for n, p in enc.backbone.named_parameters() if p.requires_grad} == {"0", "1"}
    emb = encode_texts(enc, TEXTS)
    assert emb.shape == (3, 24) and torch.isfinite(emb).all()
    with pytest.raises(ConfigError, match="^max_length 60: the encoder has 38 positions"):
        TextEncoder(_cfg(tmp_path, max_length=60))

"""Tiny, offline-buildable MT models with the real models' shapes of vocabulary and config.

No weights can be downloaded here, so tests and the benchmark build a MarianMT (sentencepiece vocabulary
trained on the given text, optional `>>xx<<` target tokens) or an NLLB-style M2M100 (language-code special
tokens, forced BOS) with random weights, save it with `save_pretrained`, and the backends load it back
through the very path they use for `Helsinki-NLP/opus-mt-en-de` or `facebook/nllb-200-distilled-600M`.
Random weights give garbage translations; what they exercise is the plumbing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path

import torch

from cl2cm.artifacts.io import give_default_mode


def build_tiny_marian(
    out_dir: str | Path,
    texts: Iterable[str],
    *,
    vocab_size: int = 1000,
    d_model: int = 32,
    layers: int = 1,
    heads: int = 2,
    ffn: int = 64,
    max_length: int = 128,
    target_tokens: Sequence[str] = (),
    source_lang: str | None = "en",
    target_lang: str | None = None,
    init_std: float = 0.5,
    total_vocab: int = 0,
    seed: int = 0,
) -> Path:
    """Train a sentencepiece model on `texts` and save a random MarianMT + MarianTokenizer beside it.

    `target_tokens` (e.g. ``[">>de<<", ">>fr<<"]``) makes it a multi-target model like opus-mt-en-ROMANCE;
    `total_vocab` pads the vocabulary with unused entries up to a real model's size (opus-mt: 58,101), so
    the output projection costs what it costs there.
    """
    import sentencepiece as spm
    from transformers import MarianConfig, MarianMTModel, MarianTokenizer

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    corpus = out / "spm-train.txt"
    corpus.write_text("\n".join(t for t in texts if t.strip()) + "\n", encoding="utf-8")
    spm.SentencePieceTrainer.train(
        input=str(corpus), model_prefix=str(out / "spm"), vocab_size=vocab_size, model_type="unigram",
        character_coverage=1.0, bos_id=-1, eos_id=1, unk_id=0, pad_id=-1, num_threads=1,
        minloglevel=2, hard_vocab_limit=False,
    )
    corpus.unlink()
    for name in ("source.spm", "target.spm"):
        (out / name).write_bytes((out / "spm.model").read_bytes())
    sp = spm.SentencePieceProcessor(model_file=str(out / "spm.model"))
    (out / "spm.model").unlink()
    (out / "spm.vocab").unlink(missing_ok=True)
    vocab: dict[str, int] = {"</s>": 0, "<unk>": 1}
    for i in range(sp.get_piece_size()):
        piece = sp.id_to_piece(i)
        if piece not in vocab and piece not in ("<s>", "</s>", "<unk>"):
            vocab[piece] = len(vocab)
    for tok in target_tokens:
        vocab.setdefault(tok, len(vocab))
    while len(vocab) < total_vocab - 1:
        vocab[f"<unused{len(vocab)}>"] = len(vocab)
    vocab["<pad>"] = len(vocab)
    (out / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    tok = MarianTokenizer(str(out / "source.spm"), str(out / "target.spm"), str(out / "vocab.json"),
                          source_lang=source_lang, target_lang=target_lang, model_max_length=max_length)
    tok.save_pretrained(str(out))
    pad = vocab["<pad>"]
    config = MarianConfig(
        vocab_size=len(vocab), d_model=d_model, encoder_layers=layers, decoder_layers=layers,
        encoder_attention_heads=heads, decoder_attention_heads=heads, encoder_ffn_dim=ffn, decoder_ffn_dim=ffn,
        max_position_embeddings=max_length, pad_token_id=pad, eos_token_id=0, decoder_start_token_id=pad,
        forced_eos_token_id=0, share_encoder_decoder_embeddings=True, init_std=init_std,
    )
    torch.manual_seed(seed)
    model = MarianMTModel(config)
    model.generation_config.bad_words_ids = [[pad]]
    model.save_pretrained(str(out), safe_serialization=True)
    give_default_mode(*(f for f in out.iterdir() if f.is_file()))  # safetensors writes 0600
    return out


def build_tiny_nllb(
    out_dir: str | Path,
    texts: Iterable[str],
    *,
    d_model: int = 32,
    layers: int = 1,
    heads: int = 2,
    ffn: int = 64,
    max_length: int = 128,
    init_std: float = 0.5,
    seed: int = 0,
) -> Path:
    """A character-level NllbTokenizer (with the 200 NLLB language-code tokens) and a random M2M100 model."""
    from transformers import M2M100Config, M2M100ForConditionalGeneration, NllbTokenizer

    chars = sorted({c for t in texts for c in t.replace(" ", "▁")} | {"▁"})
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for c in chars:
        vocab.setdefault(c, len(vocab))
    tok = NllbTokenizer(vocab=vocab, merges=[], src_lang="eng_Latn", model_max_length=max_length)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tok.save_pretrained(str(out))
    config = M2M100Config(
        vocab_size=len(tok), d_model=d_model, encoder_layers=layers, decoder_layers=layers,
        encoder_attention_heads=heads, decoder_attention_heads=heads, encoder_ffn_dim=ffn, decoder_ffn_dim=ffn,
        max_position_embeddings=max_length, pad_token_id=1, bos_token_id=0, eos_token_id=2,
        decoder_start_token_id=2, init_std=init_std,
    )
    torch.manual_seed(seed)
    model = M2M100ForConditionalGeneration(config)
    model.save_pretrained(str(out), safe_serialization=True)
    give_default_mode(*(f for f in out.iterdir() if f.is_file()))  # safetensors writes 0600
    return out

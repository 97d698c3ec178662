"""Tiny, offline-buildable stand-ins for the real backbones.

No weights can be downloaded in the demo world or in tests, so these build small models from configs and
save them with `save_pretrained` / as an open_clip model-config JSON. Every stage then loads them through
the very same path it uses for `bert-base-multilingual-cased` or `ViT-B-32` (`from_pretrained`,
`open_clip.create_model_and_transforms`). They have random weights: a frozen random visual encoder is
still informative at the patch-token level (see docs/method.md), and the tiny text encoder learns.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch

from cl2cm.artifacts.io import atomic_write_json, give_default_mode

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def build_tiny_bert(
    out_dir: str | Path,
    texts: Iterable[str],
    *,
    vocab_size: int = 2000,
    hidden: int = 64,
    layers: int = 2,
    heads: int = 2,
    intermediate: int = 128,
    max_length: int = 64,
    seed: int = 0,
    vocab: list[str] | None = None,
    total_vocab: int = 0,
) -> Path:
    """Train a WordPiece vocabulary on `texts` and save a randomly initialised BERT beside it.

    `vocab` (tokens, with '##' continuations) is used as given instead of training one: the tokenizers
    trainer breaks ties in hash order, so a trained vocabulary differs between processes, and the demo
    world must be byte-identical for a seed. `total_vocab` pads the vocabulary with unused entries up to a
    real model's size (mBERT: 119,547), so embeddings, tokenizer and checkpoints cost what they cost there.
    """
    from tokenizers import BertWordPieceTokenizer
    from transformers import BertConfig, BertModel, BertTokenizerFast

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if vocab is not None:
        tokens = SPECIAL_TOKENS + [t for t in dict.fromkeys(vocab) if t not in SPECIAL_TOKENS]
        (out / "vocab.txt").write_text("".join(f"{t}\n" for t in tokens), encoding="utf-8")
        wp = BertWordPieceTokenizer(str(out / "vocab.txt"), lowercase=False, strip_accents=False, clean_text=True)
    else:
        wp = BertWordPieceTokenizer(lowercase=False, strip_accents=False, clean_text=True)
        wp.train_from_iterator(list(texts), vocab_size=vocab_size, min_frequency=1,
                               special_tokens=SPECIAL_TOKENS, show_progress=False)
        wp.save_model(str(out))
    if total_vocab:
        tokens = (out / "vocab.txt").read_text(encoding="utf-8").splitlines()
        tokens += [f"[unused{i}]" for i in range(max(0, total_vocab - len(tokens)))]
        (out / "vocab.txt").write_text("".join(f"{t}\n" for t in tokens), encoding="utf-8")
        wp = BertWordPieceTokenizer(str(out / "vocab.txt"), lowercase=False, strip_accents=False, clean_text=True)
    tok = BertTokenizerFast(tokenizer_object=wp._tokenizer, unk_token="[UNK]", sep_token="[SEP]",
                            pad_token="[PAD]", cls_token="[CLS]", mask_token="[MASK]", do_lower_case=False,
                            model_max_length=max_length)
    tok.save_pretrained(str(out))
    config = BertConfig(
        vocab_size=tok.vocab_size, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
        intermediate_size=intermediate, max_position_embeddings=max(max_length, 64),
    )
    torch.manual_seed(seed)
    BertModel(config).save_pretrained(str(out), safe_serialization=True)
    give_default_mode(*(f for f in out.iterdir() if f.is_file()))  # safetensors writes 0600
    return out


def build_tiny_xlmr(
    out_dir: str | Path,
    texts: Iterable[str],
    *,
    vocab_size: int = 2000,
    hidden: int = 64,
    layers: int = 2,
    heads: int = 2,
    intermediate: int = 128,
    max_length: int = 64,
    total_vocab: int = 0,
    seed: int = 0,
) -> Path:
    """Train a sentencepiece-style Unigram vocabulary on `texts` and save a random XLM-RoBERTa beside it.

    The tokenizer is XLM-R's kind (Unigram pieces, ``▁`` word starts, ``<s> … </s>``, pad id 1), so the
    paths that depend on it (position-id offset, special-token masks) run as with `xlm-roberta-base`.
    `total_vocab` pads the vocabulary with unused pieces up to a real size (xlm-roberta-base: 250,002).
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import XLMRobertaConfig, XLMRobertaModel, XLMRobertaTokenizerFast

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    specials = ["<s>", "<pad>", "</s>", "<unk>"]
    trainer = trainers.UnigramTrainer(vocab_size=vocab_size, special_tokens=specials, unk_token="<unk>",
                                      show_progress=False)
    tok = Tokenizer(models.Unigram())
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.train_from_iterator(list(texts), trainer)
    pieces = [(p, s) for p, s in json.loads(tok.to_str())["model"]["vocab"]]
    pieces += [(f"<unused{i}>", -100.0) for i in range(max(0, total_vocab - 1 - len(pieces)))]  # + <mask>
    tok = Tokenizer(models.Unigram(pieces, unk_id=specials.index("<unk>")))
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    tok.post_processor = processors.TemplateProcessing(single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
                                                       special_tokens=[("<s>", 0), ("</s>", 2)])
    fast = XLMRobertaTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", sep_token="</s>",
                                   cls_token="<s>", unk_token="<unk>", pad_token="<pad>", mask_token="<mask>",
                                   model_max_length=max_length)
    fast.save_pretrained(str(out))
    config = XLMRobertaConfig(vocab_size=len(fast), hidden_size=hidden, num_hidden_layers=layers,
                              num_attention_heads=heads, intermediate_size=intermediate,
                              max_position_embeddings=max(max_length, 64) + 2, type_vocab_size=1,
                              pad_token_id=1, bos_token_id=0, eos_token_id=2)
    torch.manual_seed(seed)
    XLMRobertaModel(config).save_pretrained(str(out), safe_serialization=True)
    give_default_mode(*(f for f in out.iterdir() if f.is_file()))  # safetensors writes 0600
    return out


def tiny_open_clip_config(
    path: str | Path,
    *,
    image_size: int = 64,
    patch_size: int = 16,
    width: int = 64,
    layers: int = 2,
    embed_dim: int = 64,
    text_cfg: dict[str, Any] | None = None,
) -> Path:
    """Write an open_clip model-config JSON for a tiny ViT; its file stem becomes the model name.

    `text_cfg` replaces the tiny text tower (whose 512-token vocabulary only the visual side's tests can
    use): e.g. CLIP's own tokenizer needs ``vocab_size`` 49408, and ``{"hf_model_name": DIR,
    "hf_tokenizer_name": DIR, "hf_pooler_type": "mean_pooler", "hf_proj_type": "linear"}`` builds a
    multilingual-CLIP-like model over a local (e.g. tiny) Hugging Face encoder.
    """
    cfg = {
        "embed_dim": embed_dim,
        "vision_cfg": {"image_size": image_size, "layers": layers, "width": width, "patch_size": patch_size,
                       "head_width": max(16, width // 2)},
        "text_cfg": text_cfg or {"context_length": 16, "vocab_size": 512, "width": 32, "heads": 2, "layers": 1},
    }
    path = Path(path)
    atomic_write_json(path, cfg)
    return path


def build_tiny_hf_vision(out_dir: str | Path, kind: str = "siglip", *, image_size: int = 32, seed: int = 0) -> Path:
    """A random tiny Hugging Face vision model + its image processor, saved as a hub model directory is
    (config.json, model.safetensors, preprocessor_config.json): `extract-features --backend hf` reads it
    back through `from_pretrained`. kind: siglip (two towers, attention-pool head), clip (two towers,
    projection; shortest-edge resize + center crop) or clip-vision (CLIPVisionModelWithProjection)."""
    import transformers as tf

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    vision = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                  image_size=image_size, patch_size=8)
    text = dict(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                max_position_embeddings=16, pad_token_id=1, bos_token_id=0, eos_token_id=2)
    torch.manual_seed(seed)
    if kind == "siglip":
        model = tf.SiglipModel(tf.SiglipConfig(text_config=text, vision_config=vision))
        processor = tf.SiglipImageProcessor(size={"height": image_size, "width": image_size})
    elif kind in ("clip", "clip-vision"):
        if kind == "clip":
            model = tf.CLIPModel(tf.CLIPConfig(text_config=text, vision_config=vision, projection_dim=24))
        else:
            model = tf.CLIPVisionModelWithProjection(tf.CLIPVisionConfig(**vision, projection_dim=24))
        processor = tf.CLIPImageProcessor(size={"shortest_edge": image_size},
                                          crop_size={"height": image_size, "width": image_size})
    else:
        raise ValueError(f"kind {kind!r}: expected siglip, clip or clip-vision")
    model.eval().save_pretrained(out)
    processor.save_pretrained(out)
    return out


def read_json(path: str | Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))

"""The settings of `translate`, `extract-features`, `import-bigfile` and `import-embeddings`."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cl2cm.config import (
    AT_LEAST_1,
    DEVICE_HELP,
    NON_NEGATIVE,
    REQUIRED,
    SEED_HELP,
    SEED_RANGE,
    Cli,
    Range,
    option,
)


def default_workers() -> int:
    """DataLoader workers for this machine: the cores this process may use, at most 16."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(16, cores))


DEFAULT_WORKERS = default_workers()
DEFAULT_MAX_PIXELS = 89_478_485  # PIL's own decompression-bomb threshold
INPUT_KINDS = ("auto", "folder", "list", "captions")


def _str_or_none(path: Path | None) -> str | None:
    return None if path is None else str(path)


@dataclass
class TranslateConfig:
    """Everything `cl2cm translate` takes besides the corpus and the output directory."""

    targets: list[str] = option(REQUIRED, "Target language (repeatable): de, fr, cs, zh, uk, ...", flag="--to",
                                cli=Cli(show_default=False))
    model: str = option(REQUIRED, "HF model name or local dir (hf, ct2); the lexicon JSON file (lexicon).",
                        flag="--model", cli=Cli(show_default=False))
    backend: str = option("hf", "hf (transformers) | ct2 (CTranslate2, pip install ctranslate2) | lexicon (demo "
                          "dictionary: NOT a general MT system).", flag="--backend")
    source_lang: str = option("en", "Source language of the captions.", flag="--from")
    back_translate: bool = option(False, "Also write `back`: the translation translated back (needs --back-model).",
                                  flag="--back-translate")
    back_model: str | None = option(None, "Model translating the targets back into the source language.",
                                    flag="--back-model")
    beams: int = option(1, "Beam size (1 = greedy, fastest).", flag="--beams", range=AT_LEAST_1)
    max_tokens: int = option(8192, "Padded source tokens per batch.", flag="--max-tokens", range=AT_LEAST_1)
    max_batch: int = option(512, "At most this many sentences per batch.", flag="--max-batch", range=AT_LEAST_1)
    chunk_size: int = option(2048, "Distinct sentences per committed chunk (the unit of resume and sharding).",
                             flag="--chunk-size", range=AT_LEAST_1)
    shard: str | None = option(None, "i/n: translate only shard i of n (0-based); the last shard to finish "
                               "merges.", flag="--shard")
    overwrite: bool = option(False, "Replace output made by another model, input or options.", flag="--overwrite")
    device: str = option("auto", DEVICE_HELP, flag="--device")
    seed: int = option(0, SEED_HELP, flag="--seed", range=SEED_RANGE)
    noise: float | None = option(None, "lexicon backend only: fraction of words corrupted like MT errors "
                                 "(default 0.15).", flag="--noise", range=Range(0, 1))
    fmt: str | None = option(None, "Caption format (default: from the file name).", flag="--format")
    lang: str | None = option(None, "Language of the input captions, if the format does not say.", flag="--lang")
    images: str | None = option(None, "Multi30K image-name list (default: <split>.txt beside the captions).",
                                flag="--images", cli=Cli(type=Path | None, convert=_str_or_none))


@dataclass
class ExtractConfig:
    """Everything `cl2cm extract-features` takes besides the input and the output directory."""

    model: str = option("ViT-B-32", "open_clip model name, or a path to an open_clip model-config JSON (its file "
                        "stem becomes the name); with --backend hf a Hugging Face hub id or model directory.",
                        flag="--model")
    # `features.encoders.ENCODER_BACKENDS`: open_clip | hf (transformers CLIP/SigLIP)
    backend: str = option("open_clip", "Visual encoder backend: open_clip | hf (transformers CLIP / SigLIP / SigLIP "
                          "2 vision towers; preprocessing from the model's image processor config).",
                          flag="--backend")
    pretrained: str = option("openai", "open_clip tag (e.g. openai), a local .safetensors checkpoint, or 'none' "
                             "(random weights from --seed); unused with --backend hf.", flag="--pretrained")
    root: Path | None = option(None, "Directory that list/corpus entries are relative to (default: the list "
                               "file's directory).", flag="--root")
    input_kind: str = option("auto", f"{' | '.join(INPUT_KINDS)}.", flag="--input-kind", choices=INPUT_KINDS)
    frames: int | None = option(None, "Video mode: K uniformly sampled frames per video folder → features "
                                "[N,K,D] + mask [N,K].", flag="--frames", range=AT_LEAST_1)
    tokens: bool = option(False, "Also store patch tokens `tokens` [N,T,W] (ViT).", flag="--tokens")
    normalize: bool = option(True, "L2-normalise the pooled features.", flag="--normalize", off="--no-normalize")
    batch_size: int = option(256, "Images per forward pass.", flag="--batch-size", range=AT_LEAST_1)
    # decoding processes: one per usable core (at most 16), machine-sized; the help shows no number
    workers: int = option(DEFAULT_WORKERS, "DataLoader worker processes decoding and resizing (default: one per "
                          "usable core, at most 16).", flag="--workers", range=NON_NEGATIVE,
                          cli=Cli(convert=int, show_default=False))
    decode: str = option("draft", "draft: JPEGs decode at a reduced size when still ≥ the model's input (fast; "
                         "cosine to exact in docs/features.md) | exact: full-size decode.", flag="--decode")
    chunk_size: int = option(4096, "Items per resumable chunk.", flag="--chunk-size", range=AT_LEAST_1)
    shard: str | None = option(None, "Do only shard i of n (0-based), e.g. 0/4; the last shard to finish merges.",
                               flag="--shard")
    device: str = option("auto", DEVICE_HELP, flag="--device")
    seed: int = option(0, SEED_HELP, flag="--seed", range=SEED_RANGE)
    strict: bool = option(False, "Fail on the first unusable image instead of skipping it.", flag="--strict")
    overwrite: bool = option(False, "Replace a finished store / partial output of a different run.",
                             flag="--overwrite")
    # grow a finished store by the new items of the input (`cl2cm.features.append`)
    append: bool = option(False, "Grow a finished store: extract only the items with new ids, drop ids no longer "
                          "listed (a running serve reloads it).", flag="--append")
    max_pixels: int = option(DEFAULT_MAX_PIXELS, "Skip images larger than this (after JPEG draft decoding).",
                             flag="--max-pixels", range=AT_LEAST_1)
    allow_pickle: bool = option(False, "Allow a non-safetensors --pretrained checkpoint (pickle can run code).",
                                flag="--allow-pickle")


@dataclass
class BigfileConfig:
    """What `cl2cm import-bigfile` takes besides the BigFile directory and the output store."""

    video2frames: Path | None = option(None, "NRCCR video2frames.txt: group frame rows into videos [N,K,D] + mask.",
                                       flag="--video2frames")
    frames: int | None = option(None, "K frames per video (uniform sampling; default: the longest video).",
                                flag="--frames", range=AT_LEAST_1)
    name: str | None = option(None, "Feature name for the manifest (default: the folder name, e.g. i3d_kinetics).",
                              flag="--name")
    overwrite: bool = option(False, "Replace a finished store.", flag="--overwrite")


@dataclass
class ImportEmbeddingsConfig:
    """What `cl2cm import-embeddings` takes besides the matrix and the output store."""

    ids: Path = option(REQUIRED, "N lines: the id of each row (caption ids for queries, visual ids for a "
                       "gallery), no duplicates.", flag="--ids", cli=Cli(show_default=False))
    images: Path | None = option(None, "N lines: the visual id each row must retrieve; makes a query store for "
                                 "eval --query-emb.", flag="--images")
    tensor: str | None = option(None, "Which tensor of a .safetensors file holding several.", flag="--tensor")
    name: str | None = option(None, "Model name for the manifest (default: the file stem).", flag="--name")
    normalize: bool = option(False, "L2-normalise the rows (eval scores by dot product: normalise for cosine).",
                             flag="--normalize", off="--no-normalize")
    overwrite: bool = option(False, "Replace another artifact in --out.", flag="--overwrite")

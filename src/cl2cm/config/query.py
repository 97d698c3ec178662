"""The settings of the commands that query a model: `eval`, `search` and `serve`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cl2cm.config import (
    AT_LEAST_1,
    DEVICE_HELP,
    NON_NEGATIVE,
    POSITIVE,
    REQUIRED,
    SEED_HELP,
    SEED_RANGE,
    Cli,
    Range,
    option,
)
from cl2cm.errors import UserError

DEFAULT_KS = (1, 5, 10)
TIE_RULE_NAMES = ("pessimistic", "optimistic")  # keys of `cl2cm.retrieval.metrics.TIE_RULES` (tested)
RANK_KERNELS = ("auto", "torch", "numba")  # how `cl2cm.retrieval.metrics` counts (`retrieval.kernels`)
INDEX_KIND_NAMES = ("exact", "ivf")  # keys of `cl2cm.serve.index.INDEX_KINDS` (tested)
MODEL_HELP = "Student model directory."
FEATURES_HELP = "Feature store of the visual items."


def parse_ks(spec: str) -> list[int]:
    """`--recall-at 1,5,10,50` → [1, 5, 10, 50]."""
    try:
        ks = [int(x) for x in spec.replace(" ", "").split(",") if x]
    except ValueError as exc:
        raise UserError(f"--recall-at {spec!r}: expected comma-separated positive integers, e.g. 1,5,10") from exc
    if not ks or min(ks) < 1:
        raise UserError(f"--recall-at {spec!r}: expected comma-separated positive integers, e.g. 1,5,10")
    return ks


def _ks(spec: str | Sequence[int]) -> list[int]:
    return parse_ks(spec) if isinstance(spec, str) else list(spec)


def _paths(paths: Sequence[Path] | None) -> list[Path] | None:
    return list(paths) or None if paths is not None else None


_SEVERAL = Cli(type=list[Path] | None, convert=_paths)  # one file or several (`run_eval`)


@dataclass
class EvalConfig:
    """Everything `cl2cm eval` can be asked; exactly one source of embeddings must be complete."""

    query_emb: Path | None = option(None, "Query embedding store (its images.txt gives each query's visual id).",
                                    flag="--query-emb")
    gallery_emb: Path | None = option(None, "Gallery embedding store.", flag="--gallery-emb")
    model: Path | None = option(None, "Student dir (with --features) or teacher dir (with --gallery-captions).",
                                flag="--model")
    captions: Path | Sequence[Path] | None = option(
        None, "Target-language test captions (the queries); repeat for several languages: one section per "
        "language code and their mean.", flag="--captions", cli=_SEVERAL)  # several: `retrieval.languages`
    features: Path | None = option(None, "Feature store of the test visual items (the gallery).", flag="--features")
    gallery_captions: Path | None = option(None, "English captions: target→English text retrieval (teacher).",
                                           flag="--gallery-captions")
    caption_format: str | None = option(None, "Caption format of --captions (default: from the file name).",
                                        flag="--format")
    fuse_translation: Path | Sequence[Path] | None = option(
        None, "MT English version of each query (captions; with stores: an embedding store): NRCCR's query "
        "fusion. With several --captions: one each, same order, or LANG=FILE.", flag="--fuse-translation",
        cli=_SEVERAL)
    fuse_weight: float = option(0.5, "w in w·native + (1−w)·MT, min-max normalised per query.", flag="--fuse-weight",
                                range=Range(0, 1))
    ks: Sequence[int] = option(DEFAULT_KS, "Recall cut-offs (1,5,10 always included).", flag="--recall-at",
                               deprecated=("--k",), cli=Cli(type=str | None, convert=_ks, show_default="1,5,10"))
    chunk: int | None = option(None, "Query rows per score block (default: a fixed memory budget).",
                               flag="--query-block", deprecated=("--chunk",), range=AT_LEAST_1)
    device: str = option("auto", DEVICE_HELP, flag="--device")
    half: bool = option(False, "fp16 (CUDA) / bf16 (CPU) scores: faster, coarser; ties then follow --ties.",
                        flag="--half")
    ties: str = option("pessimistic", f"{' | '.join(TIE_RULE_NAMES)}: whether a negative scoring exactly the "
                       "positive's score ranks before it.", flag="--ties", choices=TIE_RULE_NAMES)
    rank_kernel: str = option("auto", "How ranks are counted, the same ranks either way: torch ops, or one "
                              "compiled pass (numba, `pip install numba`), 3-9x faster on the CPU after a ~0.4 s "
                              "load. auto: numba from 134M query×item pairs on, when installed.",
                              flag="--rank-kernel", choices=RANK_KERNELS)
    batch_size: int = option(256, "Captions per encoder batch.", flag="--batch-size", range=AT_LEAST_1)
    out: Path | None = option(None, "Write the metrics JSON here.", flag="--out", short="-o")
    ranks: Path | None = option(None, "Write every query's rank (JSONL).", flag="--ranks")
    plot: Path | None = option(None, "Recall@K curves, both directions (PNG; needs matplotlib).", flag="--plot")
    save_embeddings: Path | None = option(None, "Write DIR/queries and DIR/gallery embedding stores.",
                                          flag="--save-embeddings")
    strict_languages: bool = option(False, "Captions in a language the model was not trained on are an error "
                                    "(exit 2), not a warning.", flag="--strict-languages")
    seed: int = option(0, SEED_HELP, flag="--seed", range=SEED_RANGE)


@dataclass
class SearchConfig:
    """What `cl2cm search` takes besides its query texts."""

    model: Path = option(REQUIRED, MODEL_HELP, flag="--model")
    features: Path = option(REQUIRED, FEATURES_HELP, flag="--features")
    k: int = option(10, "How many items to list per query.", flag="--k", range=AT_LEAST_1)
    root: Path | None = option(None, "Image folder for the contact sheet (ids are paths under it).", flag="--root")
    html: Path | None = option(None, "Write an HTML contact sheet of the hits (needs --root).", flag="--html")
    embed_images: bool = option(False, "Inline thumbnails as base64 instead of relative paths.",
                                flag="--embed-images")
    batch_size: int = option(256, "Captions per encoder batch.", flag="--batch-size", range=AT_LEAST_1)
    lang: str | None = option(None, "The queries' language code (default: detected per query): a one-line warning "
                              "when the model was not trained on it.", flag="--lang")
    strict_languages: bool = option(False, "A query in a language the model was not trained on (--lang, or detected "
                                    "with confidence) is an error (exit 2), not a warning.", flag="--strict-languages")
    device: str = option("auto", DEVICE_HELP, flag="--device")
    seed: int = option(0, SEED_HELP, flag="--seed", range=SEED_RANGE)


@dataclass
class ConnectionLimits:
    """How `cl2cm serve` treats its connections (each field is a flag of the command)."""

    max_connections: int = option(1000, "Open connections held at most; beyond it the longest-idle one is "
                                  "closed, or, when all are busy, the new one gets 503.", flag="--max-connections",
                                  range=Range(1, 1_000_000))
    header_timeout: float = option(10.0, "Seconds a client has to send a request's line and headers.",
                                   flag="--header-timeout", range=POSITIVE)
    keep_alive: float = option(75.0, "Seconds an idle keep-alive connection is kept open between requests.",
                               flag="--keep-alive", range=POSITIVE)


@dataclass
class ServeConfig:
    """What `cl2cm serve` takes: the index to load and how to serve it."""

    model: Path = option(REQUIRED, MODEL_HELP, flag="--model")
    features: Path = option(REQUIRED, FEATURES_HELP, flag="--features")
    root: Path | None = option(None, "Image folder (ids are paths under it); without it no thumbnails are served.",
                               flag="--root")
    host: str = option("127.0.0.1", "Address to listen on; 0.0.0.0 exposes the server to other machines.",
                       flag="--host")
    port: int = option(8000, "TCP port (0: any free port, printed at start).", flag="--port", range=Range(0, 65535))
    threads: int = option(2, "Threads that encode, score and make thumbnails.", flag="--threads",
                          deprecated=("--workers",), range=Range(1, 64))
    max_k: int = option(100, "Largest k a request may ask for.", flag="--max-k", range=Range(1, 10000))
    max_pending: int = option(256, "Requests that may wait for a worker; more are answered 503.",
                              flag="--max-pending", range=AT_LEAST_1)
    index: str = option("exact", "exact (cl2cm search's ranking) or ivf (approximate, faiss IVF-Flat; needs the "
                        "'ann' extra).", flag="--index", choices=INDEX_KIND_NAMES)
    nlist: int = option(0, "--index ivf: number of lists (0: about √rows).", flag="--nlist", range=NON_NEGATIVE)
    nprobe: int = option(32, "--index ivf: lists scored per query (recall vs speed).", flag="--nprobe",
                         range=AT_LEAST_1)
    limits: ConnectionLimits = field(default_factory=ConnectionLimits)
    captions: tuple[Path, ...] = option((), "Caption file(s) of the gallery items (any format `translate` reads; "
                                        "repeatable, e.g. the English source and its translation): shown in a "
                                        "result's view and used for example queries.", flag="--captions",
                                        cli=Cli(type=list[Path] | None, convert=tuple))
    examples: Path | None = option(None, "Example queries to offer on the page, one per line (default: captions "
                                   "from --captions in the model's languages).", flag="--examples")
    max_upload_mb: float = option(10.0, "Largest image upload accepted by search-by-image, in MB.",
                                  flag="--max-upload-mb", range=POSITIVE)
    reload_every: float = option(2.0, "Seconds between checks of the store's manifest: a grown store "
                                 "(extract-features --append) is swapped in without a restart; 0: never.",
                                 flag="--reload-every", range=NON_NEGATIVE)
    access_log: bool = option(False, "Log every request to stderr.", flag="--access-log")
    device: str = option("auto", DEVICE_HELP, flag="--device")

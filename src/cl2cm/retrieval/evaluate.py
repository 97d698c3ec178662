"""`cl2cm eval` as one library call: get query and gallery embeddings, rank them, write what was asked.

Three ways to get the embeddings, chosen by which inputs are given (the `SOURCES` registry):

* ``stores``  — ``--query-emb DIR --gallery-emb DIR``: precomputed stores from any model. The query store's
  ``images.txt`` gives each query's visual id, the gallery store's ``ids.txt`` the items.
* ``model``   — ``--model STUDENT --captions TARGET --features STORE``: the student encodes the captions
  (`encode_text`) and the stored visual rows (`encode_store`), per the retrieval-model contract.
* ``text``    — ``--model TEACHER --captions TARGET --gallery-captions EN``: target→English text retrieval;
  the "visual id" of an English caption is its caption id, so a query's positive is the English caption
  with the same id.

``--fuse-translation`` adds NRCCR's test-time query fusion: the machine translation of each query into
English is encoded too (by the model's English tower when it has one), and the scores become
w·minmax(native) + (1−w)·minmax(MT) per query row. It only means something for a model that embeds both
the target language and English in the space of the gallery; with stores, pass an embedding store of the
MT queries (same ids as the query store).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from cl2cm.artifacts.captions import Caption, pair_by_id, read_captions
from cl2cm.artifacts.io import atomic_open, atomic_write_json, check_output_path
from cl2cm.artifacts.lock import output_lock
from cl2cm.artifacts.manifest import Manifest, checksum_inputs
from cl2cm.artifacts.store import EmbeddingStore, load_store, save_store
from cl2cm.errors import UserError
from cl2cm.progress import Progress, reporter
from cl2cm.retrieval.metrics import DEFAULT_KS, Ranks, compute_ranks, gallery_index, retrieval_metrics
from cl2cm.runtime import resolve_device
from cl2cm.train.dist import stage_ranks


@dataclass
class EvalConfig:
    """Everything `cl2cm eval` can be asked; exactly one source of embeddings must be complete."""

    query_emb: Path | None = None
    gallery_emb: Path | None = None
    model: Path | None = None
    captions: Path | Sequence[Path] | None = None  # several: one section per language (`retrieval.languages`)
    features: Path | None = None
    gallery_captions: Path | None = None
    caption_format: str | None = None
    fuse_translation: Path | Sequence[Path] | None = None  # with several --captions: one each, or LANG=FILE
    fuse_weight: float = 0.5
    ks: Sequence[int] = DEFAULT_KS
    chunk: int | None = None
    device: str = "auto"
    half: bool = False
    ties: str = "pessimistic"
    batch_size: int = 256
    out: Path | None = None
    ranks: Path | None = None
    plot: Path | None = None
    save_embeddings: Path | None = None


@dataclass
class Embedded:
    """Query and gallery embeddings with the ids that tie them together."""

    query: torch.Tensor
    query_ids: list[str]
    query_items: list[str]
    gallery: torch.Tensor
    gallery_ids: list[str]
    query_mt: torch.Tensor | None = None
    model: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, Path] = field(default_factory=dict)


@dataclass
class EvalResult:
    metrics: dict[str, Any]
    ranks: Ranks
    source: str
    embedded: Embedded
    written: dict[str, Path] = field(default_factory=dict)
    rank: int = 0  # under torchrun: every rank has the metrics, rank 0 writes the outputs


# ---------------------------------------------------------------------------------------------- sources
def _from_stores(cfg: EvalConfig, device: torch.device, loaded: Any = None) -> Embedded:
    queries = load_store(cfg.query_emb, kind="embeddings", flag="--query-emb")
    gallery = load_store(cfg.gallery_emb, kind=("embeddings", "features"), flag="--gallery-emb")
    if queries.images is None:
        raise UserError("--query-emb: the store has no images.txt, so the visual id of each query is unknown",
                        path=cfg.query_emb)
    for flag, store in (("--query-emb", queries), ("--gallery-emb", gallery)):
        if store.features.ndim != 2:
            raise UserError(f"{flag}: expected pooled [N, D] embeddings, got {tuple(store.features.shape)} "
                            "(evaluate a model with --model to encode token/frame features)")
    if queries.dim != gallery.dim:
        raise UserError(f"dimension mismatch: --query-emb has dimension {queries.dim}, --gallery-emb "
                        f"{gallery.dim} (stores from different models?)")
    mt = None
    if cfg.fuse_translation is not None:
        mt_store = load_store(cfg.fuse_translation, kind="embeddings", expect_dim=queries.dim,
                              flag="--fuse-translation")
        mt = _align_rows(mt_store, queries.ids, "--fuse-translation", "--query-emb")
    return Embedded(queries.features, queries.ids, queries.images, gallery.features, gallery.ids, mt,
                    model=dict(queries.manifest.model) if queries.manifest else {},
                    inputs={"query_emb": cfg.query_emb, "gallery_emb": cfg.gallery_emb})


def _align_rows(store: EmbeddingStore, ids: list[str], flag: str, other: str) -> torch.Tensor:
    row = {i: n for n, i in enumerate(store.ids)}
    missing = [i for i in ids if i not in row]
    if missing:
        raise UserError(f"{flag}: {len(missing)} ids of {other} have no row (first: {missing[0]!r})")
    return store.features[torch.tensor([row[i] for i in ids], dtype=torch.long)]


def _load_model(cfg: EvalConfig, device: torch.device, loaded: Any = None) -> tuple[Any, dict[str, Any]]:
    """The model to evaluate: `loaded` (a model already in memory, `cl2cm.evaluate`) or `cfg.model`."""
    from cl2cm.artifacts.manifest import read_manifest

    if loaded is not None:
        directory = getattr(loaded, "source_dir", None)
        kind = "student" if hasattr(loaded, "encode_store") else "teacher"
        info = {"kind": kind, **(read_manifest(directory).model if directory else {})}
        return loaded, {**info, **({"dir": str(directory)} if directory else {})}
    from cl2cm.models import load_model  # heavy (transformers): only for model modes

    model = load_model(cfg.model, device)
    manifest = read_manifest(cfg.model)
    return model, {"kind": manifest.kind, **manifest.model, "dir": str(cfg.model)}


def _captions(path: Path, fmt: str | None, flag: str) -> list[Caption]:
    if not Path(path).exists():
        raise UserError(f"{flag}: file not found", path=path)
    return read_captions(path, fmt)


def _mt_queries(cfg: EvalConfig, model: Any, queries: list[Caption]) -> torch.Tensor | None:
    if cfg.fuse_translation is None:
        return None
    mt = _captions(cfg.fuse_translation, None, "--fuse-translation")
    pairs = pair_by_id(mt, queries, src_name="--fuse-translation", tgt_name="--captions")
    english = getattr(model, "encode_source", model.encode_text)  # the English tower where there is one
    return english([m.text for m, _ in pairs], batch_size=cfg.batch_size)


def _from_model(cfg: EvalConfig, device: torch.device, loaded: Any = None) -> Embedded:
    model, info = _load_model(cfg, device, loaded)
    if not hasattr(model, "encode_store"):
        raise UserError(f"--model: a {info['kind']} model encodes no visual rows; for target→English text "
                        "retrieval pass --gallery-captions instead of --features", path=cfg.model)
    expect = model.expect_store() if hasattr(model, "expect_store") else {"kind": "features"}
    store = load_store(cfg.features, flag="--features", **expect)
    queries = _captions(cfg.captions, cfg.caption_format, "--captions")
    with torch.no_grad():
        q = model.encode_text([c.text for c in queries], batch_size=cfg.batch_size)
        g = model.encode_store(store)
        mt = _mt_queries(cfg, model, queries)
    return Embedded(q, [c.id for c in queries], [c.image for c in queries], g, list(store.ids), mt, model=info,
                    inputs={"model": cfg.model, "captions": cfg.captions, "features": cfg.features})


def _from_text(cfg: EvalConfig, device: torch.device, loaded: Any = None) -> Embedded:
    model, info = _load_model(cfg, device, loaded)
    queries = _captions(cfg.captions, cfg.caption_format, "--captions")
    english = _captions(cfg.gallery_captions, None, "--gallery-captions")
    encode_en = getattr(model, "encode_source", model.encode_text)
    with torch.no_grad():
        q = model.encode_text([c.text for c in queries], batch_size=cfg.batch_size)
        g = encode_en([c.text for c in english], batch_size=cfg.batch_size)
        mt = _mt_queries(cfg, model, queries)
    return Embedded(q, [c.id for c in queries], [c.id for c in queries], g, [c.id for c in english], mt,
                    model=info, inputs={"model": cfg.model, "captions": cfg.captions,
                                        "gallery_captions": cfg.gallery_captions})


#: source name -> (required inputs, loader(config, device, model already loaded or None))
SOURCES: dict[str, tuple[tuple[str, ...], Callable[[EvalConfig, torch.device, Any], Embedded]]] = {
    "stores": (("query_emb", "gallery_emb"), _from_stores),
    "model": (("model", "captions", "features"), _from_model),
    "text": (("model", "captions", "gallery_captions"), _from_text),
}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def choose_source(cfg: EvalConfig) -> str:
    """The one source whose inputs are all given; anything else is a one-line usage error."""
    given = {k for k in ("query_emb", "gallery_emb", "model", "captions", "features", "gallery_captions")
             if getattr(cfg, k) is not None}
    exact = [name for name, (need, _) in SOURCES.items() if set(need) == given]
    if len(exact) == 1:
        return exact[0]
    usage = "; ".join(" ".join(_flag(n) for n in need) for need, _ in SOURCES.values())
    if not given:
        raise UserError(f"nothing to evaluate: pass one of: {usage}")
    raise UserError(f"cannot combine {' '.join(_flag(n) for n in sorted(given))}: pass exactly one of: {usage}")


# ---------------------------------------------------------------------------------------------- outputs
def rank_records(emb: Embedded, ranks: Ranks) -> Iterator[dict[str, Any]]:
    """One record per t2v query (caption id, its item, rank), then one per v2t item (best rank)."""
    for qid, item, r in zip(emb.query_ids, emb.query_items, ranks.t2v.tolist(), strict=True):
        yield {"direction": "t2v", "query": qid, "target": item, "rank": r}
    for g, r, ap in zip(ranks.v2t_items.tolist(), ranks.v2t.tolist(), ranks.v2t_ap.tolist(), strict=True):
        yield {"direction": "v2t", "query": emb.gallery_ids[g], "rank": r, "ap": ap}


def write_ranks(path: Path, emb: Embedded, ranks: Ranks) -> None:
    """`--ranks`: the `rank_records`, one JSON line each."""
    with atomic_open(path, "w") as fh:
        for rec in rank_records(emb, ranks):
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")


def save_embeddings(directory: Path, emb: Embedded, source: str) -> None:
    """`DIR/queries` and `DIR/gallery` embedding stores, readable back with --query-emb/--gallery-emb."""
    directory.mkdir(parents=True, exist_ok=True)
    inputs = checksum_inputs({k: v for k, v in emb.inputs.items() if v is not None})
    with output_lock(directory):
        save_store(directory / "queries", emb.query, emb.query_ids,
                   Manifest(kind="embeddings", model=dict(emb.model), inputs=inputs,
                            extra={"side": "queries", "source": source}), images=emb.query_items)
        save_store(directory / "gallery", emb.gallery, emb.gallery_ids,
                   Manifest(kind="embeddings", model=dict(emb.model), inputs=inputs,
                            extra={"side": "gallery", "source": source}))


# ---------------------------------------------------------------------------------------------- entry
def _named(emb: Embedded, *keys: str) -> str:
    """`--flag path` of the first input given, so a message about queries or gallery names its source."""
    key = next(k for k in keys if emb.inputs.get(k))
    return f"--{key.replace('_', '-')} {emb.inputs[key]}"


def evaluate_config(cfg: EvalConfig, *, model: Any = None, progress: Progress | None = None) -> EvalResult:
    """Embed (per the chosen source) and rank exactly; writes nothing. `model`: one already loaded."""
    source = choose_source(cfg)
    launch = stage_ranks(None)  # torchrun: each rank scores a share of the query blocks, counts are summed
    device = launch.device(resolve_device(cfg.device))
    task = reporter(progress).task("encoding", unit="queries")
    emb = SOURCES[source][1](cfg, device, model)
    task.update(description="ranking", total=emb.query.shape[0], completed=0)
    idx = gallery_index(emb.query_items, emb.gallery_ids, query_name=f"queries ({_named(emb, 'query_emb', 'captions')})",
                        gallery_name=f"the gallery ({_named(emb, 'gallery_emb', 'gallery_captions', 'features')})")
    ranks = compute_ranks(emb.query, emb.gallery, idx, chunk=cfg.chunk, device=device, half=cfg.half,
                          ties=cfg.ties, query_mt_emb=emb.query_mt, fuse_weight=cfg.fuse_weight,
                          progress=task.advance, distributed=launch.collective)
    task.close()
    return EvalResult(metrics=retrieval_metrics(ranks, cfg.ks), ranks=ranks, source=source, embedded=emb,
                      rank=launch.rank)


def _paths(value: str | Path | Sequence[str | Path] | None) -> Path | list[Path] | None:
    if value is None or isinstance(value, (str, Path)):
        return None if value is None else Path(value)
    return [Path(v) for v in value]


def several_languages(cfg: EvalConfig) -> bool:
    """Several --captions files: the per-language evaluation of `cl2cm.retrieval.languages`."""
    return not isinstance(cfg.captions, (str, Path, type(None))) and len(cfg.captions) > 1


def one_language(cfg: EvalConfig) -> EvalConfig:
    """A config whose one-element caption/fusion lists are plain paths (today's single-language run)."""
    from dataclasses import replace

    def unwrap(value: Any) -> Any:
        return value[0] if isinstance(value, (list, tuple)) and len(value) == 1 else value

    return replace(cfg, captions=unwrap(cfg.captions), fuse_translation=unwrap(cfg.fuse_translation))


def evaluate(model: Any = None, *, captions: str | Path | Sequence[str | Path] | None = None,
             features: str | Path | None = None, gallery_captions: str | Path | None = None,
             query_emb: str | Path | None = None, gallery_emb: str | Path | None = None,
             config: EvalConfig | None = None) -> dict[str, Any]:
    """The metrics dict `eval --out` writes, from Python (`cl2cm.evaluate`).

    `model` is a model directory or a model from `cl2cm.load_model`; with `features` it is a student
    ranking images, with `gallery_captions` a teacher ranking English captions; or pass two embedding
    stores (`query_emb`, `gallery_emb`). `config` gives the other `eval` options (ks, ties, chunk, ...).
    Several `captions` files (one per language) give ``{code: metrics, ..., "mean": ...}``.
    """
    from dataclasses import replace

    loaded = None if model is None or isinstance(model, (str, Path)) else model
    inputs = {"captions": captions, "features": features, "gallery_captions": gallery_captions,
              "query_emb": query_emb, "gallery_emb": gallery_emb}
    cfg = replace(config or EvalConfig(), model=Path(model) if loaded is None and model is not None else None,
                  **{k: _paths(v) for k, v in inputs.items()})
    if loaded is not None:  # the source is chosen as if a directory were given; the loaded model is used
        cfg = replace(cfg, model=Path(getattr(loaded, "source_dir", None) or "<model in memory>"))
    if several_languages(cfg):
        from cl2cm.retrieval.languages import evaluate_languages

        return evaluate_languages(cfg, model=loaded).metrics
    return evaluate_config(one_language(cfg), model=loaded).metrics


def run_eval(cfg: EvalConfig, *, progress: Progress | None = None) -> Any:
    """`cl2cm eval`: `evaluate_config`, then write --out/--ranks/--plot/--save-embeddings.

    Returns an `EvalResult`, or with several --captions a `languages.LanguagesEvalResult`.
    """
    choose_source(cfg)  # a usage error first
    for flag, path in (("--out", cfg.out), ("--ranks", cfg.ranks), ("--plot", cfg.plot)):
        check_output_path(path, flag)  # before minutes of encoding, not after
    check_output_path(cfg.save_embeddings, "--save-embeddings", directory=True)
    if cfg.plot is not None:
        from cl2cm.retrieval.report import require_matplotlib

        require_matplotlib()  # fail before the expensive part, not after it
    if several_languages(cfg):
        from cl2cm.retrieval.languages import run_eval_languages

        return run_eval_languages(cfg, progress=progress)
    result = evaluate_config(one_language(cfg), progress=progress)
    if result.rank != 0:  # under torchrun every rank has the metrics; rank 0 writes the outputs
        return result
    emb, ranks, metrics = result.embedded, result.ranks, result.metrics
    if cfg.out is not None:
        atomic_write_json(cfg.out, metrics)
        result.written["metrics"] = cfg.out
    if cfg.ranks is not None:
        write_ranks(cfg.ranks, emb, ranks)
        result.written["ranks"] = cfg.ranks
    if cfg.plot is not None:
        from cl2cm.retrieval.report import plot_recall_curves

        plot_recall_curves(cfg.plot, ranks)
        result.written["plot"] = cfg.plot
    if cfg.save_embeddings is not None:
        save_embeddings(cfg.save_embeddings, emb, source=result.source)
        result.written["embeddings"] = cfg.save_embeddings
    return result

"""`cl2cm eval` as one library call (`run_eval`): get query and gallery embeddings, rank them, write what was asked.

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
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from cl2cm.artifacts.captions import Caption, pair_by_id, read_captions, unique_languages
from cl2cm.artifacts.io import atomic_open, atomic_write_json, check_output_path
from cl2cm.artifacts.leakage import check_overlap
from cl2cm.artifacts.lock import output_lock
from cl2cm.artifacts.manifest import Manifest, checksum_inputs
from cl2cm.artifacts.store import EmbeddingStore, load_store, save_store
from cl2cm.config import check_fields
from cl2cm.config.query import EvalConfig  # noqa: F401  (the config's home)
from cl2cm.distributed import StageRanks, stage_ranks
from cl2cm.errors import UserError
from cl2cm.progress import Progress, reporter
from cl2cm.retrieval.langcheck import caption_language, check_language, language_note, languages_of, outside
from cl2cm.retrieval.languages import as_list, assign_fusion, language_of, per_language_path
from cl2cm.retrieval.metrics import (
    Ranks,
    compute_ranks,
    gallery_index,
    mean_over_languages,
    retrieval_metrics,
    rounded,
)
from cl2cm.runtime import resolve_device


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
    leakage: dict[str, Any] | None = None  # the gallery's overlap with the model's training store
    query_lang: str | None = None  # what the captions say they are in (None: they do not say)


@dataclass
class Ranked:
    """One query file ranked exactly against the gallery: its metrics section, ranks and embeddings."""

    metrics: dict[str, Any]
    ranks: Ranks
    embedded: Embedded


@dataclass
class EvalResult:
    """What `run_eval` returns. `metrics` is the JSON `eval --out` writes: one section, or with several
    --captions ``{code: section, ..., "mean": the unweighted mean}``; `sections` holds each ranked file
    (keyed by language code; one file: by ``""``)."""

    metrics: dict[str, Any]
    source: str
    sections: dict[str, Ranked]
    written: dict[str, Path] = field(default_factory=dict)
    rank: int = 0  # under torchrun: every rank has the metrics, rank 0 writes the outputs

    @property
    def languages(self) -> list[str]:
        """The language codes of a several-language run; empty for one --captions."""
        return [code for code in self.sections if code]

    @property
    def ranks(self) -> Ranks:
        """The first (with one --captions: the only) file's ranks."""
        return next(iter(self.sections.values())).ranks

    @property
    def leakage(self) -> dict[str, Any] | None:
        """The gallery's overlap with the model's training items (`metrics["leakage"]`, of one language or of
        the first language section that has one): the numbers are then no held-out ones."""
        sections = [self.metrics, *(v for v in self.metrics.values() if isinstance(v, dict))]
        return next((m["leakage"] for m in sections if "leakage" in m), None)


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
        if languages_of(loaded):  # what `model.languages` says, even without its directory
            info["languages"] = list(languages_of(loaded))
        return loaded, {**info, **({"dir": str(directory)} if directory else {})}
    from cl2cm.models import load_model  # heavy (transformers): only for model modes

    model = load_model(cfg.model, device, lite=True)  # inference only: a saved BERT without transformers
    if not hasattr(model, "source_dir") or model.source_dir is None:  # "openclip:NAME@TAG": no directory
        return model, {"kind": model.kind, **model.identity}
    manifest = read_manifest(cfg.model)
    info = {"kind": manifest.kind, **manifest.model, "dir": str(cfg.model)}
    if languages_of(model):  # config.json's record (what `model.languages` says) wins over the manifest's
        info["languages"] = list(languages_of(model))
    return model, info


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
    leakage = check_overlap(info.get("dir"), store, cfg.features)
    queries = _captions(cfg.captions, cfg.caption_format, "--captions")
    with torch.no_grad():
        q = model.encode_text([c.text for c in queries], batch_size=cfg.batch_size)
        g = model.encode_store(store)
        mt = _mt_queries(cfg, model, queries)
    return Embedded(q, [c.id for c in queries], [c.image for c in queries], g, list(store.ids), mt, model=info,
                    inputs={"model": cfg.model, "captions": cfg.captions, "features": cfg.features},
                    leakage=leakage, query_lang=caption_language(queries, cfg.captions))


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
                                        "gallery_captions": cfg.gallery_captions},
                    query_lang=caption_language(queries, cfg.captions))


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


def plot_title(emb: Embedded) -> str:
    """What a recall plot shows: the model, the queries' language(s) and the gallery."""
    def short(path: object) -> str:  # the last two parts: "demo/student", "features/test"
        return "/".join(Path(str(path)).parts[-2:]) if path else "?"

    model = short(emb.model.get("dir") or emb.inputs.get("query_emb"))
    gallery = emb.inputs.get("features") or emb.inputs.get("gallery_captions") or emb.inputs.get("gallery_emb")
    return f"model {model} · {emb.query_lang or 'language not given'} · gallery {short(gallery)}"


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


def _rank(cfg: EvalConfig, launch: StageRanks, model: Any, progress: Progress | None) -> tuple[str, Ranked]:
    """Embed one query file (per the chosen source) and rank it exactly; writes nothing."""
    source = choose_source(cfg)
    device = launch.device(resolve_device(cfg.device))
    task = reporter(progress).task("encoding", unit="queries")
    emb = SOURCES[source][1](cfg, device, model)
    notes = check_language(language_note(languages_of(emb.model), emb.query_lang,
                                         f"the captions of --captions {cfg.captions}"), strict=cfg.strict_languages)
    task.update(description="ranking", total=emb.query.shape[0], completed=0)
    idx = gallery_index(emb.query_items, emb.gallery_ids, query_name=f"queries ({_named(emb, 'query_emb', 'captions')})",
                        gallery_name=f"the gallery ({_named(emb, 'gallery_emb', 'gallery_captions', 'features')})")
    ranks = compute_ranks(emb.query, emb.gallery, idx, chunk=cfg.chunk, device=device, half=cfg.half,
                          ties=cfg.ties, query_mt_emb=emb.query_mt, fuse_weight=cfg.fuse_weight,
                          progress=task.advance, distributed=launch.collective, kernel=cfg.rank_kernel)
    task.close()
    metrics = rounded(retrieval_metrics(ranks, cfg.ks))  # `rounded`: what each number means, said once
    if emb.leakage is not None:
        metrics["leakage"] = emb.leakage
    if notes:  # recorded only when there is something to say: the usual JSON keeps its keys
        metrics["warnings"] = notes
    return source, Ranked(metrics=metrics, ranks=ranks, embedded=emb)


def _one_or_list(value: Path | Sequence[Path] | None) -> Path | list[Path] | None:
    """One file is today's single-language run; several (the per-language run) stay a list."""
    if value is None or isinstance(value, (str, Path)):
        return None if value is None else Path(value)
    return Path(value[0]) if len(value) == 1 else [Path(v) for v in value]


def _keyed_single(cfg: EvalConfig) -> EvalConfig:
    """`--fuse-translation de=FILE` beside one --captions file: the LANG=FILE form, checked against its language."""
    fuse = cfg.fuse_translation
    if not isinstance(cfg.captions, Path) or not isinstance(fuse, Path) or fuse.exists():
        return cfg
    code, sep, rest = str(fuse).partition("=")
    if not sep or not code.isalpha():
        return cfg
    have = language_of(cfg.captions, cfg.caption_format)
    if code != have:
        raise UserError(f"--fuse-translation {code}=...: --captions is in {have!r}, not {code!r}")
    return replace(cfg, fuse_translation=Path(rest))


def _sections(cfg: EvalConfig, launch: StageRanks, model: Any, progress: Progress | None
              ) -> tuple[str, dict[str, Ranked]]:
    """Each query file ranked against the one gallery: ``{"": ranked}`` for one file, else by language."""
    if not isinstance(cfg.captions, list):
        source, ranked = _rank(cfg, launch, model, progress)
        return source, {"": ranked}
    if cfg.query_emb is not None or cfg.gallery_emb is not None:
        raise UserError("--captions repeated evaluates a model (--model with --features or --gallery-captions), "
                        "not --query-emb/--gallery-emb stores")
    codes = [language_of(p, cfg.caption_format) for p in cfg.captions]
    unique_languages(codes, cfg.captions, "--captions")
    fusion = assign_fusion(codes, cfg.captions, as_list(cfg.fuse_translation))
    if model is None and cfg.model is not None:  # load once for every language
        from cl2cm.models import load_model

        model = load_model(cfg.model, launch.device(resolve_device(cfg.device)))
    sections: dict[str, Ranked] = {}
    for code, path in zip(codes, cfg.captions, strict=True):
        source, sections[code] = _rank(replace(cfg, captions=path, fuse_translation=fusion[code]), launch,
                                       model, progress)
    return source, sections


def run_eval(cfg: EvalConfig, *, model: Any = None, progress: Progress | None = None) -> EvalResult:
    """The one evaluation (`cl2cm eval`, `cl2cm.evaluate`): one or several --captions files against one
    gallery, exact ranks, then whatever `cfg` asks to write (--out, --ranks, --plot, --save-embeddings).

    `model`: one already loaded (else `cfg.model` is loaded). Several caption files (one per language,
    `retrieval.languages`) give one section per language code and their unweighted mean.
    """
    cfg = replace(cfg, captions=_one_or_list(cfg.captions), fuse_translation=_one_or_list(cfg.fuse_translation))
    check_fields(cfg)
    choose_source(cfg)  # a usage error first
    cfg = _keyed_single(cfg)
    for flag, path in (("--out", cfg.out), ("--ranks", cfg.ranks), ("--plot", cfg.plot)):
        check_output_path(path, flag)  # before minutes of encoding, not after
    check_output_path(cfg.save_embeddings, "--save-embeddings", directory=True)
    if cfg.plot is not None:
        from cl2cm.retrieval.report import require_matplotlib

        require_matplotlib()  # fail before the expensive part, not after it
    launch = stage_ranks(None)  # torchrun: each rank scores a share of the query blocks, counts are summed
    source, sections = _sections(cfg, launch, model, progress)
    if "" in sections:
        metrics = sections[""].metrics
    else:
        per_language = {code: r.metrics for code, r in sections.items()}
        metrics = {**per_language, "mean": rounded(mean_over_languages(per_language))}
        first = next(iter(sections.values())).embedded
        unknown = outside(languages_of(first.model), list(per_language))
        if unknown:  # each such section also carries its one-line warning
            metrics["mean"]["outside_model_languages"] = unknown
    result = EvalResult(metrics=metrics, source=source, sections=sections, rank=launch.rank)
    if result.rank == 0:  # under torchrun every rank has the metrics; rank 0 writes the outputs
        _write(cfg, result)
    return result


def _write(cfg: EvalConfig, result: EvalResult) -> None:
    """The outputs asked for; several languages keep one file per language (`languages.per_language_path`)."""
    several = bool(result.languages)
    if cfg.out is not None:
        atomic_write_json(cfg.out, result.metrics)
        result.written["metrics"] = cfg.out
    if cfg.ranks is not None:
        with atomic_open(cfg.ranks, "w") as fh:
            for code, r in result.sections.items():
                for rec in rank_records(r.embedded, r.ranks):
                    fh.write(json.dumps({"lang": code, **rec} if several else rec, ensure_ascii=False) + "\n")
        result.written["ranks"] = cfg.ranks
    if cfg.plot is not None:
        from cl2cm.retrieval.report import plot_recall_curves

        for code, r in result.sections.items():
            plot_recall_curves(per_language_path(cfg.plot, code), r.ranks, title=plot_title(r.embedded))
        result.written["plots" if several else "plot"] = per_language_path(cfg.plot, "<lang>" if several else "")
    if cfg.save_embeddings is not None:
        for code, r in result.sections.items():
            save_embeddings(cfg.save_embeddings / code, r.embedded, source=result.source)
        result.written["embeddings"] = cfg.save_embeddings / ("<lang>" if several else "")

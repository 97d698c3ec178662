"""`eval` over several target languages at once: one section per language and their mean.

`--captions` repeated (one file per language) evaluates one model against one gallery for every
language: each file is ranked exactly as a single `--captions` run would rank it (the same
`evaluate_config`, so a language's section equals the JSON of its own run), under the language's code
(the records' ``lang``, else the file's ``.<lang>`` suffix; `corpus_language`). ``"mean"`` averages the
languages unweighted (`mean_over_languages`). `--fuse-translation` is given once per `--captions` in the
same order, or as ``LANG=FILE`` for the languages that have one.

Side outputs keep one file per language: `--ranks` lines carry ``"lang"``, `--plot` writes
``<stem>-<lang><suffix>``, `--save-embeddings` writes ``DIR/<lang>/{queries,gallery}``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from cl2cm.artifacts.captions import corpus_language, read_captions, unique_languages
from cl2cm.artifacts.io import atomic_open, atomic_write_json
from cl2cm.errors import UserError
from cl2cm.progress import Progress
from cl2cm.retrieval.evaluate import EvalConfig, EvalResult, evaluate_config, rank_records, save_embeddings
from cl2cm.retrieval.metrics import mean_over_languages


@dataclass
class LanguagesEvalResult:
    """`metrics` is the JSON `eval --out` writes: ``{code: section, ..., "mean": ...}``."""

    metrics: dict[str, Any]
    results: dict[str, EvalResult]
    source: str
    written: dict[str, Path] = field(default_factory=dict)
    rank: int = 0  # under torchrun: every rank has the metrics, rank 0 writes the outputs


def as_list(value: Path | Sequence[Path] | None) -> list[Path]:
    if value is None:
        return []
    return [Path(value)] if isinstance(value, (str, Path)) else [Path(v) for v in value]


def language_of(path: Path, fmt: str | None, flag: str = "--captions") -> str:
    """The code a caption file's section is keyed by."""
    return corpus_language(read_captions(path, fmt), path, flag=flag)


def assign_fusion(codes: list[str], captions: list[Path], fuse: list[Path]) -> dict[str, Path | None]:
    """Each language's --fuse-translation file: one per --captions in order, or LANG=FILE entries."""
    if not fuse:
        return dict.fromkeys(codes)
    keyed = [str(f).split("=", 1) for f in fuse]
    if all(len(k) == 2 and k[0] in codes for k in keyed):
        by_code = {code: Path(p) for code, p in keyed}
        if len(by_code) != len(keyed):
            raise UserError("--fuse-translation: a language is given twice")
        return {code: by_code.get(code) for code in codes}
    if len(fuse) != len(captions):
        raise UserError(f"--fuse-translation: {len(fuse)} file(s) for {len(captions)} --captions; give one per "
                        f"--captions (same order) or LANG=FILE for the languages that have one ({', '.join(codes)})")
    return dict(zip(codes, fuse, strict=True))


def evaluate_languages(cfg: EvalConfig, *, model: Any = None, progress: Progress | None = None
                       ) -> LanguagesEvalResult:
    """Every `--captions` file against the one gallery; writes nothing. `model`: one already loaded."""
    captions = as_list(cfg.captions)
    if cfg.query_emb is not None or cfg.gallery_emb is not None:
        raise UserError("--captions repeated evaluates a model (--model with --features or --gallery-captions), "
                        "not --query-emb/--gallery-emb stores")
    codes = [language_of(p, cfg.caption_format) for p in captions]
    unique_languages(codes, captions, "--captions")
    fusion = assign_fusion(codes, captions, as_list(cfg.fuse_translation))
    if model is None and cfg.model is not None:  # load once for every language
        from cl2cm.api import load_model

        model = load_model(cfg.model, cfg.device)
    results: dict[str, EvalResult] = {}
    for code, path in zip(codes, captions, strict=True):
        one = replace(cfg, captions=path, fuse_translation=fusion[code])
        results[code] = evaluate_config(one, model=model, progress=progress)
    sections = {code: r.metrics for code, r in results.items()}
    metrics = {**sections, "mean": mean_over_languages(sections)}
    first = next(iter(results.values()))
    return LanguagesEvalResult(metrics=metrics, results=results, source=first.source, rank=first.rank)


def write_language_ranks(path: Path, results: dict[str, EvalResult]) -> None:
    """`--ranks` of several languages in one JSONL: each language's rank records with its code."""
    with atomic_open(path, "w") as fh:
        for code, r in results.items():
            for rec in rank_records(r.embedded, r.ranks):
                fh.write(json.dumps({"lang": code, **rec}, ensure_ascii=False) + "\n")


def per_language_path(path: Path, code: str) -> Path:
    return path.with_name(f"{path.stem}-{code}{path.suffix}")


def run_eval_languages(cfg: EvalConfig, *, progress: Progress | None = None) -> LanguagesEvalResult:
    """`cl2cm eval` with several --captions: `evaluate_languages`, then the outputs asked for."""
    result = evaluate_languages(cfg, progress=progress)
    if result.rank != 0:
        return result
    if cfg.out is not None:
        atomic_write_json(cfg.out, result.metrics)
        result.written["metrics"] = cfg.out
    if cfg.ranks is not None:
        write_language_ranks(cfg.ranks, result.results)
        result.written["ranks"] = cfg.ranks
    if cfg.plot is not None:
        from cl2cm.retrieval.report import plot_recall_curves

        for code, r in result.results.items():
            plot_recall_curves(per_language_path(cfg.plot, code), r.ranks)
        result.written["plots"] = per_language_path(cfg.plot, "<lang>")
    if cfg.save_embeddings is not None:
        for code, r in result.results.items():
            save_embeddings(cfg.save_embeddings / code, r.embedded, source=r.source)
        result.written["embeddings"] = cfg.save_embeddings / "<lang>"
    return result

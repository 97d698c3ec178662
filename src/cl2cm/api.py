"""The public Python API: what `import cl2cm` gives (re-exported lazily by `cl2cm/__init__.py`).

    import cl2cm
    model = cl2cm.load_model("runs/student-de")            # teacher or student, kind from the manifest
    q = model.encode_text(["ein Hund rennt"])               # [N, D] float32, L2-normalised
    store = cl2cm.load_store("runs/feats/test")             # EmbeddingStore (features, ids, ...)
    v = model.encode_store(store)                           # [M, D]
    v2 = model.encode_images(["a.jpg", "b.jpg"])            # raw images -> recorded visual encoder -> head
    m = cl2cm.evaluate(model, captions="test.de", features="runs/feats/test")  # the `eval --out` dict
    hits = cl2cm.search(model, "runs/feats/test", ["ein Hund rennt"], k=10)  # [Hit(query, rank, id, score, lang)]
    model.languages                                         # ("de",): what it was trained on

Every stage function takes its inputs, then `out`, then one config dataclass, and returns a small result
object; progress goes to an optional `progress` reporter (`cl2cm.progress.Progress`), never to stdout.
User mistakes raise `cl2cm.UserError` with a one-line message naming the file or option.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias, Union

import torch

from cl2cm.artifacts.store import EmbeddingStore
from cl2cm.artifacts.store import load_store as _load_store
from cl2cm.errors import UserError
from cl2cm.features.extract import ExtractConfig, ExtractResult
from cl2cm.progress import Progress
from cl2cm.retrieval.evaluate import EvalConfig, run_eval
from cl2cm.retrieval.search import Hit
from cl2cm.train.distill import DistillConfig, DistillResult
from cl2cm.train.teacher import TeacherResult, TrainTeacherConfig
from cl2cm.translation.runner import TranslateConfig, TranslateResult

if TYPE_CHECKING:  # the classes only name types here; `load_model` imports the one a directory needs
    from cl2cm.models.student import Student
    from cl2cm.models.teacher import CrossLingualTeacher

PathLike = str | Path
#: What `load_model` returns: a student (text ↔ visual) or a teacher (target ↔ English text).
Model: TypeAlias = Union["Student", "CrossLingualTeacher"]  # noqa: UP007 (names defined only for the checker)
#: A JSON value: what the metrics dicts hold (numbers, strings, lists, nested sections).
JSON: TypeAlias = float | int | str | bool | None | list["JSON"] | dict[str, "JSON"]
Metrics: TypeAlias = dict[str, JSON]

__all__ = ["JSON", "Hit", "Metrics", "Model", "PathLike", "distill", "encode_images", "encode_store",
           "encode_text", "evaluate", "extract_features", "load_model", "load_store", "search", "train_teacher",
           "translate"]


def load_model(directory: PathLike, device: str = "cpu") -> Model:
    """A teacher or student model directory, in eval mode (the manifest's kind picks the class).

    Both have `encode_text(texts) -> [N, D]` and `languages` (the codes it was trained on; () when the
    directory predates recording them); students also `encode_store(store)`, `encode_visual(rows)` and
    `encode_images(paths)`; teachers `encode_source(english_texts)`.
    """
    from cl2cm.models.io import load_model as _load_model
    from cl2cm.runtime import resolve_device

    model: Model = _load_model(directory, resolve_device(device))  # type: ignore[assignment]
    return model


def load_store(directory: PathLike, *, kind: str | tuple[str, ...] | None = None, expect_dim: int | None = None,
               expect_model: Mapping[str, object] | None = None) -> EmbeddingStore:
    """An embedding store (`features`, `ids`, optional `mask`, `tokens`, `images`), validated.

    `kind`, `expect_dim`, `expect_model` refuse a store that is not what the caller needs (e.g.
    `**model.expect_store()` refuses a store from another visual model than the student's).
    """
    return _load_store(directory, kind=kind, expect_dim=expect_dim,
                       expect_model=dict(expect_model) if expect_model is not None else None)


def search(model: Model | PathLike, gallery: EmbeddingStore | PathLike, queries: str | Sequence[str], k: int = 10,
           *, lang: str | None = None, strict_languages: bool = False, batch_size: int = 256,
           device: str = "cpu") -> list[Hit]:
    """The `k` best visual items of `gallery` (a feature store or its directory) for each query text.

    The same ranking as `cl2cm search` (cosine, ties by gallery order): `Hit(query, rank, id, score, lang)`,
    query by query, rank 1 first. The queries' language — `lang`, else detected per query (`cl2cm.langid`;
    `Hit.lang` None when unsure) — is checked against `model.languages`: a `LanguageWarning` per query
    outside them, or a `UserError` under `strict_languages`.
    """
    from cl2cm.langid import warm_up
    from cl2cm.retrieval.search import check_query_languages, encode_gallery, query_texts, rank

    texts = query_texts([queries] if isinstance(queries, str) else list(queries))  # before loading anything
    if not lang:
        warm_up()  # the detector loads while the model does
    loaded = load_model(model, device) if isinstance(model, (str, Path)) else model  # `device`: when loading
    store = gallery if isinstance(gallery, EmbeddingStore) else Path(gallery)
    where = Path(model) if isinstance(model, (str, Path)) else None
    if not hasattr(loaded, "encode_store"):
        raise UserError("this model encodes no visual rows (search needs a student)", path=where)
    ranked = encode_gallery(loaded, store, next(loaded.parameters()).device, model_dir=where)
    codes = check_query_languages(loaded, texts, lang, strict=strict_languages,
                                  what="the queries")
    return [Hit(res.query, i, item, score, code)
            for res, code in zip(rank(ranked, texts, k=k, batch_size=batch_size), codes, strict=True)
            for i, (item, score) in enumerate(res.hits, 1)]


def evaluate(model: Model | PathLike | None = None, *, captions: PathLike | Sequence[PathLike] | None = None,
             features: PathLike | None = None,
             gallery_captions: PathLike | None = None, query_emb: PathLike | None = None,
             gallery_emb: PathLike | None = None, config: EvalConfig | None = None) -> Metrics:
    """The metrics dict `cl2cm eval --out` writes (t2v, v2t, SumR, queries, gallery); several `captions`
    files (one per language): ``{code: that dict, ..., "mean": the unweighted mean}``.

    `model`: a directory or a model from `load_model`. Student + `features` ranks images for each
    caption; teacher + `gallery_captions` ranks English captions; or give two stores (`query_emb`,
    `gallery_emb`) and no model. `config` carries the other eval options (ks, ties, chunk, device, ...).
    """
    from dataclasses import replace

    def path(value: PathLike | None) -> Path | None:
        return None if value is None else Path(value)

    loaded: Model | None = None
    if model is None or isinstance(model, (str, Path)):
        model_dir = path(model)
    else:  # the source is chosen as if a directory were given; the loaded model is used
        loaded = model
        model_dir = Path(getattr(model, "source_dir", None) or "<model in memory>")
    caption_paths: Path | list[Path] | None  # one path or several: `run_eval` tells
    if captions is None or isinstance(captions, (str, Path)):
        caption_paths = path(captions)
    else:
        caption_paths = [Path(c) for c in captions]
    cfg = replace(config or EvalConfig(), model=model_dir, captions=caption_paths,
                  features=path(features), gallery_captions=path(gallery_captions), query_emb=path(query_emb),
                  gallery_emb=path(gallery_emb))
    return run_eval(cfg, model=loaded).metrics


def encode_text(model: Model, texts: Sequence[str], batch_size: int = 256) -> torch.Tensor:
    """`model.encode_text(texts)`: [N, D] float32, L2-normalised, on CPU."""
    return model.encode_text(list(texts), batch_size)


def encode_store(model: Student, store: EmbeddingStore | PathLike) -> torch.Tensor:
    """A student's embeddings of every row of a feature store (a loaded store or its directory)."""
    if not isinstance(store, EmbeddingStore):
        store = _load_store(store, **model.expect_store())
    return model.encode_store(store)


def encode_images(model: Student, paths: Sequence[PathLike], *, batch_size: int = 64,
                  visual_model: str | None = None, pretrained: str | None = None) -> torch.Tensor:
    """A student's embeddings of raw image files (`Student.encode_images`; `visual_model`/`pretrained`
    override a recorded encoder path that moved)."""
    return model.encode_images(list(paths), batch_size=batch_size, model=visual_model, pretrained=pretrained)


# ---------------------------------------------------------------------------------------------- stages
def translate(captions: PathLike, out: PathLike, config: TranslateConfig, *,
              progress: Progress | None = None) -> TranslateResult:
    """Captions → `out/<lang>.jsonl` per target + manifest (resumable, shardable)."""
    from cl2cm.translation.runner import translate_corpus

    return translate_corpus(captions, out, config, progress=progress)


def extract_features(images: PathLike, out: PathLike, config: ExtractConfig | None = None, *,
                     progress: Progress | None = None) -> ExtractResult:
    """Images (folder, list or caption corpus) → a frozen-feature store in `out` (resumable, shardable)."""
    from cl2cm.features.extract import extract_features as _extract

    return _extract(images, out, config or ExtractConfig(), progress=progress)


def train_teacher(src: PathLike, tgt: PathLike | Sequence[PathLike], out: PathLike,
                  config: TrainTeacherConfig | None = None, *, val_src: PathLike | None = None,
                  val_tgt: PathLike | Sequence[PathLike] | None = None,
                  progress: Progress | None = None) -> TeacherResult:
    """English ↔ translated caption pairs → a teacher model directory in `out`."""
    from cl2cm.train.teacher import train_teacher as _train

    return _train(src, tgt, out, config, val_src=val_src, val_tgt=val_tgt, progress=progress)


def distill(teacher: PathLike, features: PathLike, src: PathLike, tgt: PathLike | Sequence[PathLike], out: PathLike,
            config: DistillConfig | None = None, *, val_features: PathLike | None = None,
            val_captions: PathLike | Sequence[PathLike] | None = None, progress: Progress | None = None) -> DistillResult:
    """Teacher + training feature store + pseudo pairs → a student model directory in `out`."""
    from cl2cm.train.distill import distill as _distill

    return _distill(teacher, features, src, tgt, out, config, val_features=val_features,
                    val_captions=val_captions, progress=progress)

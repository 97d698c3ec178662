"""The public Python API: what `import cl2cm` gives (re-exported lazily by `cl2cm/__init__.py`).

    import cl2cm
    model = cl2cm.load_model("runs/student-de")            # teacher or student, kind from the manifest
    q = model.encode_text(["ein Hund rennt"])               # [N, D] float32, L2-normalised
    store = cl2cm.load_store("runs/feats/test")             # EmbeddingStore (features, ids, ...)
    v = model.encode_store(store)                           # [M, D]
    v2 = model.encode_images(["a.jpg", "b.jpg"])            # raw images -> recorded visual encoder -> head
    m = cl2cm.evaluate(model, captions="test.de", features="runs/feats/test")  # the `eval --out` dict

Every stage function takes its inputs, then `out`, then one config dataclass, and returns a small result
object; progress goes to an optional `progress` reporter (`cl2cm.progress.Progress`), never to stdout.
User mistakes raise `cl2cm.UserError` with a one-line message naming the file or option.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cl2cm.artifacts.store import EmbeddingStore
from cl2cm.artifacts.store import load_store as _load_store
from cl2cm.features.extract import ExtractConfig, ExtractResult
from cl2cm.progress import Progress
from cl2cm.retrieval.evaluate import EvalConfig
from cl2cm.retrieval.evaluate import evaluate as _evaluate
from cl2cm.train.distill import DistillConfig, DistillResult
from cl2cm.train.teacher import TeacherResult, TrainTeacherConfig
from cl2cm.translate.runner import TranslateConfig, TranslateResult

PathLike = str | Path


def load_model(directory: PathLike, device: str = "cpu") -> Any:
    """A teacher or student model directory, in eval mode (the manifest's kind picks the class).

    Both have `encode_text(texts) -> [N, D]`; students also `encode_store(store)`, `encode_visual(rows)`
    and `encode_images(paths)`; teachers `encode_source(english_texts)`.
    """
    from cl2cm.models.io import load_model as _load_model
    from cl2cm.runtime import resolve_device

    return _load_model(directory, resolve_device(device))


def load_store(directory: PathLike, **expect: Any) -> EmbeddingStore:
    """An embedding store (`features`, `ids`, optional `mask`, `tokens`, `images`), validated.

    `expect` passes `load_store` checks through: kind=, expect_dim=, expect_model= (e.g.
    `**model.expect_store()` refuses a store from another visual model than the student's).
    """
    return _load_store(directory, **expect)


def evaluate(model: Any = None, *, captions: PathLike | Sequence[PathLike] | None = None,
             features: PathLike | None = None,
             gallery_captions: PathLike | None = None, query_emb: PathLike | None = None,
             gallery_emb: PathLike | None = None, config: EvalConfig | None = None) -> dict[str, Any]:
    """The metrics dict `cl2cm eval --out` writes (t2v, v2t, SumR, queries, gallery); several `captions`
    files (one per language): ``{code: that dict, ..., "mean": the unweighted mean}``.

    `model`: a directory or a model from `load_model`. Student + `features` ranks images for each
    caption; teacher + `gallery_captions` ranks English captions; or give two stores (`query_emb`,
    `gallery_emb`) and no model. `config` carries the other eval options (ks, ties, chunk, device, ...).
    """
    return _evaluate(model, captions=captions, features=features, gallery_captions=gallery_captions,
                     query_emb=query_emb, gallery_emb=gallery_emb, config=config)


def encode_text(model: Any, texts: list[str], batch_size: int = 256) -> Any:
    """`model.encode_text(texts)`: [N, D] float32, L2-normalised, on CPU."""
    return model.encode_text(list(texts), batch_size)


def encode_store(model: Any, store: EmbeddingStore | PathLike) -> Any:
    """A student's embeddings of every row of a feature store (a loaded store or its directory)."""
    if not isinstance(store, EmbeddingStore):
        store = _load_store(store, **model.expect_store())
    return model.encode_store(store)


def encode_images(model: Any, paths: list[PathLike], **options: Any) -> Any:
    """A student's embeddings of raw image files (`Student.encode_images`)."""
    return model.encode_images(list(paths), **options)


# ---------------------------------------------------------------------------------------------- stages
def translate(captions: PathLike, out: PathLike, config: TranslateConfig, *,
              progress: Progress | None = None) -> TranslateResult:
    """Captions → `out/<lang>.jsonl` per target + manifest (resumable, shardable)."""
    from cl2cm.translate.runner import translate_corpus

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

"""cl2cm: cross-lingual cross-modal retrieval without target-language annotations (after CL2CM, AAAI 2024).

Translate English captions, extract frozen visual features, train a cross-lingual teacher, distil a
vision <-> target-language student, then evaluate and search. Every stage is also a `cl2cm` command.

    import cl2cm
    model = cl2cm.load_model("runs/demo/student")           # model.languages == ("de",)
    hits = cl2cm.search(model, "runs/demo/features/test", "ein roter Kreis", k=5)   # [Hit(query, rank, id, score)]
    m = cl2cm.evaluate(model, captions="test.de.jsonl", features="runs/demo/features/test")  # the eval JSON

Functions (help(cl2cm.NAME) for one):
    load_model(dir)                   a teacher or student directory, ready to encode
    load_store(dir)                   a feature / embedding store
    search(model, gallery, queries)   the k best visual items per query (typed `Hit`s)
    evaluate(model, captions=...)     recall@K, MedR, MeanR, mAP, SumR (what `cl2cm eval --out` writes)
    encode_text / encode_store / encode_images   embeddings in the model's joint space
    translate / extract_features / train_teacher / distill   the training stages

Types: Hit, EmbeddingStore, the stage configs (TranslateConfig, ExtractConfig, TrainTeacherConfig,
DistillConfig, EvalConfig, TrainConfig, TextEncoderConfig) and results; UserError / ConfigError (a mistake
the user can fix), LanguageWarning (input in a language the model was not trained on). The API is
re-exported lazily from `cl2cm.api`, so `import cl2cm` and `cl2cm --help` do not pay for torch.
"""

from __future__ import annotations

import importlib
from typing import Any

from cl2cm._version import __version__

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    **dict.fromkeys(("load_model", "load_store", "evaluate", "encode_text", "encode_store", "encode_images",
                     "search", "translate", "extract_features", "train_teacher", "distill"), "cl2cm.api"),
    "Hit": "cl2cm.retrieval.search",
    "LanguageWarning": "cl2cm.errors",
    "EmbeddingStore": "cl2cm.artifacts.store",
    "UserError": "cl2cm.errors",
    "ConfigError": "cl2cm.errors",
    "Progress": "cl2cm.progress",
    "TranslateConfig": "cl2cm.translation.runner",
    "TranslateResult": "cl2cm.translation.runner",
    "ExtractConfig": "cl2cm.features.extract",
    "ExtractResult": "cl2cm.features.extract",
    "TrainConfig": "cl2cm.train.engine",
    "TeacherOptions": "cl2cm.train.teacher",
    "TrainTeacherConfig": "cl2cm.train.teacher",
    "TeacherResult": "cl2cm.train.teacher",
    "DistillOptions": "cl2cm.train.distill",
    "DistillConfig": "cl2cm.train.distill",
    "DistillResult": "cl2cm.train.distill",
    "EvalConfig": "cl2cm.retrieval.evaluate",
    "TextEncoderConfig": "cl2cm.models.text",
}

__all__ = ["__version__", *_EXPORTS]

def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'cl2cm' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value  # resolved once
    return value


def __dir__() -> list[str]:
    """The functions (and what is already loaded): `help(cl2cm)` stays the overview above plus the function
    list, instead of every class's full documentation; the classes are listed in the docstring."""
    functions = {name for name, module in _EXPORTS.items() if module == "cl2cm.api"}
    return sorted({name for name in globals() if name not in _EXPORTS} | functions)

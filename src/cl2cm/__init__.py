"""cl2cm: cross-lingual cross-modal retrieval without target-language annotations (after CL2CM, AAAI 2024).

The Python API lives in `cl2cm.api` and is re-exported here lazily (on first use), so `import cl2cm` and
`cl2cm --help` do not pay for torch:

    import cl2cm
    model = cl2cm.load_model("runs/student-de")
    m = cl2cm.evaluate(model, captions="test.de.jsonl", features="runs/feats/test")
"""

from __future__ import annotations

import importlib
from typing import Any

from cl2cm._version import __version__

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    **dict.fromkeys(("load_model", "load_store", "evaluate", "encode_text", "encode_store", "encode_images",
                     "translate", "extract_features", "train_teacher", "distill"), "cl2cm.api"),
    "EmbeddingStore": "cl2cm.artifacts.store",
    "UserError": "cl2cm.errors",
    "ConfigError": "cl2cm.errors",
    "Progress": "cl2cm.progress",
    "TranslateConfig": "cl2cm.translate.runner",
    "TranslateResult": "cl2cm.translate.runner",
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
    if name == "translate":  # also a subpackage: keep `cl2cm.translate` the package, which calls api.translate
        return importlib.import_module("cl2cm.translate")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value  # resolved once
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))

"""Which language a query is in (offline, py3langid), and which languages the served student knows.

py3langid ships its own model (4.6 MB, numpy arrays in an xz file, no pickle) and classifies a query in
about 0.2 ms; lingua-language-detector was measured against it and is 96 MB with a 38 s load (all
languages; docs/serve.md has the command). The model loads in a background thread when the app starts, so
the first query does not pay for it unless it comes within the first seconds. Without py3langid installed
detection is off (`None`), not an error.
"""

from __future__ import annotations

import threading
from typing import Any

_lock = threading.Lock()
_identifier: Any = None
_failed = False


def _load() -> Any:
    global _identifier, _failed
    with _lock:
        if _identifier is None and not _failed:
            try:
                from py3langid.langid import MODEL_FILE, LanguageIdentifier
            except ImportError:
                _failed = True
            else:
                _identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        return _identifier


def warm_up() -> None:
    """Start loading the language-ID model in the background (a query waits for it only if it is early)."""
    if _identifier is None and not _failed:
        threading.Thread(target=_load, name="cl2cm-langid", daemon=True).start()


def detect_language(text: str) -> str | None:
    """The ISO 639-1 code of `text`'s most likely language, or None when detection is unavailable."""
    ident = _identifier or _load()
    if ident is None:
        return None
    code, _ = ident.classify(text)
    return str(code)


def base_code(code: str) -> str:
    """`de`, `de_DE`, `pt-BR`, `zh_hans` → the ISO 639 part before any region or script."""
    return code.replace("-", "_").split("_")[0].lower()


def model_languages(model: Any) -> list[str]:
    """The target languages the student was trained on (`model.languages`, its `--tgt` codes; empty when
    the model directory predates recording them)."""
    return [str(x) for x in getattr(model, "languages", ()) or ()]


def query_language(text: str, languages: list[str]) -> dict[str, Any]:
    """{"code", "known", "warning"} of a query: `known` is None when the model's languages are unknown."""
    code = detect_language(text)
    known = None if code is None or not languages else base_code(code) in {base_code(x) for x in languages}
    warning = None
    if known is False:
        warning = (f"this query looks like '{code}', which the model was not trained on "
                   f"({', '.join(languages)}); results may be poor")
    return {"code": code, "known": known, "warning": warning}

"""Which language a query is in, detected offline (py3langid): for `cl2cm search`, `cl2cm.search` and the
search page of `cl2cm serve`.

py3langid ships its own model (4.6 MB, numpy arrays in an xz file, no pickle) and classifies a query in
about 0.2 ms; lingua-language-detector was measured against it and is 96 MB with a 38 s load (all
languages; docs/serve.md has the command). Loading takes ~0.8 s (the xz), so `warm_up` starts it in a
background thread while the model loads. py3langid is a core dependency; should it be missing (a trimmed
install), detection is off (`None`), not an error.

Short queries misdetect ("a dog" → 'hr' at p 0.06, "ein Hund" → 'de' at p 0.17), so a detection counts
only at probability ≥ `CONFIDENT` = 0.8, the lowest threshold at which no Multi30K caption was detected as
another language: of test_2016_flickr's first 1,000 de, fr, en and cs captions, cut to 2, 3, 4 words or
whole, 0.0 % wrong at ≥ 0.8 (≥ 0.7: up to 0.2 %; ≥ 0.5: up to 5.1 %), while 99.0 % of whole German, 98.4 %
of French, 95.3 % of English captions still clear it in their own language (one-liners of 2–3 words
mostly do not: no warning rather than a wrong one). `python benchmarks/langid_threshold.py`, 2026-12-07.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

CONFIDENT = 0.8  # the probability a detection needs to count (module docstring: why 0.8)

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


def detect(text: str) -> tuple[str, float] | None:
    """(ISO 639-1 code, probability) of `text`'s most likely language; None when detection is unavailable."""
    ident = _identifier or _load()
    if ident is None:
        return None
    code, prob = ident.classify(text)
    return str(code), float(prob)


def detect_language(text: str) -> str | None:
    """`text`'s language code when the detector is sure of it (p ≥ `CONFIDENT`); else None."""
    found = detect(text)
    return found[0] if found is not None and found[1] >= CONFIDENT else None


def base_code(code: str) -> str:
    """`de`, `de_DE`, `pt-BR`, `zh_hans` → the ISO 639 part before any region or script."""
    return code.replace("-", "_").split("_")[0].lower()


@dataclass(frozen=True)
class QueryLanguage:
    """A query's detected language (`code`, None when unsure or undetectable) and whether the model knows it
    (`known`: None when there is no code or the model records no languages); `warning` when it does not."""

    code: str | None
    known: bool | None
    warning: str | None

    def as_dict(self) -> dict[str, str | bool | None]:
        """The `language` object of serve's `/api/search` answer."""
        return {"code": self.code, "known": self.known, "warning": self.warning}


def query_language(text: str, languages: Sequence[str]) -> QueryLanguage:
    """Detect `text`'s language and judge it against the model's `languages` (its recorded codes)."""
    code = detect_language(text)
    known = None if code is None or not languages else base_code(code) in {base_code(x) for x in languages}
    warning = None
    if known is False:
        warning = (f"the query {_quoted(text)} looks like '{code}', a language the model was not trained on "
                   f"(it knows {', '.join(languages)}): expect chance-level results")
    return QueryLanguage(code, known, warning)


def _quoted(text: str, limit: int = 40) -> str:
    one = " ".join(text.split())
    return repr(one if len(one) <= limit else one[: limit - 1] + "…")

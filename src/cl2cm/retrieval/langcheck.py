"""Is the input in a language the model was trained on? Never silent when it is not.

A German-only student scores French captions at chance level and nothing else would say why. Models
record their languages (the `--tgt` codes: config.json and manifest `model.languages`; `model.languages`
once loaded). Where the input says its language — the caption records' ``lang``, a ``.fr`` file suffix, or
an explicit ``--lang`` — `language_note` gives the one-line warning that `eval`, `search`, `serve` and
`cl2cm.evaluate` print and record; ``strict`` (`--strict-languages`) makes it a user error for scripts.
A model directory that predates recorded languages is "unknown": nothing is checked, nothing crashes.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

from cl2cm.artifacts.captions import Caption, corpus_language
from cl2cm.errors import ConfigError, LanguageWarning, UserError

__all__ = ["UNKNOWN", "LanguageWarning", "caption_language", "check_language", "describe", "language_note",
           "languages_of", "outside"]

UNKNOWN = "unknown"


def languages_of(model_info: object) -> tuple[str, ...]:
    """The codes a loaded model, or a manifest's `model` dict, records; () when it records none."""
    langs = model_info.get("languages") if isinstance(model_info, dict) else getattr(model_info, "languages", None)
    if not isinstance(langs, (list, tuple)):
        return ()
    return tuple(str(x) for x in langs)


def describe(languages: Sequence[str]) -> str:
    """"de, fr" — or "unknown" for a model that does not record them."""
    return ", ".join(languages) if languages else UNKNOWN


def caption_language(records: list[Caption], path: str | Path, explicit: str | None = None) -> str | None:
    """The language the caption input says it is in (`explicit` --lang, records' lang, .<lang> suffix), or
    None when it says nothing."""
    if explicit:
        return explicit
    try:
        return corpus_language(records, path)
    except UserError:
        return None


def language_note(model_languages: Sequence[str], lang: str | None, what: str = "the queries") -> str | None:
    """One line when `lang` is known and outside the model's (known) languages; else None."""
    if not lang or not model_languages or lang in model_languages:
        return None
    return (f"{what} are in {lang!r}, a language the model was not trained on (it knows "
            f"{describe(model_languages)}): expect chance-level results")


def outside(model_languages: Sequence[str], langs: Iterable[str]) -> list[str]:
    """The codes among `langs` the model does not know (none when its languages are unknown)."""
    return [x for x in langs if model_languages and x not in model_languages]


def check_language(note: str | None, *, strict: bool) -> list[str]:
    """Raise the note as a user error under `strict`; else warn (`LanguageWarning`) and return it to record.

    Returns the list a JSON output records under ``"warnings"`` (empty: nothing to say).
    """
    if note is None:
        return []
    if strict:
        raise ConfigError("{note} ({strict_languages})", note=note)
    warnings.warn(note, LanguageWarning, stacklevel=3)
    return [note]

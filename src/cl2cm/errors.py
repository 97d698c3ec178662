"""The exception types for user mistakes.

A `UserError` is something the user can fix (a missing file, a bad setting, a malformed line). The CLI
prints its message as one line on stderr and exits with code 2, without a traceback. Library code raises
it where user input is read, with a message that names the file (and line) at fault.

A bad *setting* is a `ConfigError`: its message names config fields (``pooling``, ``batch_size``), never
CLI flags, because the library does not know how the value reached it. A Python caller reads
``pooling 'max': expected one of mean, cls, attention``; the CLI renders the same error with its flags
(``--pooling 'max': ...``, see `cl2cm.cli.flags`).
"""

from __future__ import annotations

import string
from collections.abc import Callable
from pathlib import Path
from typing import Any


class UserError(Exception):
    """A mistake in the user's input: printed as one line, exit code 2."""

    exit_code = 2

    def __init__(self, message: str, *, path: str | Path | None = None, line: int | None = None) -> None:
        self.where = ""
        if path is not None:
            self.where = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(f"{self.where}{message}")


class ConfigError(UserError):
    """A bad value of a named setting (a config field or a stage function's argument).

    `template` is a `str.format` template whose bare names in braces are the fields at fault and whose
    other names are filled from `values` (kept out of the template, so a value is never parsed as one):
    ``ConfigError("{pooling} {value!r}: expected one of ...", value="max")``. `str()` names the fields as
    they are; `render(name_of)` names them as the caller's interface does (the CLI: by their flags).
    """

    def __init__(self, template: str, /, *, path: str | Path | None = None, line: int | None = None,
                 **values: Any) -> None:
        self.template, self.values = template, values
        self.fields = tuple(dict.fromkeys(
            name for _, name, _, _ in string.Formatter().parse(template) if name and name not in values))
        super().__init__(self._message(str), path=path, line=line)

    def _message(self, name_of: Callable[[str], str]) -> str:
        return self.template.format_map({**{f: name_of(f) for f in self.fields}, **self.values})

    def render(self, name_of: Callable[[str], str]) -> str:
        """The message with each field named by `name_of(field)` (the file/line prefix kept)."""
        return f"{self.where}{self._message(name_of)}"


class LanguageWarning(UserWarning):
    """The input is in a language the model was not trained on (`cl2cm.retrieval.langcheck`); the CLI
    prints it as one ``cl2cm: warning:`` line."""

"""The one exception type for user mistakes.

A `UserError` is something the user can fix (a missing file, a bad flag value, a malformed line). The CLI
prints its message as one line on stderr and exits with code 2, without a traceback. Library code raises
it with a message that names the file (and line) or the flag at fault.
"""

from __future__ import annotations

from pathlib import Path


class UserError(Exception):
    """A mistake in the user's input: printed as one line, exit code 2."""

    exit_code = 2

    def __init__(self, message: str, *, path: str | Path | None = None, line: int | None = None) -> None:
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(f"{where}{message}")

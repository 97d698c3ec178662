"""How long-running library calls report progress, without printing anything themselves.

A stage takes `progress: Progress | None`; it opens one `Task` per loop it runs and advances it. The
library never draws a bar: `None` (the default) reports nowhere, the command line hands in its rich
adapter (`cl2cm.cli.progress.RichProgress`), a notebook or a service can hand in anything with these two
methods (a tqdm wrapper, a logger, a callback).
"""

from __future__ import annotations

from typing import Protocol


class Task(Protocol):
    """One loop's progress: a count against an optional total, plus a one-line status."""

    def advance(self, n: int = 1) -> None:
        """`n` more units done."""

    def update(self, *, completed: int | None = None, total: int | None = None, info: str | None = None,
               description: str | None = None) -> None:
        """Set the count, the total, a status line (loss, speed) or the description."""

    def close(self) -> None:
        """The loop is over (the task stays visible where the reporter keeps finished tasks)."""


class Progress(Protocol):
    """Opens tasks. `unit` names what is counted ("img", "sent", "steps") for rates."""

    def task(self, description: str, total: int | None = None, *, unit: str = "items",
             completed: int = 0) -> Task:
        """Start reporting one loop."""


class _NullTask:
    def advance(self, n: int = 1) -> None:
        pass

    def update(self, *, completed: int | None = None, total: int | None = None, info: str | None = None,
               description: str | None = None) -> None:
        pass

    def close(self) -> None:
        pass


class NullProgress:
    """Reports nowhere: the default of every library call."""

    def task(self, description: str, total: int | None = None, *, unit: str = "items",
             completed: int = 0) -> Task:
        return _NullTask()


def reporter(progress: Progress | None | bool) -> Progress:
    """`progress` as given, or the silent reporter for None/False."""
    return progress if progress not in (None, False, True) else NullProgress()  # type: ignore[return-value]

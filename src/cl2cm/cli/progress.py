"""The command line's progress bars: a rich adapter of the library's `cl2cm.progress.Progress` protocol.

One look for every stage (description, bar, count, rate in the task's unit, elapsed, remaining, a status
line), drawn on stderr (a terminal only) so stdout keeps only the summary tables. `--quiet` hands the
library nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as _RichBars
from rich.text import Text

from cl2cm.progress import NullProgress, Progress


class _RateColumn(ProgressColumn):
    """Units per second, so a starving loader or a slow decoder shows while it happens."""

    def render(self, task: Any) -> Text:
        speed = task.finished_speed or task.speed
        unit = task.fields.get("unit", "items")
        return Text(f"{speed:,.0f} {unit}/s" if speed else f"– {unit}/s", style="cyan")


class _RichTask:
    def __init__(self, bars: _RichBars, task_id: Any) -> None:
        self.bars, self.id = bars, task_id

    def advance(self, n: int = 1) -> None:
        self.bars.advance(self.id, n)

    def update(self, *, completed: int | None = None, total: int | None = None, info: str | None = None,
               description: str | None = None) -> None:
        given = {"completed": completed, "total": total, "info": info, "description": description}
        self.bars.update(self.id, **{name: value for name, value in given.items() if value is not None})

    def close(self) -> None:
        self.bars.stop_task(self.id)


class RichProgress:
    """`Progress` drawn by rich; use as a context manager around the library call."""

    def __init__(self, *, transient: bool = False) -> None:
        # Bars redraw in place on a terminal; on a pipe or a log file they would only add lines after the fact.
        console = Console(stderr=True)
        self.bars = _RichBars(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                              _RateColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
                              TextColumn("{task.fields[info]}"), console=console, transient=transient,
                              disable=not console.is_terminal)
        self.started = False

    def task(self, description: str, total: int | None = None, *, unit: str = "items",
             completed: int = 0) -> _RichTask:
        if not self.started:  # drawn from the first task on: a run that fails before any work prints nothing
            self.bars.start()
            self.started = True
        return _RichTask(self.bars, self.bars.add_task(description, total=total, completed=completed, unit=unit,
                                                       info=""))

    def __enter__(self) -> RichProgress:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if not self.started:
            return
        if exc_type is not None:  # a failing run: its one error line is all that should remain on stderr
            self.bars.live.transient = True
        self.bars.stop()


@contextmanager
def progress_for(quiet: bool, *, transient: bool = False) -> Iterator[Progress]:
    """The reporter a command hands the library: rich bars, or nothing under --quiet."""
    if quiet:
        yield NullProgress()
        return
    with RichProgress(transient=transient) as bars:
        yield bars

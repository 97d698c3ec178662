"""Tables more than one command prints: the end-of-training summary (`train-teacher`, `distill`) and the
recall columns of the paper's results tables (`eval` over several languages, `pipeline`, `demo`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.table import Table

from cl2cm.cli.app import console

if TYPE_CHECKING:
    from cl2cm.train.engine import FitResult

RECALLS = ("R@1", "R@5", "R@10")


def add_recall_columns(table: Table) -> None:
    """R@1/5/10 text→visual, then visual→text."""
    for d in ("T→V", "V→T"):
        for k in RECALLS:
            table.add_column(f"{d}\n{k}", justify="right")


def recall_cells(row: dict[str, Any]) -> list[str]:
    """The cells of `add_recall_columns` from one metrics section."""
    return [f"{row[d][k]:.1f}" for d in ("t2v", "v2t") for k in RECALLS]


def languages_row(languages: list[str], counts: dict[str, int]) -> list[tuple[str, str]]:
    """The summary row of several target languages: pairs of each, and the imbalance when it is large."""
    if len(languages) < 2:
        return []
    text = " · ".join(f"{code} {counts.get(code, 0):,}" for code in languages)
    if counts and min(counts.values()) and max(counts.values()) / min(counts.values()) >= 10:
        big, small = max(counts, key=counts.get), min(counts, key=counts.get)  # type: ignore[arg-type]
        text += f" (imbalanced: {counts[big] / counts[small]:.0f}x more {big} than {small} pairs)"
    return [("languages (pairs)", text)]


def print_fit_summary(title: str, head: list[tuple[str, str]], fit: FitResult, *, metric_name: str,
                      last_keys: tuple[str, ...]) -> None:
    """Their own rows, then the engine's."""
    rows = [*head, ("epochs / steps", f"{fit.epochs} / {fit.steps}"),
            ("last train loss", "-" if fit.last_loss is None else f"{fit.last_loss:.4f}"),
            ("samples/s", f"{fit.samples_per_s:,.0f}")]
    if fit.already_complete:
        rows.append(("already complete", "nothing to do"))
    elif fit.resumed_from is not None:
        rows.append(("resumed after epoch", str(fit.resumed_from)))
    if fit.best_metric is not None:
        rows.append((f"best {metric_name}", f"{fit.best_metric:.1f} (epoch {fit.best_epoch})"))
    rows += [(f"last {key}", f"{fit.last_val[key]:.1f}") for key in last_keys if key in fit.last_val]
    if fit.stopped_early:
        rows.append(("stopped early", "yes"))
    table = Table(title=title)
    table.add_column("")
    table.add_column("", justify="right")
    for k, v in rows:
        table.add_row(k, v)
    console.print(table)

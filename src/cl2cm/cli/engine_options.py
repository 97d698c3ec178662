"""The training-engine flags, defined once for every command that trains (`train-teacher`, `distill`).

Each alias is an `Annotated` Typer option whose help is the `TrainConfig` field's own (its metadata); a
command lists them as parameters with the engine's defaults (`TrainConfig.<field>`) and hands them to
`train_config`, so both stages accept the same flags with the same meaning, help and defaults.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cl2cm.cli.app import AT_LEAST_1, NON_NEGATIVE, POSITIVE, Range, console
from cl2cm.train.engine import FitResult, TrainConfig, help_of


def _help(name: str) -> str:
    return help_of(TrainConfig, name)


EpochsOpt = Annotated[int, typer.Option("--epochs", callback=AT_LEAST_1, help=_help("epochs"))]
BatchSizeOpt = Annotated[int, typer.Option("--batch-size", callback=Range(2), help=_help("batch_size"))]
LrOpt = Annotated[float, typer.Option("--lr", callback=POSITIVE, help=_help("lr"))]
WeightDecayOpt = Annotated[float, typer.Option("--weight-decay", callback=NON_NEGATIVE, help=_help("weight_decay"))]
WarmupOpt = Annotated[float, typer.Option("--warmup", callback=NON_NEGATIVE, help=_help("warmup"))]
ScheduleOpt = Annotated[str, typer.Option("--schedule", help=_help("schedule"))]
GradClipOpt = Annotated[float, typer.Option("--grad-clip", callback=NON_NEGATIVE, help=_help("grad_clip"))]
AccumOpt = Annotated[int, typer.Option("--accum", callback=AT_LEAST_1, help=_help("accum"))]
AmpOpt = Annotated[str, typer.Option("--amp", help=_help("amp"))]
PatienceOpt = Annotated[int, typer.Option("--patience", callback=AT_LEAST_1, help=_help("patience"))]
MaxStepsOpt = Annotated[int | None, typer.Option("--max-steps", callback=AT_LEAST_1, help=_help("max_steps"))]
LogEveryOpt = Annotated[int, typer.Option("--log-every", callback=AT_LEAST_1, help=_help("log_every"))]
WorkersOpt = Annotated[int, typer.Option("--workers", callback=NON_NEGATIVE, help=_help("num_workers"))]
LanguageSamplingOpt = Annotated[str, typer.Option("--language-sampling", help=_help("language_sampling"))]
ResumeOpt = Annotated[bool, typer.Option("--resume", help="Continue from OUT/checkpoints/last.safetensors.")]
MaxPairsOpt = Annotated[int | None, typer.Option("--max-pairs", callback=AT_LEAST_1, help="Use only the first N pairs.")]
FormatOpt = Annotated[str | None, typer.Option("--format", help="Caption format of all inputs (default: from "
                                               "the file names).")]
OutOpt = Annotated[Path, typer.Option("--out", "-o", help="Output model directory.")]


def train_config(*, epochs: int, batch_size: int, lr: float, weight_decay: float, warmup: float, schedule: str,
                 grad_clip: float, accum: int, amp: str, patience: int, max_steps: int | None, log_every: int,
                 workers: int, seed: int, device: str, language_sampling: str = TrainConfig.language_sampling
                 ) -> TrainConfig:
    """The engine config from the shared flags (names as the command parameters)."""
    return TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay, warmup=warmup,
                       schedule=schedule, grad_clip=grad_clip, accum=accum, amp=amp, seed=seed, device=device,
                       patience=patience, max_steps=max_steps, log_every=log_every, num_workers=workers,
                       language_sampling=language_sampling)


def print_fit_summary(title: str, head: list[tuple[str, str]], fit: FitResult, *, metric_name: str,
                      last_keys: tuple[str, ...]) -> None:
    """The end-of-training table both training commands print: their own rows, then the engine's."""
    rows = [*head, ("epochs / steps", f"{fit.epochs} / {fit.steps}"),
            ("last train loss", "-" if fit.last_loss is None else f"{fit.last_loss:.4f}"),
            ("samples/s", f"{fit.samples_per_s:,.0f}")]
    if fit.resumed_from is not None:
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

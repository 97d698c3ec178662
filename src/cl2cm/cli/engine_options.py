"""The training-engine flags, defined once for every command that trains (`train-teacher`, `distill`).

Each alias is an `Annotated` Typer option; a command lists them as parameters with the engine's own
defaults (`TrainConfig.<field>`) and hands them to `train_config`, so both stages accept the same flags
with the same meaning and defaults.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cl2cm.cli.app import AT_LEAST_1, NON_NEGATIVE, POSITIVE, Range, console
from cl2cm.train.engine import AMP_CHOICES, SCHEDULES, FitResult, TrainConfig

EpochsOpt = Annotated[int, typer.Option("--epochs", callback=AT_LEAST_1, help="Maximum epochs.")]
BatchSizeOpt = Annotated[int, typer.Option("--batch-size", callback=Range(2), help="Global batch (all processes).")]
LrOpt = Annotated[float, typer.Option("--lr", callback=POSITIVE, help="Peak learning rate (AdamW).")]
WeightDecayOpt = Annotated[float, typer.Option("--weight-decay", callback=NON_NEGATIVE, help="AdamW weight decay.")]
WarmupOpt = Annotated[float, typer.Option("--warmup", callback=NON_NEGATIVE, help="Warm-up: fraction of steps (<1) or steps.")]
ScheduleOpt = Annotated[str, typer.Option("--schedule", help=f"{' | '.join(SCHEDULES)}.")]
GradClipOpt = Annotated[float, typer.Option("--grad-clip", callback=NON_NEGATIVE, help="Max gradient norm (0 = off).")]
AccumOpt = Annotated[int, typer.Option("--accum", callback=AT_LEAST_1, help="Gradient accumulation steps.")]
AmpOpt = Annotated[str, typer.Option("--amp", help=f"{' | '.join(AMP_CHOICES)}.")]
PatienceOpt = Annotated[int, typer.Option("--patience", callback=AT_LEAST_1, help="Early stop after N epochs without improvement.")]
MaxStepsOpt = Annotated[int | None, typer.Option("--max-steps", callback=AT_LEAST_1, help="Stop after N optimizer steps.")]
LogEveryOpt = Annotated[int, typer.Option("--log-every", callback=AT_LEAST_1, help="Log the train loss every N steps.")]
WorkersOpt = Annotated[int, typer.Option("--workers", callback=NON_NEGATIVE, help="DataLoader worker processes.")]
ResumeOpt = Annotated[bool, typer.Option("--resume", help="Continue from OUT/checkpoints/last.safetensors.")]
MaxPairsOpt = Annotated[int | None, typer.Option("--max-pairs", callback=AT_LEAST_1, help="Use only the first N pairs.")]
FormatOpt = Annotated[str | None, typer.Option("--format", help="Caption format of all inputs (default: from "
                                               "the file names).")]
OutOpt = Annotated[Path, typer.Option("--out", "-o", help="Output model directory.")]


def train_config(*, epochs: int, batch_size: int, lr: float, weight_decay: float, warmup: float, schedule: str,
                 grad_clip: float, accum: int, amp: str, patience: int, max_steps: int | None, log_every: int,
                 workers: int, seed: int, device: str) -> TrainConfig:
    """The engine config from the shared flags (names as the command parameters)."""
    return TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay, warmup=warmup,
                       schedule=schedule, grad_clip=grad_clip, accum=accum, amp=amp, seed=seed, device=device,
                       patience=patience, max_steps=max_steps, log_every=log_every, num_workers=workers)


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

"""The training-engine flags, defined once for every command that trains (`train-teacher`, `distill`).

Each alias is an `Annotated` Typer option whose flag and help are the `TrainConfig` (or `TrainStageConfig`)
field's own (its metadata, read by `config_option`, which the commands use for their own options' fields
too); a command lists them as parameters with the engine's defaults (`TrainConfig.<field>`) and hands them
to `train_config`, so both stages accept the same flags with the same meaning, help and defaults.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from cl2cm.cli.app import AT_LEAST_1, NON_NEGATIVE, POSITIVE, Range, console
from cl2cm.train.engine import FitResult, TrainConfig, TrainStageConfig


def config_option(config: type, name: str, *decls: str, **kwargs: Any) -> Any:
    """The Typer option of field `name` of a config dataclass: its flag (unless `decls` spell it, e.g. an
    --x/--no-x pair) and help from the field's metadata (`cl2cm.train.engine.option`), said once there."""
    meta = config.__dataclass_fields__[name].metadata
    return typer.Option(*(decls or (meta["flag"],)), help=meta["help"], **kwargs)


EpochsOpt = Annotated[int, config_option(TrainConfig, "epochs", callback=AT_LEAST_1)]
BatchSizeOpt = Annotated[int, config_option(TrainConfig, "batch_size", callback=Range(2))]
LrOpt = Annotated[float, config_option(TrainConfig, "lr", callback=POSITIVE)]
WeightDecayOpt = Annotated[float, config_option(TrainConfig, "weight_decay", callback=NON_NEGATIVE)]
WarmupOpt = Annotated[float, config_option(TrainConfig, "warmup", callback=NON_NEGATIVE)]
ScheduleOpt = Annotated[str, config_option(TrainConfig, "schedule")]
GradClipOpt = Annotated[float, config_option(TrainConfig, "grad_clip", callback=NON_NEGATIVE)]
AccumOpt = Annotated[int, config_option(TrainConfig, "accum", callback=AT_LEAST_1)]
AmpOpt = Annotated[str, config_option(TrainConfig, "amp")]
PatienceOpt = Annotated[int, config_option(TrainConfig, "patience", callback=AT_LEAST_1)]
MaxStepsOpt = Annotated[int | None, config_option(TrainConfig, "max_steps", callback=AT_LEAST_1)]
LogEveryOpt = Annotated[int, config_option(TrainConfig, "log_every", callback=AT_LEAST_1)]
WorkersOpt = Annotated[int, config_option(TrainConfig, "num_workers", callback=NON_NEGATIVE)]
LanguageSamplingOpt = Annotated[str, config_option(TrainConfig, "language_sampling")]
ResumeOpt = Annotated[bool, config_option(TrainStageConfig, "resume")]
MaxPairsOpt = Annotated[int | None, config_option(TrainStageConfig, "max_pairs", callback=AT_LEAST_1)]
FormatOpt = Annotated[str | None, config_option(TrainStageConfig, "fmt")]
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

"""The training engine's settings (`train-teacher` and `distill`): optimiser, schedule, stopping, inputs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from cl2cm.config import (
    AT_LEAST_1,
    DEVICE_HELP,
    NON_NEGATIVE,
    POSITIVE,
    SEED_HELP,
    SEED_RANGE,
    Cli,
    Range,
    check_fields,
    option,
)
from cl2cm.errors import ConfigError

SCHEDULES = ("cosine", "nrccr", "constant")


def parse_loss_weights(specs: Sequence[str] | None) -> dict[str, float] | None:
    """``--loss kt=0.3 --loss toy=1`` → ``{"kt": 0.3, "toy": 1.0}`` (None when not given); a malformed item is
    one line naming `--loss`. Which names exist is the stage's loss registry's to say (`losses.registry`)."""
    if not specs:
        return None
    out: dict[str, float] = {}
    for spec in specs:
        name, eq, value = spec.partition("=")
        try:
            weight = float(value)
        except ValueError:
            weight = None
        if not eq or not name.strip() or weight is None:
            raise ConfigError("{losses} {value!r}: expected NAME=WEIGHT, e.g. kt=0.5", value=spec)
        out[name.strip()] = weight
    return out


def losses_option(names: str) -> Any:
    """The `losses` field of a stage's options: any registered term's weight by name (a plug-in's too)."""
    return option(None, f"A loss term's weight as NAME=WEIGHT, repeatable; any term of the stage's loss registry "
                  f"(cl2cm.losses.registry: {names}, and plug-ins), over its own weight flag; 0 turns it off.",
                  flag="--loss", cli=Cli(type=list[str] | None, convert=parse_loss_weights, metavar="NAME=WEIGHT",
                                        show_default=False))
AMP_CHOICES = ("auto", "bf16", "fp16", "off")
LANGUAGE_SAMPLING = ("balanced", "proportional")


@dataclass
class TrainConfig:
    """Optimisation settings of `train-teacher` and `distill`: each field's help and flag in its metadata
    (`cl2cm.cli.options` builds the flags from it); library-only fields have no flag."""

    epochs: int = option(10, "Maximum epochs.", flag="--epochs", range=Range(1, 100_000))
    batch_size: int = option(128, "Global batch (all processes). [NRCCR: 128]", flag="--batch-size",
                             range=Range(2))  # two at least: in-batch negatives
    lr: float = option(1e-4, "Peak learning rate (AdamW). [NRCCR: 1e-4]", flag="--lr", range=POSITIVE)
    weight_decay: float = option(0.01, "AdamW weight decay (not on biases/norms). [ours; NRCCR: Adam, no decay]",
                                 flag="--weight-decay", range=NON_NEGATIVE)
    warmup: float = option(0.05, "Warm-up: fraction of all optimizer steps (< 1) or a number of steps (>= 1).",
                           flag="--warmup", range=NON_NEGATIVE)
    schedule: str = option("cosine", f"{' | '.join(SCHEDULES)}.", flag="--schedule", choices=SCHEDULES)
    min_lr_ratio: float = option(0.0, "Floor of the cosine, as a fraction of lr.", library_only=True)
    grad_clip: float = option(2.0, "Max gradient norm (0 = off). [NRCCR: 2]", flag="--grad-clip", range=NON_NEGATIVE)
    accum: int = option(1, "Gradient accumulation steps.", flag="--accum", range=AT_LEAST_1)
    amp: str = option("auto", f"{' | '.join(AMP_CHOICES)} (auto: bf16/fp16 on CUDA, off on CPU).", flag="--amp",
                      choices=AMP_CHOICES)
    seed: int = option(0, SEED_HELP, flag="--seed", range=SEED_RANGE)
    device: str = option("auto", DEVICE_HELP, flag="--device")
    patience: int = option(10, "Early stop after N epochs without improvement. [NRCCR: 10]", flag="--patience",
                           range=AT_LEAST_1)
    max_steps: int | None = option(None, "Stop after N optimizer steps (smoke runs, tests).", flag="--max-steps",
                                   range=AT_LEAST_1)
    log_every: int = option(50, "Log the train loss every N steps.", flag="--log-every", range=AT_LEAST_1)
    num_workers: int = option(0, "DataLoader worker processes.", flag="--workers", range=NON_NEGATIVE)
    language_sampling: str = option(
        "balanced", "With several --tgt languages: balanced (each epoch draws every language equally often, "
        "so a small one is not drowned) | proportional (every pair once per epoch).", flag="--language-sampling",
        choices=LANGUAGE_SAMPLING)
    profile: bool = option(False, "Synchronise CUDA around forward/backward to time them (benchmarks).",
                           library_only=True)

    def validate_values(self) -> None:
        """Ranges and choices, by the one validator the CLI also runs while parsing (`check_fields`)."""
        check_fields(self)


@dataclass
class TrainStageConfig:
    """What both training stages take besides their model and loss options (each stage's config adds
    `options`): the engine's settings, how much of the inputs to read, resume. Help and flag as `TrainConfig`'s."""

    train: TrainConfig = field(default_factory=TrainConfig)  # the engine's optimisation settings
    fmt: str | None = option(None, "Caption format of all inputs (default: from the file names).", flag="--format")
    max_pairs: int | None = option(None, "Use only the first N pairs.", flag="--max-pairs", range=AT_LEAST_1)
    max_val: int | None = option(None, "Use only the first N val pairs.", flag="--max-val", range=AT_LEAST_1)
    resume: bool = option(False, "Continue from OUT/checkpoints/last.safetensors.", flag="--resume")
    keep_checkpoints: bool = option(False, "Keep OUT/checkpoints/ (resume state, best weights, token caches) "
                                    "after the run finishes, to extend it later with more --epochs --resume; "
                                    "by default a finished model directory holds only what load_model needs.",
                                    flag="--keep-checkpoints")

"""The settings of `distill`: the student's visual head, text side and losses, and the stage (+ engine)."""

from __future__ import annotations

from dataclasses import dataclass, field

from cl2cm.config import AT_LEAST_1, FRACTION, NON_NEGATIVE, POSITIVE, WIDTH, check_fields, option
from cl2cm.config.train import TrainStageConfig, losses_option

# Names of the registries in `cl2cm.models.student` (tested equal), here without their torch builders.
VISUAL_HEAD_NAMES = ("linear", "mlp", "tokens", "flat", "temporal")
VISUAL_INPUTS = ("features", "tokens")
INIT_TEXT_NAMES = ("encoder", "teacher")
SAMPLING = ("caption", "image")


@dataclass
class DistillOptions:
    """Model and loss settings of `distill` (the optimiser's are in `TrainConfig`): each field's help and flag
    in its metadata (`cl2cm.config.option`), which the CLI reads."""

    head: str = option("auto", f"Visual head: auto | {' | '.join(VISUAL_HEAD_NAMES)} (auto: mlp on pooled "
                       "features, flat on patch tokens, temporal on frames).", flag="--head",
                       choices=("auto", *VISUAL_HEAD_NAMES))
    visual_input: str = option("features", f"{' | '.join(VISUAL_INPUTS)}: which stored tensor the head reads "
                               "(tokens: extract-features --tokens).", flag="--visual-input", choices=VISUAL_INPUTS)
    dim: int | None = option(None, "Joint dimension (default: the teacher's).", flag="--dim", range=WIDTH)
    hidden: int = option(256, "Width of the visual head.", flag="--hidden", range=WIDTH)  # [ours]
    dropout: float = option(0.1, "Dropout of the visual head.", flag="--dropout", range=FRACTION)
    init_text: str = option("encoder", f"{' | '.join(INIT_TEXT_NAMES)}: start the target text encoder from the "
                            "pretrained encoder or from the teacher.", flag="--init-text", choices=INIT_TEXT_NAMES)
    train_layers: str | None = option(None, "Encoder layers to fine-tune (default: the teacher's).",
                                      flag="--train-layers")
    temperature: float = option(0.07, "InfoNCE temperature τ.", flag="--temperature",
                                range=POSITIVE)  # [ours, CCLM/LECCR]
    vt_weight: float = option(0.5, "Weight of vision–target InfoNCE on the pseudo pairs.",
                              flag="--vt-weight", range=NON_NEGATIVE)  # [C2KD balance 0.5]
    en_weight: float = option(0.0, "Weight of vision–English InfoNCE (0 = off; NRCCR uses one).",
                              flag="--en-weight", range=NON_NEGATIVE)
    transfer: bool = option(True, "Cross-lingual knowledge transfer from the teacher; --no-transfer = the plain "
                            "baseline, all else equal.", flag="--transfer", off="--no-transfer")
    kt_weight: float = option(0.5, "Weight of the transfer KL.", flag="--kt-weight",
                              range=NON_NEGATIVE)  # [C2KD 1 − balance]
    kt_temperature: float = option(0.1, "Temperature of the transfer softmaxes (the student's; the teacher's too "
                                   "unless --kt-teacher-temperature).", flag="--kt-temperature",
                                   range=POSITIVE)  # [C2KD distill_temp]
    kt_teacher_temperature: float | None = option(None, "Temperature of the teacher's target→English softmax τ_T "
                                                  "(default: --kt-temperature).", flag="--kt-teacher-temperature",
                                                  range=POSITIVE)
    kt_rows: bool = option(True, "Transfer KL over the rows (each target caption's distribution over the "
                           "batch's images).", library_only=True)
    kt_columns: bool = option(True, "Transfer KL over the columns (each image's distribution over the batch's "
                              "target captions).", library_only=True)
    feat_weight: float = option(0.0, "Feature-level transfer term (needs --dim = the teacher's; 0 = off).",
                                flag="--feat-weight", range=NON_NEGATIVE)
    rel_weight: float = option(0.0, "Intra-modal relation transfer term (0 = off).", flag="--rel-weight",
                               range=NON_NEGATIVE)
    sampling: str = option("caption", f"{' | '.join(SAMPLING)}: every pair once per epoch, or one random caption "
                           "per image (distinct images per batch).", flag="--sampling", choices=SAMPLING)
    head_lr: float | None = option(None, "Peak learning rate of the visual head (default: --lr, the text tower's). "
                                   "A head trained from scratch wants more than a pretrained text encoder, e.g. "
                                   "--lr 1e-4 --head-lr 1e-3.", flag="--head-lr", range=POSITIVE)
    losses: dict[str, float] | None = losses_option("vt, en, kt")

    def check(self) -> None:
        check_fields(self)

    @property
    def uses_teacher(self) -> bool:
        return self.transfer and self.kt_weight > 0


@dataclass
class DistillConfig(TrainStageConfig):
    """Everything `distill` takes besides its inputs and output directory."""

    max_val: int | None = option(None, "Use only the first N val captions.", flag="--max-val", range=AT_LEAST_1)
    options: DistillOptions = field(default_factory=DistillOptions)  # model and loss

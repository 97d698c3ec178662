"""The settings of `train-teacher`: the text encoder, the teacher's losses, and the stage (+ engine)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from cl2cm.config import FRACTION, NON_NEGATIVE, POSITIVE, WIDTH, Range, check_fields, option
from cl2cm.config.train import TrainStageConfig, losses_option
from cl2cm.errors import ConfigError

DEFAULT_ENCODER = "bert-base-multilingual-cased"
POOLING_NAMES = ("mean", "cls", "attention")  # keys of `cl2cm.models.text.POOLINGS` (tested)


@dataclass
class TextEncoderConfig:
    """What a text encoder is made of; stored in the model directory's config.json."""

    encoder: str = option(DEFAULT_ENCODER, "HF encoder name or local directory (mBERT, XLM-R, ...).",
                          flag="--encoder")
    pooling: str = option("mean", f"{' | '.join(POOLING_NAMES)} (attention: NRCCR's 1-layer attention head).",
                          flag="--pooling", choices=POOLING_NAMES)
    dim: int = option(1536, "Joint-space dimension.", flag="--dim", range=WIDTH)  # [NRCCR: 1536]
    train_layers: str = option(
        "auto", "Encoder layers to fine-tune: auto (all but the bottom quarter: 3-11 on 12 layers, 0-1 on 2), a "
        "range 3-11, a list 0,2,5-7, all (+ embeddings) or none. The summary prints what it resolved to.",
        flag="--train-layers")  # [auto = 3-11 on 12 layers, NRCCR's]
    max_length: int = option(64, "Tokens per caption.", flag="--max-length", range=Range(3))  # incl. specials [ours]
    dropout: float = option(0.1, "Dropout of the head.", flag="--dropout", range=FRACTION)  # [NRCCR: 0.1]
    # With train_layers "all": keep the word-embedding matrix frozen (96M of e5-small's 118M parameters,
    # 92M of mBERT's; a pretrained multilingual vocabulary barely moves in one fine-tuning run) [ours]
    freeze_word_embeddings: bool = option(
        False, "With --train-layers all: keep the word embeddings frozen (most of a multilingual encoder's "
        "parameters).", flag="--freeze-word-embeddings", off="--train-word-embeddings")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TextEncoderConfig:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


@dataclass
class TeacherOptions:
    """Model and loss settings of `train-teacher` (the optimiser's are in `TrainConfig`): each field's help
    and flag in its metadata (`cl2cm.config.option`), which the CLI reads."""

    text: TextEncoderConfig = field(default_factory=TextEncoderConfig)  # its fields are flags of their own
    shared: bool = option(True, "One encoder for both languages, or two towers.", flag="--shared-encoder",
                          off="--separate-encoders")
    temperature: float = option(0.07, "InfoNCE temperature τ.", flag="--temperature",
                                range=POSITIVE)  # [ours, CCLM/LECCR's 0.07]
    learnable_temperature: bool = option(False, "Learn τ (CLIP-style).", flag="--learnable-temperature")
    nce_weight: float = option(1.0, "Weight of sentence InfoNCE.", flag="--nce-weight", range=NON_NEGATIVE)
    triplet_weight: float = option(0.0, "Weight of the VSE++ hardest-negative triplet loss (0 = off).",
                                   flag="--triplet-weight", range=NON_NEGATIVE)  # NRCCR's VSE++ loss as an option
    margin: float = option(0.2, "Triplet margin.", flag="--margin", range=NON_NEGATIVE)  # [NRCCR]
    ot_weight: float = option(0.1, "λ of word-level OT alignment (0 = off).", flag="--ot-weight",
                              range=NON_NEGATIVE)  # λ_ot [ours]
    ot_eps: float = option(0.05, "Sinkhorn entropic regularisation ε.", flag="--ot-eps", range=POSITIVE)  # [ours]
    ot_iters: int = option(50, "Sinkhorn iterations.", flag="--ot-iters", range=Range(1, 10_000))  # [ours]
    losses: dict[str, float] | None = losses_option("nce, triplet, ot")

    def check(self) -> None:
        check_fields(self)
        if self.nce_weight == 0 and self.triplet_weight == 0:
            raise ConfigError("{nce_weight} and {triplet_weight} are both 0: no sentence-level loss to train")


@dataclass
class TrainTeacherConfig(TrainStageConfig):
    """Everything `train-teacher` takes besides its inputs and output directory."""

    options: TeacherOptions = field(default_factory=TeacherOptions)  # model and loss

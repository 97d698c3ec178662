"""The loss terms a training stage sums, by name: ``loss = Σ weight(name) · term(name)(inputs)``.

Each entry names its class by import string (`cl2cm.registry.resolve`; reading this module imports no
torch, so the command line lists the names while parsing) and says where its weight comes from: the
built-in terms keep their own option field (`--vt-weight` is `vt_weight`); every term, a plug-in's too,
takes ``--loss NAME=WEIGHT`` (the options' `losses` field, `cl2cm.config.train.losses_option`). A term is built as ``cls(options)`` from the stage's options (so it reads
its own settings, e.g. the temperature) and called as ``term(inputs: LossInputs)`` (`cl2cm.losses.terms`).

Adding a loss: one module with a `LossTerm` subclass, and one line in `TEACHER_LOSSES` or
`STUDENT_LOSSES` (tests/train/test_loss_plugins.py registers one from the test module and trains with it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cl2cm.errors import ConfigError


@dataclass(frozen=True)
class LossEntry:
    """One registered term: its class (`"module:Class"`), where its weight comes from, and what it needs."""

    target: str
    help: str
    weight_field: str | None = None  # the stage option holding its weight (the built-ins); else `default`
    default: float = 0.0             # a plug-in's weight when `--loss NAME=W` does not set one (0 = off)
    switch: str | None = None        # a boolean option that must be on too (`transfer` for `kt`)


#: train-teacher: target ↔ English caption embeddings (+ token states for the word level), in this order.
TEACHER_LOSSES: dict[str, LossEntry] = {
    "nce": LossEntry("cl2cm.losses.terms:SentenceInfoNCE", "sentence InfoNCE, target ↔ English",
                     weight_field="nce_weight"),
    "triplet": LossEntry("cl2cm.losses.terms:SentenceTriplet", "VSE++ hardest-negative triplet",
                         weight_field="triplet_weight"),
    "ot": LossEntry("cl2cm.losses.terms:WordOT", "word-level OT alignment", weight_field="ot_weight"),
}

#: distill: the student's target text ↔ visual rows (+ English, + the teacher's embeddings), in this order.
STUDENT_LOSSES: dict[str, LossEntry] = {
    "vt": LossEntry("cl2cm.losses.terms:VisionTargetNCE", "vision–target InfoNCE on the pseudo pairs",
                    weight_field="vt_weight"),
    "en": LossEntry("cl2cm.losses.terms:VisionEnglishNCE", "vision–English InfoNCE", weight_field="en_weight"),
    "kt": LossEntry("cl2cm.losses.terms:Transfer", "cross-lingual knowledge transfer from the teacher",
                    weight_field="kt_weight", switch="transfer"),
}


def weights(registry: Mapping[str, LossEntry], options: Any) -> dict[str, float]:
    """Every registered term's weight under `options` (registry order): `options.losses[name]` if given,
    else its option field, else its default; 0 when its switch is off. Unknown names and negative or
    non-finite weights are refused, naming the `losses` setting."""
    given: dict[str, float] = dict(getattr(options, "losses", None) or {})
    unknown = sorted(set(given) - set(registry))
    if unknown:
        raise ConfigError("{losses} {value!r}: no such loss term here; registered: {names}", value=unknown[0],
                          names=", ".join(registry))
    out: dict[str, float] = {}
    for name, entry in registry.items():
        if name in given:
            w = given[name]
        elif entry.weight_field is not None:
            w = float(getattr(options, entry.weight_field))
        else:
            w = entry.default
        if not w >= 0 or w == float("inf"):
            raise ConfigError("{losses} {name}={value}: a weight must be a finite number >= 0", name=name, value=w)
        out[name] = w if entry.switch is None or getattr(options, entry.switch) else 0.0
    return out


def active(registry: Mapping[str, LossEntry], options: Any) -> dict[str, float]:
    """The terms with a positive weight, in registry order (the ones a step computes and sums)."""
    return {name: w for name, w in weights(registry, options).items() if w > 0}

"""The built-in loss terms of both stages, each one small module with one call: ``term(inputs) -> loss``.

A term is built from its stage's options (``cls(options)``: it reads its own settings) and called with
the `LossInputs` of a step (every rank's rows, gathered). It returns a scalar, or ``(scalar, logged)``
where `logged` are the values the step logs instead of the scalar under the term's name (the transfer
term logs its parts). The stage sums ``weight · term`` over the terms `registry.active` names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from cl2cm.losses.contrastive import InfoNCE, TripletLoss
from cl2cm.losses.ot import WordAlignmentLoss
from cl2cm.losses.transfer import RelationalTransferLoss


@dataclass
class LossInputs:
    """What a term of one training step may read. Row i of every tensor is pair i of the global batch.

    Teacher: `target` (target tower) and `english` (English tower) caption embeddings, and both towers'
    token states for the word level. Student: `target` (its text tower) and `visual` (its head on the
    stored rows), `english` (its text tower on the English captions, when a term `needs` it) and the frozen
    teacher's `teacher_target` / `teacher_english` embeddings (when a term `needs` them).
    """

    target: torch.Tensor
    positives: torch.Tensor  # [B, B] bool: same image
    english: torch.Tensor | None = None
    visual: torch.Tensor | None = None
    target_tokens: torch.Tensor | None = None
    target_token_mask: torch.Tensor | None = None
    english_tokens: torch.Tensor | None = None
    english_token_mask: torch.Tensor | None = None
    teacher_target: torch.Tensor | None = None
    teacher_english: torch.Tensor | None = None


class LossTerm(nn.Module):
    """A loss term. `needs` names the optional `LossInputs` the stage must prepare for it
    (student: ``"english"`` tokenises the English captions, ``"teacher"`` precomputes the teacher's
    embeddings). Parameters of a term (a learnable τ) are trained with the model."""

    needs: frozenset[str] = frozenset()

    def __init__(self, options: Any) -> None:
        super().__init__()

    def forward(self, x: LossInputs) -> torch.Tensor | tuple[torch.Tensor, dict[str, torch.Tensor]]:
        raise NotImplementedError


# ---------------------------------------------------------------------------------------------- teacher
class SentenceInfoNCE(LossTerm):
    """Target ↔ English InfoNCE (fixed or learnable τ); logs τ when it learns it."""

    def __init__(self, options: Any) -> None:
        super().__init__(options)
        self.nce = InfoNCE(options.temperature, options.learnable_temperature)
        self.learnable = bool(options.learnable_temperature)

    def forward(self, x: LossInputs) -> Any:
        value = self.nce(x.target, x.english, x.positives)
        if self.learnable:
            return value, {"nce": value, "temperature": torch.tensor(self.nce.temperature)}
        return value


class SentenceTriplet(LossTerm):
    def __init__(self, options: Any) -> None:
        super().__init__(options)
        self.triplet = TripletLoss(options.margin)

    def forward(self, x: LossInputs) -> torch.Tensor:
        return self.triplet(x.target, x.english, x.positives)


class WordOT(LossTerm):
    def __init__(self, options: Any) -> None:
        super().__init__(options)
        self.ot = WordAlignmentLoss(options.ot_eps, options.ot_iters)

    def forward(self, x: LossInputs) -> torch.Tensor:
        return self.ot(x.english_tokens, x.english_token_mask, x.target_tokens, x.target_token_mask)


# ---------------------------------------------------------------------------------------------- student
class VisionTargetNCE(LossTerm):
    def __init__(self, options: Any) -> None:
        super().__init__(options)
        self.nce = InfoNCE(options.temperature)

    def forward(self, x: LossInputs) -> torch.Tensor:
        return self.nce(x.target, x.visual, x.positives)


class VisionEnglishNCE(VisionTargetNCE):
    needs = frozenset({"english"})

    def forward(self, x: LossInputs) -> torch.Tensor:
        return self.nce(x.english, x.visual, x.positives)


class Transfer(LossTerm):
    """Relational transfer from the teacher (`losses.transfer`), with its optional feature/relation parts."""

    needs = frozenset({"teacher"})

    def __init__(self, options: Any) -> None:
        super().__init__(options)
        # τ_T sharpens (small) or flattens (large) the teacher's target→English targets; τ_S is the student's.
        self.loss = RelationalTransferLoss(options.kt_teacher_temperature or options.kt_temperature,
                                           student_temperature=options.kt_temperature, rows=options.kt_rows,
                                           columns=options.kt_columns, feature_weight=options.feat_weight,
                                           relation_weight=options.rel_weight)

    def forward(self, x: LossInputs) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        kt = self.loss(x.target.float(), x.visual.float(), x.teacher_target.float(), x.teacher_english.float())
        logged = {"kt": kt.kt}
        if self.loss.feature_weight > 0:
            logged["feat"] = kt.feature
        if self.loss.relation_weight > 0:
            logged["rel"] = kt.relation
        return kt.total, logged


def build_terms(registry: Any, options: Any) -> tuple[dict[str, float], nn.ModuleDict]:
    """The active terms of a stage (`registry.active`): their weights and built modules, in registry order."""
    from cl2cm.losses.registry import active
    from cl2cm.registry import resolve

    weights = active(registry, options)
    return weights, nn.ModuleDict({name: resolve(registry[name].target)(options) for name in weights})


def sum_terms(weights: dict[str, float], terms: nn.ModuleDict, x: LossInputs) -> dict[str, torch.Tensor]:
    """``{"loss": Σ weight · term(x), <logged values, detached>}``; the sum starts from 0 in registry order."""
    total = torch.zeros((), device=x.target.device)
    logged: dict[str, torch.Tensor] = {}
    for name, term in terms.items():
        out = term(x)
        value, parts = out if isinstance(out, tuple) else (out, {name: out})
        logged.update(parts)
        total = total + weights[name] * value
    return {"loss": total, **{k: v.detach() for k, v in logged.items()}}


def needs(registry: Any, options: Any) -> frozenset[str]:
    """What the active terms need prepared (`LossTerm.needs`), e.g. ``{"teacher"}`` for the transfer."""
    from cl2cm.losses.registry import active
    from cl2cm.registry import resolve

    return frozenset().union(*(getattr(resolve(registry[name].target), "needs", frozenset())
                               for name in active(registry, options)))

"""Cross-lingual knowledge transfer (CL2CM stage 2): relational distillation from the frozen teacher.

The translated captions are noisy, so matching them directly against images teaches noise. The teacher
compares each translated caption t_i with the clean English captions s_j (same modality, small gap), and
image j is described by s_j, so the teacher's target→English similarities are a clean proxy for how similar
t_i should be to image j. The student's target→vision similarity distribution is pulled towards it:

    P_i = softmax_j( cos(t̂_i, ŝ_j) / τ_T )          teacher, target → English (no gradient)
    Q_i = softmax_j( cos(t_i,  v_j) / τ_S )          student, target → vision
    L_row = (1/B) Σ_i KL(P_i ‖ Q_i)
    L_col = the same over columns (softmax over i: image j → targets vs English j → targets)
    L_kt  = ½ (L_row + L_col)

(shape of NRCCR's DtlLoss and C2KD's row- and column-wise KL; τ_T = τ_S = 0.1 by default, after C2KD's
``--distill_temp 0.1`` — the CL2CM paper's exact values were not available, so these are our choice.)

Two optional terms, off by default:

* feature level  L_feat = (1/B) Σ_i (1 − cos(t_i, t̂_i))     (student and teacher text embeddings agree;
  NRCCR uses SmoothL1 between them). Needs equal dimensions.
* intra-modal relation  L_rel = (1/B) Σ_i KL( softmax_{k≠i}(t̂_i·t̂_k/τ_T) ‖ softmax_{k≠i}(t_i·t_k/τ_S) ).

``L = L_kt + w_feat L_feat + w_rel L_rel``; the task multiplies it by its own weight (`DistillOptions.kt_weight`).
The loss is exactly zero when the student's similarity matrix equals the teacher's.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


def distribution_kl(student_logits: torch.Tensor, teacher_logits: torch.Tensor, *, dim: int = -1,
                    mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean over rows (along `dim`) of KL(softmax(teacher) ‖ softmax(student)); `mask` False = excluded."""
    if mask is not None:
        fill = torch.finfo(student_logits.dtype).min
        student_logits = student_logits.masked_fill(~mask, fill)
        teacher_logits = teacher_logits.masked_fill(~mask, fill)
    log_q = F.log_softmax(student_logits.float(), dim=dim)
    log_p = F.log_softmax(teacher_logits.float(), dim=dim)
    p = log_p.exp()
    terms = p * (log_p - log_q)
    if mask is not None:
        terms = terms.masked_fill(~mask, 0.0)
    n_rows = student_logits.shape[0] if dim in (-1, 1) else student_logits.shape[1]
    return terms.sum() / max(n_rows, 1)


@dataclass
class TransferTerms:
    """The parts of one transfer loss evaluation (for logging)."""

    total: torch.Tensor
    kt: torch.Tensor
    feature: torch.Tensor
    relation: torch.Tensor


class RelationalTransferLoss(nn.Module):
    """KL between teacher target→English and student target→vision similarity distributions (rows, columns)."""

    def __init__(self, temperature: float = 0.1, student_temperature: float | None = None, *,
                 rows: bool = True, columns: bool = True, feature_weight: float = 0.0,
                 relation_weight: float = 0.0) -> None:
        super().__init__()
        if temperature <= 0 or (student_temperature is not None and student_temperature <= 0):
            raise ValueError(f"temperatures must be > 0, got {temperature} / {student_temperature}")
        if not (rows or columns):
            raise ValueError("the transfer loss needs rows, columns or both")
        if feature_weight < 0 or relation_weight < 0:
            raise ValueError(f"feature_weight and relation_weight must be >= 0, got {feature_weight}, "
                             f"{relation_weight}")
        self.tau_t = float(temperature)
        self.tau_s = float(student_temperature if student_temperature is not None else temperature)
        self.rows, self.columns = rows, columns
        self.feature_weight, self.relation_weight = float(feature_weight), float(relation_weight)

    def from_similarities(self, student_tv: torch.Tensor, teacher_ts: torch.Tensor) -> torch.Tensor:
        """L_kt from the two [B, B'] cosine matrices (student target→vision, teacher target→English)."""
        if student_tv.shape != teacher_ts.shape:
            raise ValueError(f"similarity shapes differ: {tuple(student_tv.shape)} vs {tuple(teacher_ts.shape)}")
        s, t = student_tv / self.tau_s, teacher_ts.detach() / self.tau_t
        parts = []
        if self.rows:
            parts.append(distribution_kl(s, t, dim=1))
        if self.columns:
            parts.append(distribution_kl(s, t, dim=0))
        return sum(parts) / len(parts)

    def forward(self, student_text: torch.Tensor, student_visual: torch.Tensor, teacher_text: torch.Tensor,
                teacher_english: torch.Tensor) -> TransferTerms:
        """All inputs L2-normalised embeddings of one batch; row i of each belongs to the same pseudo pair."""
        teacher_text, teacher_english = teacher_text.detach(), teacher_english.detach()
        kt = self.from_similarities(student_text @ student_visual.T, teacher_text @ teacher_english.T)
        zero = kt.new_zeros(())
        feature = relation = zero
        if self.feature_weight > 0:
            if student_text.shape[-1] != teacher_text.shape[-1]:
                raise ValueError(f"the feature term needs the student's dimension ({student_text.shape[-1]}) to "
                                 f"equal the teacher's ({teacher_text.shape[-1]})")
            feature = (1.0 - (student_text.float() * teacher_text.float()).sum(-1)).mean()
        if self.relation_weight > 0 and student_text.shape[0] > 1:
            off = ~torch.eye(student_text.shape[0], dtype=torch.bool, device=student_text.device)
            relation = distribution_kl((student_text @ student_text.T) / self.tau_s,
                                       (teacher_text @ teacher_text.T) / self.tau_t, dim=1, mask=off)
        total = kt + self.feature_weight * feature + self.relation_weight * relation
        return TransferTerms(total=total, kt=kt, feature=feature, relation=relation)

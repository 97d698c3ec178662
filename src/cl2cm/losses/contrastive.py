"""Sentence-level alignment losses over a batch of paired embeddings (L2-normalised, row i ↔ row i).

Both take an optional boolean `pos_mask` [B, B] (True where rows i and j describe the same image). Pairs
that are positives but not the diagonal are *removed* from the negatives: with 5 captions per image, the
other captions of the same image are never pushed away (NRCCR's triplet loss does push them; we do not).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def same_group_mask(groups: torch.Tensor) -> torch.Tensor:
    """[B] integer image ids → [B, B] bool, True where two rows belong to the same image."""
    return groups[:, None] == groups[None, :]


def _off_diagonal_positives(pos_mask: torch.Tensor | None, n: int, device: torch.device) -> torch.Tensor | None:
    if pos_mask is None:
        return None
    eye = torch.eye(n, dtype=torch.bool, device=device)
    return pos_mask.to(device=device, dtype=torch.bool) & ~eye


class InfoNCE(nn.Module):
    """Symmetric InfoNCE with a positive mask.

        S_ij = a_i · b_j / τ,   N_i = {i} ∪ {j : not pos(i, j)}
        L_a→b = −(1/B) Σ_i log( exp S_ii / Σ_{j ∈ N_i} exp S_ij )
        L = ½ (L_a→b + L_b→a)      (b→a: the same over columns)

    τ is fixed (default 0.07, as CCLM/LECCR) or learnable (CLIP-style log 1/τ, capped at 1/τ = 100).
    """

    def __init__(self, temperature: float = 0.07, learnable: bool = False) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        init = torch.tensor(math.log(1.0 / temperature))
        if learnable:
            self.log_scale = nn.Parameter(init)
        else:
            self.register_buffer("log_scale", init, persistent=False)

    @property
    def temperature(self) -> float:
        return float(1.0 / self.log_scale.detach().exp().clamp(max=100.0))

    def logits(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        scale = self.log_scale.exp().clamp(max=100.0)
        return a.float() @ b.float().t() * scale

    def forward(self, a: torch.Tensor, b: torch.Tensor, pos_mask: torch.Tensor | None = None) -> torch.Tensor:
        logits = self.logits(a, b)
        n = logits.shape[0]
        drop = _off_diagonal_positives(pos_mask, n, logits.device)
        if drop is not None:
            logits = logits.masked_fill(drop, float("-inf"))
        target = torch.arange(n, device=logits.device)
        return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target))


class TripletLoss(nn.Module):
    """VSE++ bidirectional hinge loss (NRCCR, margin 0.2), hardest negative when `max_violation`.

        S = a bᵀ,  c^b_ij = [α + S_ij − S_ii]_+,  c^a_ij = [α + S_ij − S_jj]_+   (j ≠ i, j not a positive)
        L = Σ_i max_j c^b_ij + Σ_j max_i c^a_ij     (max → sum over all negatives without max_violation)

    NRCCR sums over the batch (`cost_style='sum'`); `reduction='mean'` divides by B [ours, so that the
    weight does not depend on the batch size].
    """

    def __init__(self, margin: float = 0.2, max_violation: bool = True, reduction: str = "mean") -> None:
        super().__init__()
        if reduction not in ("mean", "sum"):
            raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
        self.margin = margin
        self.max_violation = max_violation
        self.reduction = reduction

    def forward(self, a: torch.Tensor, b: torch.Tensor, pos_mask: torch.Tensor | None = None) -> torch.Tensor:
        scores = a.float() @ b.float().t()
        n = scores.shape[0]
        diag = scores.diagonal()
        ignore = torch.eye(n, dtype=torch.bool, device=scores.device)
        if pos_mask is not None:
            ignore = ignore | pos_mask.to(device=scores.device, dtype=torch.bool)
        cost_b = (self.margin + scores - diag[:, None]).clamp(min=0).masked_fill(ignore, 0.0)  # a_i vs b_j
        cost_a = (self.margin + scores - diag[None, :]).clamp(min=0).masked_fill(ignore, 0.0)  # b_j vs a_i
        if self.max_violation:
            total = cost_b.max(dim=1).values.sum() + cost_a.max(dim=0).values.sum()
        else:
            total = cost_b.sum() + cost_a.sum()
        return total / n if self.reduction == "mean" else total

"""InfoNCE and the triplet loss against hand-computed values; the positive mask."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from cl2cm.losses import InfoNCE, TripletLoss, same_group_mask


def _unit(*rows: list[float]) -> torch.Tensor:
    return F.normalize(torch.tensor(rows, dtype=torch.float32), dim=-1)


def test_infonce_matches_hand_computation() -> None:
    a = _unit([1, 0], [0, 1])
    b = _unit([1, 0], [1, 1])
    s = 1 / math.sqrt(2)
    # S = a bᵀ / τ with τ = 0.5: [[1, s], [0, s]] / 0.5
    S = torch.tensor([[1, s], [0, s]]) / 0.5
    rows = -(S[0, 0] - torch.logsumexp(S[0], 0) + S[1, 1] - torch.logsumexp(S[1], 0)) / 2
    cols = -(S[0, 0] - torch.logsumexp(S[:, 0], 0) + S[1, 1] - torch.logsumexp(S[:, 1], 0)) / 2
    assert float(InfoNCE(0.5)(a, b)) == pytest.approx(float((rows + cols) / 2), rel=1e-6)


def test_positive_mask_removes_same_image_captions_from_negatives() -> None:
    torch.manual_seed(0)
    a, b = F.normalize(torch.randn(4, 8), dim=-1), F.normalize(torch.randn(4, 8), dim=-1)
    groups = torch.tensor([0, 0, 1, 2])  # rows 0 and 1 are captions of the same image
    loss = InfoNCE(0.1)
    masked = loss(a, b, same_group_mask(groups))
    # moving b_1 onto a_0 would make a_0's best "negative" perfect; masked, it is no negative at all
    b2 = b.clone()
    b2[1] = a[0]
    masked2 = loss(a, b2, same_group_mask(groups))
    unmasked2 = loss(a, b2)
    a_row0 = lambda bb: F.cross_entropy((a @ bb.t() / 0.1)[:1, [0, 2, 3]], torch.tensor([0]))  # noqa: E731
    assert float(unmasked2) > float(masked2)
    # the a_0 row of the masked loss is the 3-way softmax without b_1
    logits = (a @ b2.t() / 0.1).masked_fill(same_group_mask(groups) & ~torch.eye(4, dtype=torch.bool), -math.inf)
    assert float(F.cross_entropy(logits[:1], torch.tensor([0]))) == pytest.approx(float(a_row0(b2)), rel=1e-6)
    assert torch.isfinite(masked) and torch.isfinite(masked2)


def test_learnable_temperature_gets_a_gradient() -> None:
    loss = InfoNCE(0.07, learnable=True)
    a = F.normalize(torch.randn(5, 4), dim=-1)
    loss(a, a).backward()
    assert loss.log_scale.grad is not None and loss.log_scale.grad != 0
    assert loss.temperature == pytest.approx(0.07, rel=1e-5)
    assert not list(InfoNCE(0.07).parameters())


def test_triplet_hardest_negative_by_hand() -> None:
    a = _unit([1, 0], [0, 1], [1, 1])
    b = _unit([1, 0], [0.2, 1], [1, -1])
    S = a @ b.t()
    d = S.diagonal()
    m = 0.2
    want = 0.0
    for i in range(3):
        want += max(max(m + S[i, j] - d[i], 0) for j in range(3) if j != i)  # a_i vs b_j
        want += max(max(m + S[j, i] - d[i], 0) for j in range(3) if j != i)  # b_i vs a_j
    assert float(TripletLoss(0.2, reduction="sum")(a, b)) == pytest.approx(float(want), rel=1e-5)
    assert float(TripletLoss(0.2)(a, b)) == pytest.approx(float(want) / 3, rel=1e-5)
    # every negative that shares the image is ignored: with all rows one image, nothing is left
    assert float(TripletLoss(0.2)(a, b, same_group_mask(torch.zeros(3, dtype=torch.long)))) == 0.0
    # without max_violation all violating negatives add up, so it is at least the hardest-negative loss
    assert float(TripletLoss(0.2, max_violation=False)(a, b)) >= float(TripletLoss(0.2)(a, b))

"""Sinkhorn OT: marginals with padding, the plan finds the matching, and the OT cost falls as tokens align."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from cl2cm.losses import SinkhornOT, WordAlignmentLoss, cosine_cost


def test_plan_marginals_with_padding() -> None:
    torch.manual_seed(0)
    cost = torch.rand(3, 6, 5) * 2
    ma = torch.tensor([[1] * 6, [1] * 4 + [0] * 2, [1] * 2 + [0] * 4], dtype=torch.bool)
    mb = torch.tensor([[1] * 5, [1] * 5, [1] * 3 + [0] * 2], dtype=torch.bool)
    plan = SinkhornOT(eps=0.05, iters=200)(cost, ma, mb)
    for b in range(3):
        m, n = int(ma[b].sum()), int(mb[b].sum())
        torch.testing.assert_close(plan[b].sum(1)[:m], torch.full((m,), 1 / m), atol=1e-4, rtol=0)
        torch.testing.assert_close(plan[b].sum(0)[:n], torch.full((n,), 1 / n), atol=1e-4, rtol=0)
        assert plan[b, m:].abs().sum() == 0 and plan[b, :, n:].abs().sum() == 0
    assert float(plan.sum()) == pytest.approx(3.0, abs=1e-3)


def test_plan_recovers_a_permutation() -> None:
    torch.manual_seed(1)
    x = F.normalize(torch.randn(1, 5, 16), dim=-1)
    perm = torch.tensor([3, 0, 4, 1, 2])
    y = x[:, perm]
    plan = SinkhornOT(eps=0.01, iters=200)(cosine_cost(x, y))
    # token perm[j] of x is token j of y
    assert plan[0].argmax(1).tolist() == torch.argsort(perm).tolist()
    assert float((plan * cosine_cost(x, y)).sum()) < 0.05


def test_cost_falls_as_training_aligns_tokens() -> None:
    torch.manual_seed(2)
    a = torch.randn(4, 7, 16)
    b = torch.randn(4, 9, 16, requires_grad=True)
    ma = torch.ones(4, 7, dtype=torch.bool)
    mb = torch.ones(4, 9, dtype=torch.bool)
    mb[:, 7:] = False
    loss_fn = WordAlignmentLoss(eps=0.05, iters=50)
    opt = torch.optim.SGD([b], lr=50.0)
    history = []
    for _ in range(30):
        loss = loss_fn(a, ma, b, mb)
        history.append(float(loss.detach()))
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert history[-1] < 0.5 * history[0]
    assert all(x >= y - 1e-4 for x, y in zip(history, history[1:], strict=False))
    assert b.grad is not None and b.grad[:, 7:].abs().sum() == 0  # padding gets no gradient


def test_differentiable_plan_and_no_nans_with_empty_rows() -> None:
    cost = torch.rand(2, 4, 4, requires_grad=True)
    mask = torch.ones(2, 4, dtype=torch.bool)
    mask[1] = False  # a degenerate sequence with no content tokens
    plan = SinkhornOT(0.1, 20)(cost, mask, mask)
    (plan * cost).sum().backward()
    assert torch.isfinite(plan).all() and torch.isfinite(cost.grad).all()
    assert float(plan[1].detach().sum()) == 0.0

"""The relational transfer loss: zero at agreement, positive otherwise, gradients only to the student."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from cl2cm.errors import UserError
from cl2cm.losses.transfer import RelationalTransferLoss, distribution_kl


def _unit(*shape: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(*shape, generator=g), dim=-1)


def test_zero_when_student_distribution_equals_teachers() -> None:
    t, v = _unit(8, 16, seed=1), _unit(8, 16, seed=2)
    loss = RelationalTransferLoss(temperature=0.1, relation_weight=1.0, feature_weight=1.0)
    terms = loss(t, v, t, v)  # teacher target→English == student target→vision, same text embeddings
    assert terms.kt.item() == pytest.approx(0.0, abs=1e-6)
    assert terms.relation.item() == pytest.approx(0.0, abs=1e-6)
    assert terms.feature.item() == pytest.approx(0.0, abs=1e-6)


def test_positive_when_distributions_differ_and_matches_explicit_kl() -> None:
    st, sv, tt, te = (_unit(6, 8, seed=s) for s in range(4))
    loss = RelationalTransferLoss(temperature=0.1)
    got = loss(st, sv, tt, te).kt
    assert got.item() > 0.01
    p_row = F.softmax(tt @ te.T / 0.1, dim=1)
    q_row = F.softmax(st @ sv.T / 0.1, dim=1)
    p_col = F.softmax(tt @ te.T / 0.1, dim=0)
    q_col = F.softmax(st @ sv.T / 0.1, dim=0)
    row = (p_row * (p_row.log() - q_row.log())).sum(1).mean()
    col = (p_col * (p_col.log() - q_col.log())).sum(0).mean()
    assert got.item() == pytest.approx(0.5 * (row + col).item(), rel=1e-5)


def test_rows_only_and_columns_only_differ_on_an_asymmetric_case() -> None:
    st, sv, tt, te = (_unit(5, 8, seed=s + 10) for s in range(4))
    rows = RelationalTransferLoss(columns=False)(st, sv, tt, te).kt
    cols = RelationalTransferLoss(rows=False)(st, sv, tt, te).kt
    both = RelationalTransferLoss()(st, sv, tt, te).kt
    assert rows.item() != pytest.approx(cols.item())
    assert both.item() == pytest.approx(0.5 * (rows + cols).item(), rel=1e-5)


def test_teacher_inputs_get_no_gradient_student_does() -> None:
    st = _unit(4, 8, seed=1).requires_grad_()
    sv = _unit(4, 8, seed=2).requires_grad_()
    tt = _unit(4, 8, seed=3).requires_grad_()
    te = _unit(4, 8, seed=4).requires_grad_()
    RelationalTransferLoss(relation_weight=0.5, feature_weight=0.5)(st, sv, tt, te).total.backward()
    assert st.grad is not None and st.grad.abs().sum() > 0
    assert sv.grad is not None and sv.grad.abs().sum() > 0
    assert tt.grad is None and te.grad is None


def test_gradient_descent_on_the_loss_moves_student_towards_teacher() -> None:
    tt, te = _unit(6, 8, seed=5), _unit(6, 8, seed=6)
    st = _unit(6, 8, seed=7).requires_grad_()
    sv = _unit(6, 8, seed=8).requires_grad_()
    loss = RelationalTransferLoss(temperature=0.5)
    opt = torch.optim.SGD([st, sv], lr=0.5)
    first = None
    for _ in range(100):
        opt.zero_grad()
        value = loss(F.normalize(st, dim=-1), F.normalize(sv, dim=-1), tt, te).total
        first = value.item() if first is None else first
        value.backward()
        opt.step()
    assert value.item() < 0.2 * first


def test_masked_kl_ignores_masked_entries() -> None:
    a, b = torch.randn(3, 3), torch.randn(3, 3)
    mask = ~torch.eye(3, dtype=torch.bool)
    b_diag = b.clone()
    b_diag.fill_diagonal_(100.0)  # a huge diagonal would dominate an unmasked KL
    assert distribution_kl(a, b, mask=mask).item() == pytest.approx(distribution_kl(a, b_diag, mask=mask).item())


def test_bad_settings_are_programming_errors() -> None:
    """The loss is library code: it names no CLI flag (DistillOptions.check turns flags into user errors)."""
    with pytest.raises(ValueError, match="temperatures must be > 0") as exc:
        RelationalTransferLoss(temperature=0.0)
    assert not isinstance(exc.value, UserError) and "--" not in str(exc.value)
    with pytest.raises(ValueError, match="feature term needs"):
        RelationalTransferLoss(feature_weight=1.0)(_unit(2, 4), _unit(2, 4), _unit(2, 6), _unit(2, 6))

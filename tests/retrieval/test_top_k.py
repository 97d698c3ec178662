"""`top_k` (topk + boundary ties per chunk) is exactly the first k of a stable full sort, for every k/chunk."""

from __future__ import annotations

import pytest
import torch

from cl2cm.retrieval.search import top_k


@pytest.mark.parametrize("seed", range(30))
def test_equals_stable_full_sort_under_heavy_ties(seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    n = int(torch.randint(1, 200, (1,), generator=g))
    gallery = torch.randint(-1, 2, (n, 3), generator=g).float()  # few distinct scores: ties everywhere
    query = torch.randint(-1, 2, (4, 3), generator=g).float()
    full = query @ gallery.T
    for k in sorted({1, 2, n // 2 or 1, n}):
        ref = torch.sort(full, dim=1, descending=True, stable=True).indices[:, :k]
        for chunk in (1, 3, 64, 65536):
            scores, idx = top_k(query, gallery, k, chunk=chunk)
            assert torch.equal(idx, ref), (n, k, chunk)
            assert torch.equal(scores, full.gather(1, ref))


def test_distinct_scores_large_gallery() -> None:
    g = torch.Generator().manual_seed(0)
    gallery = torch.nn.functional.normalize(torch.randn(20000, 16, generator=g), dim=-1)
    query = torch.nn.functional.normalize(torch.randn(3, 16, generator=g), dim=-1)
    ref = torch.sort(query @ gallery.T, dim=1, descending=True, stable=True).indices[:, :10]
    assert torch.equal(top_k(query, gallery, 10, chunk=4096)[1], ref)

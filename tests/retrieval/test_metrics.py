"""The chunked rank engine against a plain full-matrix argsort reference that applies the same tie rule."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cl2cm.errors import UserError
from cl2cm.retrieval import metrics
from cl2cm.retrieval.metrics import (
    compute_ranks,
    evaluate_text_to_visual,
    gallery_index,
    ranks_from_scores,
    recall_curve,
    retrieval_metrics,
)


def reference(scores: np.ndarray, idx: np.ndarray, ties: str) -> dict[str, np.ndarray]:
    """Full matrix, one argsort per row/column (NRCCR style); ties broken by an explicit secondary key."""
    n_q, n_g = scores.shape
    pos_first = 1 if ties == "pessimistic" else -1  # pessimistic: tied negatives sort before the positive
    t2v = np.empty(n_q, dtype=np.int64)
    for q in range(n_q):
        is_pos = (np.arange(n_g) == idx[q]).astype(int)
        order = np.lexsort((pos_first * is_pos, -scores[q]))
        t2v[q] = int(np.nonzero(order == idx[q])[0][0]) + 1
    items = np.unique(idx)
    v2t = np.empty(len(items), dtype=np.int64)
    v2t_ap = np.empty(len(items))
    for n, j in enumerate(items):
        is_pos = (idx == j).astype(int)
        order = np.lexsort((pos_first * is_pos, -scores[:, j]))
        where = np.sort(np.nonzero(is_pos[order])[0]) + 1  # 1-based positions of all positives
        v2t[n] = where[0]
        v2t_ap[n] = np.mean(np.arange(1, len(where) + 1) / where)
    return {"t2v": t2v, "v2t": v2t, "items": items, "t2v_ap": 1.0 / t2v, "v2t_ap": v2t_ap}


def assert_matches(ranks, ref) -> None:
    np.testing.assert_array_equal(ranks.t2v.numpy(), ref["t2v"])
    np.testing.assert_array_equal(ranks.v2t_items.numpy(), ref["items"])
    np.testing.assert_array_equal(ranks.v2t.numpy(), ref["v2t"])
    np.testing.assert_allclose(ranks.t2v_ap.numpy(), ref["t2v_ap"], rtol=1e-12)
    np.testing.assert_allclose(ranks.v2t_ap.numpy(), ref["v2t_ap"], rtol=1e-12)


def world(n_img: int, per: int, dim: int, seed: int, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    gallery = torch.nn.functional.normalize(torch.randn(n_img, dim, generator=g, dtype=dtype), dim=-1)
    idx = torch.arange(n_img).repeat_interleave(per)
    query = torch.nn.functional.normalize(gallery[idx] + 0.9 * torch.randn(len(idx), dim, generator=g,
                                                                           dtype=dtype), dim=-1)
    return query, gallery, idx


@pytest.mark.parametrize("per", [1, 5])
@pytest.mark.parametrize("chunk", [1, 7, 64, 10_000])
@pytest.mark.parametrize("ties", ["pessimistic", "optimistic"])
def test_random_embeddings_match_reference(per: int, chunk: int, ties: str) -> None:
    query, gallery, idx = world(40, per, 16, seed=per)
    ranks = compute_ranks(query, gallery, idx, chunk=chunk, ties=ties)
    assert_matches(ranks, reference((query @ gallery.T).numpy(), idx.numpy(), ties))
    assert ranks.t2v.min() >= 1 and ranks.t2v.max() <= 40


@pytest.mark.parametrize("chunk", [1, 5, 33, 1000])
@pytest.mark.parametrize("ties", ["pessimistic", "optimistic"])
def test_exact_ties_integer_embeddings(chunk: int, ties: str) -> None:
    """Values in {-1, 0, 1}, dim 3: float32 dot products are exact, so ties abound and must follow the rule."""
    g = torch.Generator().manual_seed(3)
    gallery = torch.randint(-1, 2, (30, 3), generator=g).float()
    idx = torch.randint(0, 30, (120,), generator=g)
    query = torch.randint(-1, 2, (120, 3), generator=g).float()
    ranks = compute_ranks(query, gallery, idx, chunk=chunk, ties=ties)
    assert_matches(ranks, reference((query @ gallery.T).numpy(), idx.numpy(), ties))


def test_duplicated_embeddings_tie_rule_is_applied() -> None:
    """Two identical gallery rows: pessimistic puts the positive second, optimistic first."""
    gallery = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    query = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    idx = torch.tensor([0, 2])
    pess = compute_ranks(query, gallery, idx, ties="pessimistic")
    opt = compute_ranks(query, gallery, idx, ties="optimistic")
    assert pess.t2v.tolist() == [2, 1] and opt.t2v.tolist() == [1, 1]
    # v2t for item 1 does not exist (no caption); item 0's caption is rank 1 in its column.
    assert pess.v2t_items.tolist() == [0, 2] and pess.v2t.tolist() == [1, 1]


def test_collapsed_model_is_not_rewarded_by_the_default_rule() -> None:
    query = torch.ones(40, 4)
    gallery = torch.ones(20, 4)
    idx = torch.arange(20).repeat_interleave(2)
    ranks = compute_ranks(query, gallery, idx)
    assert ranks.t2v.unique().tolist() == [20]  # behind all 19 tied negatives
    assert ranks.v2t.unique().tolist() == [39]  # behind the 38 tied captions of other items
    assert retrieval_metrics(ranks)["SumR"] == 0.0


def test_uneven_captions_and_items_without_captions() -> None:
    g = torch.Generator().manual_seed(9)
    gallery = torch.randn(25, 8, dtype=torch.float64, generator=g)
    idx = torch.tensor([0, 0, 0, 3, 5, 5, 7, 7, 7, 7, 7, 7, 24, 1, 1])
    query = gallery[idx] + torch.randn(len(idx), 8, dtype=torch.float64, generator=g)
    for chunk in (1, 4, 100):
        ranks = compute_ranks(query, gallery, idx, chunk=chunk)
        assert_matches(ranks, reference((query @ gallery.T).numpy(), idx.numpy(), "pessimistic"))
    assert ranks.gallery == 25 and ranks.queries == 15 and len(ranks.v2t) == 6


def test_fusion_matches_reference_on_fused_matrix() -> None:
    query, gallery, idx = world(20, 5, 12, seed=4)
    mt = torch.nn.functional.normalize(query + 0.5 * torch.randn_like(query), dim=-1)

    def mm(s: np.ndarray) -> np.ndarray:
        return (s - s.min(1, keepdims=True)) / (s.max(1, keepdims=True) - s.min(1, keepdims=True))

    fused = 0.3 * mm((query @ gallery.T).numpy()) + 0.7 * mm((mt @ gallery.T).numpy())
    for chunk in (3, 1000):
        ranks = compute_ranks(query, gallery, idx, chunk=chunk, query_mt_emb=mt, fuse_weight=0.3)
        assert_matches(ranks, reference(fused, idx.numpy(), "pessimistic"))


def test_metrics_json_shape_and_values() -> None:
    # 3 images, one caption each; caption 0 → rank 1, caption 1 → rank 2, caption 2 → rank 3.
    gallery = torch.eye(3, dtype=torch.float64)
    query = torch.tensor([[1.0, 0.5, 0.2], [0.9, 0.5, 0.1], [0.3, 0.2, 0.1]], dtype=torch.float64)
    ranks = compute_ranks(query, gallery, torch.arange(3))
    m = retrieval_metrics(ranks, ks=(1, 5, 10, 2))
    assert list(m) == ["t2v", "v2t", "SumR", "queries", "gallery"]
    assert list(m["t2v"]) == ["R@1", "R@2", "R@5", "R@10", "MedR", "MeanR", "mAP"]
    assert ranks.t2v.tolist() == [1, 2, 3]
    assert m["t2v"]["R@1"] == pytest.approx(100 / 3) and m["t2v"]["R@2"] == pytest.approx(200 / 3)
    assert m["t2v"]["MedR"] == 2.0 and m["t2v"]["MeanR"] == 2.0
    assert m["t2v"]["mAP"] == pytest.approx((1 + 1 / 2 + 1 / 3) / 3)
    assert m["SumR"] == pytest.approx(sum(m[d][f"R@{k}"] for d in ("t2v", "v2t") for k in (1, 5, 10)))
    assert m["queries"] == 3 and m["gallery"] == 3


def test_medr_follows_nrccr_floor_rule() -> None:
    gallery = torch.eye(4, dtype=torch.float64)
    # ranks 1, 2 → median of 0-based ranks is 0.5 → floor + 1 = 1 (numpy's median would say 1.5)
    query = torch.tensor([[1.0, 0.0, 0.0, 0.0], [0.9, 0.5, 0.0, 0.0]], dtype=torch.float64)
    m = retrieval_metrics(compute_ranks(query, gallery, torch.tensor([0, 1])))
    assert m["t2v"]["MedR"] == 1.0


def test_recall_curve_agrees_with_metrics() -> None:
    query, gallery, idx = world(30, 5, 8, seed=2)
    ranks = compute_ranks(query, gallery, idx, chunk=17)
    curve = recall_curve(ranks.t2v, 30)
    m = retrieval_metrics(ranks)
    assert curve[0] == pytest.approx(m["t2v"]["R@1"]) and curve[9] == pytest.approx(m["t2v"]["R@10"])
    assert curve[-1] == pytest.approx(100.0)


def test_half_precision_is_close() -> None:
    query, gallery, idx = world(50, 5, 32, seed=1, dtype=torch.float32)
    exact = retrieval_metrics(compute_ranks(query, gallery, idx))
    half = retrieval_metrics(compute_ranks(query, gallery, idx, half=True))
    assert abs(exact["SumR"] - half["SumR"]) < 15.0


def test_evaluate_text_to_visual_by_ids() -> None:
    query, gallery, idx = world(10, 2, 8, seed=5)
    gallery_ids = [f"img{i}.jpg" for i in range(10)]
    items = [gallery_ids[i] for i in idx.tolist()]
    metrics, ranks = evaluate_text_to_visual(query, items, gallery, gallery_ids, chunk=3)
    assert_matches(ranks, reference((query @ gallery.T).numpy(), idx.numpy(), "pessimistic"))
    assert metrics["queries"] == 20


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: compute_ranks(torch.randn(4, 8), torch.randn(3, 7), torch.zeros(4, dtype=torch.long)),
         "dimension mismatch"),
        (lambda: compute_ranks(torch.randn(0, 8), torch.randn(3, 8), torch.zeros(0, dtype=torch.long)),
         "empty query set"),
        (lambda: compute_ranks(torch.randn(2, 8), torch.randn(0, 8), torch.zeros(2, dtype=torch.long)),
         "empty gallery"),
        (lambda: compute_ranks(torch.randn(2, 8), torch.randn(3, 8), torch.tensor([0, 3])), "gallery row 3"),
        (lambda: compute_ranks(torch.full((2, 2), float("nan")), torch.randn(3, 2), torch.tensor([0, 1])),
         "NaN"),
        (lambda: compute_ranks(torch.randn(2, 2), torch.randn(3, 2), torch.tensor([0, 1]), ties="random"),
         "--ties"),
        (lambda: gallery_index(["a", "zz", "yy"], ["a", "b"]), "2 of 3 queries have no row in gallery "
                                                               "(first: 'zz')"),
        (lambda: gallery_index(["a"], ["a", "a"]), "duplicate id 'a'"),
        (lambda: retrieval_metrics(compute_ranks(torch.randn(2, 2), torch.randn(3, 2), torch.tensor([0, 1])),
                                   ks=(1, 50)), "--recall-at 50 is larger than the gallery (3 items)"),
    ],
)
def test_bad_input_is_a_user_error(call, message: str) -> None:
    with pytest.raises(UserError, match=None) as info:
        call()
    assert message in str(info.value)


@pytest.mark.gpu
def test_cuda_matches_cpu() -> None:
    query, gallery, idx = world(500, 5, 64, seed=7, dtype=torch.float32)
    cpu = compute_ranks(query, gallery, idx, chunk=256)
    gpu = compute_ranks(query, gallery, idx, chunk=256, device="cuda")
    ref = reference((query.double() @ gallery.double().T).numpy(), idx.numpy(), "pessimistic")
    # fp32 GEMMs on two devices round differently in the last bit; ranks may differ only at such near-ties.
    assert (cpu.t2v != gpu.t2v).sum() <= 2 and (gpu.t2v.numpy() != ref["t2v"]).sum() <= 2
    ints = torch.randint(-1, 2, (400, 3)).float(), torch.randint(-1, 2, (50, 3)).float()
    idx2 = torch.randint(0, 50, (400,))
    assert_matches(compute_ranks(*ints[:1], ints[1], idx2, chunk=64, device="cuda"),
                   reference((ints[0] @ ints[1].T).numpy(), idx2.numpy(), "pessimistic"))


@pytest.mark.parametrize("chunk", [1, 9, 1000])
def test_ranks_from_scores_equals_reference_and_does_not_modify(chunk: int) -> None:
    query, gallery, idx = world(25, 5, 8, seed=11)
    scores = query @ gallery.T
    before = scores.clone()
    ranks = ranks_from_scores(scores, idx, chunk=chunk)
    assert_matches(ranks, reference(scores.numpy(), idx.numpy(), "pessimistic"))
    assert torch.equal(scores, before)
    with pytest.raises(UserError, match="empty gallery"):
        ranks_from_scores(torch.zeros(3, 0), torch.zeros(3, dtype=torch.long))


@pytest.mark.parametrize("tile_elems", [1, 50, 3 * 30 + 7])
@pytest.mark.parametrize("chunk", [1, 5, 33, 1000])
@pytest.mark.parametrize("ties", ["pessimistic", "optimistic"])
def test_row_tiles_inside_blocks_match_reference(monkeypatch, tile_elems: int, chunk: int, ties: str) -> None:
    """CPU blocks are counted in row tiles (1 row, several rows, a ragged last tile): ties, uneven captions
    and items without captions must come out exactly as from the full matrix."""
    monkeypatch.setattr(metrics, "_CPU_TILE_ELEMS", tile_elems)
    g = torch.Generator().manual_seed(5)
    gallery = torch.randint(-1, 2, (30, 3), generator=g).float()
    idx = torch.cat([torch.randint(0, 25, (110,), generator=g), torch.full((7,), 27)])  # 25..26, 28..29: none
    query = torch.randint(-1, 2, (117, 3), generator=g).float()
    ref = reference((query @ gallery.T).numpy(), idx.numpy(), ties)
    assert_matches(compute_ranks(query, gallery, idx, chunk=chunk, ties=ties), ref)
    assert_matches(ranks_from_scores(query @ gallery.T, idx, chunk=chunk, ties=ties), ref)
    query64, gallery64, idx64 = world(30, 5, 8, seed=2)
    assert_matches(compute_ranks(query64, gallery64, idx64, chunk=chunk, ties=ties),
                   reference((query64 @ gallery64.T).numpy(), idx64.numpy(), ties))


@pytest.mark.parametrize("ties", ["pessimistic", "optimistic"])
def test_without_ap_and_in_bf16_the_ranks_follow_the_reference(ties: str) -> None:
    """`with_ap=False` keeps only each item's best caption as a threshold, and bf16 scores (`half`) are
    thresholded in bf16: both must still rank exactly as the argsort reference on the same scores."""
    g = torch.Generator().manual_seed(11)
    gallery = torch.randint(-2, 3, (40, 4), generator=g).float()
    idx = torch.cat([torch.randint(0, 35, (150,), generator=g), torch.full((9,), 38)])  # uneven; 35-37, 39: none
    query = torch.randint(-2, 3, (159, 4), generator=g).float()
    ref = reference((query @ gallery.T).numpy(), idx.numpy(), ties)
    no_ap = compute_ranks(query, gallery, idx, chunk=13, ties=ties, with_ap=False)
    np.testing.assert_array_equal(no_ap.t2v.numpy(), ref["t2v"])
    np.testing.assert_array_equal(no_ap.v2t.numpy(), ref["v2t"])
    assert bool(no_ap.v2t_ap.isnan().all())
    # small integers are exact in bf16, so the bf16 ranks equal the fp32 reference
    assert_matches(compute_ranks(query, gallery, idx, chunk=13, ties=ties, half=True), ref)


def test_small_cpu_rankings_run_on_one_thread_and_give_the_threads_back(monkeypatch) -> None:
    """A small ranking (a few ms) runs on one thread — on a busy machine each parallel region waits for a
    descheduled worker — and restores the caller's thread count; a large one keeps the caller's threads."""
    query, gallery, idx = world(20, 5, 8, seed=3)
    ref = reference((query @ gallery.T).numpy(), idx.numpy(), "pessimistic")
    before = torch.get_num_threads()
    seen: list[int] = []
    try:
        torch.set_num_threads(2)
        assert_matches(compute_ranks(query, gallery, idx, progress=lambda n: seen.append(torch.get_num_threads())),
                       ref)
        assert seen == [1] and torch.get_num_threads() == 2
        monkeypatch.setattr(metrics, "_CPU_SMALL_PAIRS", 1)
        seen.clear()
        assert_matches(compute_ranks(query, gallery, idx, progress=lambda n: seen.append(torch.get_num_threads())),
                       ref)
        assert seen == [2]
    finally:
        torch.set_num_threads(before)


def test_mean_over_languages_is_unweighted() -> None:
    from cl2cm.retrieval.metrics import mean_over_languages

    def section(r1: float, queries: int) -> dict:
        d = {"R@1": r1, "R@5": 2 * r1, "R@10": 3 * r1, "MedR": r1, "MeanR": r1, "mAP": r1 / 100}
        return {"t2v": dict(d), "v2t": dict(d), "SumR": 12 * r1, "queries": queries, "gallery": 7}

    m = mean_over_languages({"de": section(10.0, 100), "fr": section(30.0, 5)})
    assert m["t2v"]["R@1"] == 20.0 and m["v2t"]["R@10"] == 60.0 and m["t2v"]["mAP"] == 0.2
    assert m["SumR"] == 240.0  # (120 + 360) / 2: five French queries count as much as 100 German ones
    assert m["queries"] == 105 and m["gallery"] == 7 and m["languages"] == ["de", "fr"]

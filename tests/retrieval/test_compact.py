"""Compact-exact top-k: every first pass (fp32, int8, fp16) returns exactly the first k of a stable full sort."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from cl2cm.errors import UserError
from cl2cm.retrieval import compact
from cl2cm.retrieval.compact import CODECS, PreparedGallery, choose_codec, exact_scores, top_k_prepared
from cl2cm.retrieval.search import Gallery, top_k


@pytest.fixture(autouse=True)
def int8_for_any_query_count(monkeypatch: pytest.MonkeyPatch) -> None:
    """The int8 kernel serves ≤ INT8_MAX_QUERIES queries per call; these tests check it on every batch."""
    monkeypatch.setattr(compact, "INT8_MAX_QUERIES", 10**9)


def test_many_queries_take_the_fp32_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    query, gallery = adversarial(3, 200, 128)
    p = PreparedGallery(gallery, "int8")
    monkeypatch.setattr(compact, "INT8_MAX_QUERIES", 2)
    assert p.first_pass(query, 0, 10)[1].rel == 0.0  # fp32 pass: no output rounding term
    assert p.first_pass(query[:2], 0, 10)[1].rel > 0.0  # int8 pass (bf16 output)
    assert torch.equal(top_k_prepared(p, query, 7)[1], reference(query, gallery, 7)[1])


def reference(query: torch.Tensor, gallery: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The definition: every exact score, one stable descending sort, the first k."""
    q = query.float().repeat_interleave(gallery.shape[0], 0)
    g = gallery.float().repeat(query.shape[0], 1)
    full = exact_scores(q, g).reshape(query.shape[0], gallery.shape[0])
    idx = torch.sort(full, dim=1, descending=True, stable=True).indices[:, :k]
    return full.gather(1, idx), idx


def adversarial(seed: int, n: int, d: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows built to break a sloppy bound: duplicates, 1-ulp neighbours, spikes, zeros, tiny and huge norms."""
    g = torch.Generator().manual_seed(seed)
    base = torch.nn.functional.normalize(torch.randn(max(1, n // 4), d, generator=g), dim=-1)
    rows = [base]
    rows.append(base[torch.randint(0, base.shape[0], (n // 4,), generator=g)])  # exact duplicates
    near = base[torch.randint(0, base.shape[0], (n // 4,), generator=g)].clone()
    near = torch.nextafter(near, near + torch.sign(torch.randn(near.shape, generator=g)))  # 1-ulp neighbours
    rows.append(near)
    spike = torch.zeros(n // 8, d)
    spike[:, 0] = 1.0
    spike[:, 1:] = 1e-3 * torch.randn(n // 8, d - 1, generator=g)  # one large component: coarse int8 scale
    rows.append(spike)
    rows.append(torch.zeros(2, d))
    rows.append(base[:2] * 1e-6)
    rows.append(base[:2] * 30.0)
    gallery = torch.cat(rows)[torch.randperm(sum(r.shape[0] for r in rows), generator=g)]
    query = torch.cat([torch.nn.functional.normalize(torch.randn(3, d, generator=g), dim=-1), gallery[:2].clone(),
                       spike[:1].clone() if spike.shape[0] else gallery[:1]])
    return query, gallery


@pytest.mark.parametrize("codec", sorted(CODECS))
@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(8, 300), d=st.sampled_from([3, 8, 33, 128]),
       k=st.integers(1, 40), chunk=st.sampled_from([1, 7, 64, 65536]))
def test_equals_full_sort_adversarial(codec: str, seed: int, n: int, d: int, k: int, chunk: int) -> None:
    query, gallery = adversarial(seed, n, d)
    k = min(k, gallery.shape[0])
    scores, idx = top_k_prepared(PreparedGallery(gallery, codec), query, k, chunk=chunk)
    ref_s, ref_i = reference(query, gallery, k)
    assert torch.equal(idx, ref_i)
    assert torch.equal(scores, ref_s)


@pytest.mark.parametrize("codec", sorted(CODECS))
@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 200), levels=st.integers(1, 4), k=st.integers(1, 50))
def test_equals_full_sort_heavy_ties(codec: str, seed: int, n: int, levels: int, k: int) -> None:
    g = torch.Generator().manual_seed(seed)
    gallery = torch.randint(-levels, levels + 1, (n, 4), generator=g).float() / levels  # few distinct scores
    query = torch.randint(-levels, levels + 1, (5, 4), generator=g).float()
    k = min(k, n)
    scores, idx = top_k_prepared(PreparedGallery(gallery, codec), query, k, chunk=int(torch.randint(1, 70, (1,))))
    ref_s, ref_i = reference(query, gallery, k)
    assert torch.equal(idx, ref_i) and torch.equal(scores, ref_s)


@pytest.mark.parametrize("codec", sorted(CODECS))
def test_bound_holds_for_every_row(codec: str) -> None:
    """|exact − a| ≤ abs + rel·|a| row by row (the proof's one inequality, checked on adversarial rows)."""
    for seed in range(5):
        for d in (8, 128, 512):
            query, gallery = adversarial(seed, 400, d)
            p = PreparedGallery(gallery, codec)
            a, b = p.first_pass(query, 0, len(p))
            exact = reference(query, gallery, gallery.shape[0])
            full = torch.empty_like(a).scatter_(1, exact[1], exact[0])
            assert bool(((full - a).abs() <= b.abs[:, None] + b.rel * a.abs()).all()), (seed, d)


def test_bound_is_tight_enough_to_prune() -> None:
    """On 20,000 random unit rows the int8 first pass keeps a few hundred candidates, not the gallery."""
    g = torch.Generator().manual_seed(0)
    gallery = torch.nn.functional.normalize(torch.randn(20_000, 128, generator=g), dim=-1)
    query = torch.nn.functional.normalize(torch.randn(1, 128, generator=g), dim=-1)
    p = PreparedGallery(gallery, "int8")
    a, b = p.first_pass(query, 0, len(p))
    slack = b.abs[:, None] + b.rel * a.abs()
    lk = torch.topk(a - slack, 10).values[0, -1]
    kept = int((a + slack >= lk).sum())
    assert 10 <= kept < 1000
    assert torch.equal(top_k_prepared(p, query, 10)[1], reference(query, gallery, 10)[1])


def test_kernel_accumulates_in_fp32() -> None:
    """The bound assumes fp32 sums inside the int8 kernel: 512 ones would stop at 256 in a bf16 accumulator."""
    p = PreparedGallery(torch.ones(4, 512), "int8")
    a, _ = p.first_pass(torch.ones(1, 512), 0, 4)
    assert torch.all(a == 512)


def test_exact_scores_do_not_depend_on_position() -> None:
    g = torch.Generator().manual_seed(1)
    rows = torch.randn(1000, 768, generator=g)
    q = torch.randn(1, 768, generator=g)
    full = exact_scores(q.expand(1000, -1), rows)
    sub = torch.tensor([3, 64, 65, 999])
    assert torch.equal(exact_scores(q.expand(4, -1), rows[sub]), full[sub])
    assert torch.equal(exact_scores(q.double().expand(4, -1), rows[sub].double()), full[sub])


def test_duplicates_tie_by_index_across_chunks() -> None:
    """A duplicated row scores identically in any chunk (a GEMM can differ in the last bit by block shape)."""
    g = torch.Generator().manual_seed(2)
    gallery = torch.randn(1_001, 768, generator=g)
    gallery[1_000] = gallery[5]
    q = gallery[5:6] * 1.5
    s, i = top_k(q, gallery, 2, chunk=64)
    assert i.tolist() == [[5, 1_000]] and s[0, 0] == s[0, 1]


def test_gallery_rebuilds_when_rows_change() -> None:
    gallery = Gallery(model=None, ids=["a", "b", "c"], emb=torch.eye(3), device=torch.device("cpu"), compact="int8")
    first = gallery.prepared()
    assert gallery.prepared() is first and first.codec == "int8"
    gallery.emb[0, 0] = -1.0  # in place: the copy is stale
    assert gallery.prepared() is not first
    assert top_k(torch.tensor([[1.0, 0, 0]]), gallery.prepared(), 1)[1].tolist() == [[1]]


def test_choose_codec() -> None:
    cpu, big = torch.device("cpu"), 10**6
    assert choose_codec("off", big, cpu) == "fp32"
    assert choose_codec("auto", big, cpu) == "fp32"  # opt-in only: slower on clustered galleries
    assert choose_codec("int8", big, cpu) == "int8"
    assert choose_codec("fp16", big, torch.device("cuda")) == "fp16"
    with pytest.raises(UserError, match="--compact 'bits'"):
        choose_codec("bits", big, cpu)
    with pytest.raises(UserError, match="CPU only"):
        choose_codec("int8", big, torch.device("cuda"))


def test_bad_inputs_are_user_errors() -> None:
    with pytest.raises(UserError, match="NaN or infinite"):
        PreparedGallery(torch.tensor([[1.0, float("nan")]]))
    with pytest.raises(UserError, match="NaN or infinite"):
        top_k(torch.tensor([[float("inf"), 0.0]]), torch.eye(2), 1)
    with pytest.raises(UserError, match="fp16's range"):
        PreparedGallery(torch.tensor([[1e6, 0.0]]), "fp16")


def test_bytes_per_row() -> None:
    rows = torch.randn(10, 128)
    assert PreparedGallery(rows, "fp32").bytes_per_row() == 512
    assert PreparedGallery(rows, "int8").bytes_per_row() == 512 + 128 + 2
    assert PreparedGallery(rows, "fp16").bytes_per_row() == 512 + 256


@pytest.mark.parametrize("codec", ["int8", "fp16"])
def test_fp32_screen_of_many_candidates_stays_exact(codec: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The cascade (compact pass → fp32 screen → exact) gives the full sort's answer, ties included."""
    monkeypatch.setattr(compact, "CASCADE_MIN", 0)
    for seed in range(12):
        query, gallery = adversarial(seed, 250, (8, 128)[seed % 2])
        for k in (1, 5, 30):
            scores, idx = top_k_prepared(PreparedGallery(gallery, codec), query, k, chunk=(7, 64)[seed % 2])
            ref_s, ref_i = reference(query, gallery, k)
            assert torch.equal(idx, ref_i) and torch.equal(scores, ref_s), (seed, k)
        g = torch.Generator().manual_seed(seed)
        ties = torch.randint(-1, 2, (150, 4), generator=g).float()
        q = torch.randint(-1, 2, (3, 4), generator=g).float()
        assert torch.equal(top_k_prepared(PreparedGallery(ties, codec), q, 20)[1], reference(q, ties, 20)[1])


@pytest.mark.parametrize("d", [8, 24, 40, 136, 200])
def test_int8_dimensions_off_the_vector_width(d: int) -> None:
    """torch's AVX-512 int8 kernel segfaults or returns garbage at D = 8 + 16j unless the codes are padded
    (found by CI on such a CPU); one and two queries, as `serve` sends them."""
    g = torch.Generator().manual_seed(d)
    gallery = torch.nn.functional.normalize(torch.randn(37, d, generator=g), dim=-1)
    for m in (1, 2):
        query = torch.nn.functional.normalize(torch.randn(m, d, generator=g), dim=-1)
        scores, idx = top_k_prepared(PreparedGallery(gallery, "int8"), query, 5, chunk=16)
        ref_s, ref_i = reference(query, gallery, 5)
        assert torch.equal(idx, ref_i)
        assert torch.equal(scores, ref_s)

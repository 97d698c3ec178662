"""The fused numba counting kernel gives the torch path's ranks exactly, and `auto` picks it only where it pays."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_metrics import assert_matches, reference  # tests/retrieval is on sys.path (rootdir imports)

from cl2cm.errors import UserError
from cl2cm.retrieval import kernels
from cl2cm.retrieval.metrics import compute_ranks, ranks_from_scores, retrieval_metrics
from needs import need_numba

need_numba()

FIELDS = ("t2v", "v2t", "v2t_items", "t2v_ap", "v2t_ap")


def assert_same(a, b) -> None:
    for name in FIELDS:
        assert torch.equal(getattr(a, name), getattr(b, name)), name


def tied_world(n_q: int, n_g: int, seed: int, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """Scores on a coarse grid (ties everywhere), ±3 outliers, items with 0 to many captions in random order."""
    g = torch.Generator().manual_seed(seed)
    scores = (torch.randint(-4, 5, (n_q, n_g), generator=g) / 4).to(dtype)
    scores[torch.rand(n_q, n_g, generator=g) < 0.01] = 3.0
    scores[torch.rand(n_q, n_g, generator=g) < 0.01] = -3.0
    idx = torch.randint(0, max(1, n_g - 3), (n_q,), generator=g)  # the last items get no caption: distractors
    return scores, idx


@pytest.mark.parametrize("ties", ["pessimistic", "optimistic"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("n_q,n_g", [(7, 5), (61, 13), (300, 40), (97, 3)])  # 1 to ~100 captions per item
def test_fused_equals_reference_with_heavy_ties(ties: str, dtype: torch.dtype, n_q: int, n_g: int) -> None:
    scores, idx = tied_world(n_q, n_g, seed=n_q + n_g, dtype=dtype)
    fused = ranks_from_scores(scores, idx, ties=ties, kernel="numba")
    assert_matches(fused, reference(scores.double().numpy(), idx.numpy(), ties))
    assert_same(fused, ranks_from_scores(scores, idx, ties=ties, kernel="torch"))


def test_scores_with_autograd_and_transposed_layouts() -> None:
    """A score matrix that requires grad, or is a transposed view, is read as is (no numpy() error, no copy
    semantics leaking into the counts)."""
    scores, idx = tied_world(50, 9, seed=7, dtype=torch.float32)
    expected = ranks_from_scores(scores, idx, kernel="torch")
    assert_same(ranks_from_scores(scores.clone().requires_grad_(), idx, kernel="numba"), expected)
    assert_same(ranks_from_scores(scores.t().contiguous().t(), idx, kernel="numba"), expected)


@pytest.mark.parametrize("chunk", [1, 3, 64, None])
def test_fused_blocks_and_threads_give_the_same_counts(chunk: int | None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Several blocks, and each block split over threads (a low split threshold), still sum to the same ranks."""
    monkeypatch.setattr(kernels, "_THREAD_PAIRS", 16)
    monkeypatch.setattr(kernels, "default_threads", lambda: 3)
    scores, idx = tied_world(203, 29, seed=5, dtype=torch.float32)
    assert_same(ranks_from_scores(scores, idx, chunk=chunk, kernel="numba"),
                ranks_from_scores(scores, idx, chunk=chunk, kernel="torch"))


def test_more_captions_per_item_than_one_kernel_width() -> None:
    """An item with 20 captions needs thresholds in groups (8 + 8 + 4): the AP of every caption still matches."""
    scores, _ = tied_world(100, 5, seed=9, dtype=torch.float32)
    idx = torch.tensor([0] * 20 + [1] * 9 + [2] * 8 + list(np.arange(63) % 5))
    fused = ranks_from_scores(scores, idx, kernel="numba")
    assert_matches(fused, reference(scores.double().numpy(), idx.numpy(), "pessimistic"))


def test_compute_ranks_with_fusion_and_padding_thresholds() -> None:
    """Embeddings (scores made block by block) with NRCCR's query fusion, 1-3 captions per item (-inf padding)."""
    g = torch.Generator().manual_seed(2)
    gallery = torch.nn.functional.normalize(torch.randn(30, 8, generator=g), dim=-1)
    idx = torch.randint(0, 30, (70,), generator=g)
    query = torch.nn.functional.normalize(gallery[idx] + torch.randn(70, 8, generator=g), dim=-1)
    mt = torch.nn.functional.normalize(query + 0.3 * torch.randn(70, 8, generator=g), dim=-1)
    for ties in ("pessimistic", "optimistic"):
        a = compute_ranks(query, gallery, idx, chunk=16, ties=ties, query_mt_emb=mt, fuse_weight=0.3, kernel="numba")
        b = compute_ranks(query, gallery, idx, chunk=16, ties=ties, query_mt_emb=mt, fuse_weight=0.3, kernel="torch")
        assert_same(a, b)
        assert retrieval_metrics(a) == retrieval_metrics(b)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
@pytest.mark.parametrize("row", [3, 18])  # in the four-row sweep, and in the 0-3 rows left after it
def test_non_finite_scores_are_refused_by_the_fused_path_too(bad: float, row: int) -> None:
    scores, idx = tied_world(19, 6, seed=1, dtype=torch.float32)
    scores[row, 2] = bad
    for kernel in ("numba", "torch"):
        with pytest.raises(UserError, match="NaN or infinite"):
            ranks_from_scores(scores, idx, kernel=kernel)


def test_huge_finite_scores_whose_sums_overflow_are_still_ranked() -> None:
    """The kernel's in-pass check sums columns; an overflow of finite scores is confirmed finite, not refused."""
    scores, idx = tied_world(40, 6, seed=4, dtype=torch.float32)
    scores[:, 1] = 3e38  # every row: column 1 sums past float32's max
    scores[::3, 4] = -3e38
    fused = ranks_from_scores(scores, idx, kernel="numba")
    assert_matches(fused, reference(scores.double().numpy(), idx.numpy(), "pessimistic"))


def test_auto_takes_the_kernel_only_where_it_pays(monkeypatch: pytest.MonkeyPatch) -> None:
    cpu, f32 = torch.device("cpu"), torch.float32
    monkeypatch.setattr(kernels, "_loaded", False)
    assert not kernels.choose("auto", kernels.AUTO_PAIRS - 1, f32, cpu)  # small: the load would cost more
    assert kernels.choose("auto", kernels.AUTO_PAIRS, f32, cpu)
    assert not kernels.choose("auto", kernels.AUTO_PAIRS, torch.bfloat16, cpu)  # --half: torch path
    assert not kernels.choose("torch", 10 * kernels.AUTO_PAIRS, f32, cpu)
    monkeypatch.setattr(kernels, "_loaded", True)  # loaded in this process already: free from then on
    assert kernels.choose("auto", 10, f32, cpu)
    monkeypatch.setattr(kernels, "available", lambda: False)
    assert not kernels.choose("auto", kernels.AUTO_PAIRS, f32, cpu)


@pytest.mark.parametrize("call,message", [
    (lambda: kernels.choose("numba", 10, torch.bfloat16, torch.device("cpu")), "fp32/fp64 scores on the CPU"),
    (lambda: kernels.choose("fast", 10, torch.float32, torch.device("cpu")), "--rank-kernel 'fast'"),
])
def test_impossible_choices_are_one_line_errors(call, message: str) -> None:
    with pytest.raises(UserError, match=message):
        call()


def test_numba_missing_names_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kernels, "available", lambda: False)
    with pytest.raises(UserError, match="numba is not installed"):
        kernels.choose("numba", 10, torch.float32, torch.device("cpu"))


def test_eval_cli_rank_kernels_write_the_same_json_and_ranks(tmp_path, cli) -> None:
    """`cl2cm eval --rank-kernel numba` and `--rank-kernel torch`: byte-identical metrics JSON and ranks file."""
    from test_eval_cli import make_stores

    qdir, gdir, *_ = make_stores(tmp_path, n_img=40, per=3)
    written = {}
    for kernel in ("torch", "numba"):
        out, ranks = tmp_path / f"{kernel}.json", tmp_path / f"{kernel}.jsonl"
        code, _, err = cli(["eval", "--query-emb", str(qdir), "--gallery-emb", str(gdir), "--rank-kernel", kernel,
                            "--out", str(out), "--ranks", str(ranks), "--query-block", "11", "-q"])
        assert code == 0, err
        written[kernel] = (out.read_bytes(), ranks.read_bytes())
    assert written["torch"] == written["numba"]
    code, _, err = cli(["eval", "--query-emb", str(qdir), "--gallery-emb", str(gdir), "--rank-kernel", "numba",
                        "--half", "-q"])
    assert code == 2 and err.count("\n") == 1 and "--rank-kernel torch" in err

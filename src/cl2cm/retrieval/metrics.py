"""Exact retrieval ranks without sorting: chunked similarity blocks, counting, both directions at once.

Protocol (NRCCR, ``util/metrics.py::eval_q2m``): queries are captions, the gallery is visual items.

* text→visual (t2v): a caption's rank is the 1-based position of its visual item among all gallery items.
* visual→text (v2t): an item's rank is the position of its *best* caption among all captions (so 1 or 5
  captions per image are handled alike). Items without any caption are distractors for t2v only.
* MedR = floor(median(rank − 1)) + 1 and MeanR = mean(rank), as NRCCR computes them; R@K in percent.
* mAP: t2v has one relevant item, AP = 1/rank; v2t is AP over all of the item's captions. mAP is a
  fraction in [0, 1] (NRCCR prints it that way), recalls are percent.

No sort is needed: a positive's rank is 1 + the number of *negatives* that beat it. The query × gallery
score matrix is built in blocks of ``chunk`` query rows (memory O(chunk × gallery)); every block feeds both
directions: its rows give the t2v counts, its columns add to the v2t counts against per-item thresholds
(the item's caption scores, sorted), which a cheap pre-pass computes. `ranks_from_scores` runs the same
counting over a score matrix that already exists.

Ties — one rule, chosen by ``ties`` (default ``"pessimistic"``): a negative scoring *equal* to the
positive is ranked before it (``>=``). This never flatters a model: a collapsed encoder that maps
everything to one vector scores rank = gallery size, not R@1 = 100 as the optimistic rule (``>``) would
claim — which matters for training validation and early stopping. ``"optimistic"`` is there to compare
with codebases that count strictly greater. Positives never compete with each other (each block's positive
entries are counted and then taken off again, exactly), so a 5-caption item is not pushed down by its own
captions.

Exactness: ranks are exact for the scores the engine computes (fp32 GEMM by default, float64 if the inputs
are float64). ``half=True`` computes scores in fp16 on CUDA / bf16 on CPU: faster, but coarser scores
create ties, which the tie rule then decides — use it for large-scale screening, not for paper tables.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from cl2cm.config.query import DEFAULT_KS  # noqa: E402,F401
from cl2cm.errors import UserError
from cl2cm.retrieval import kernels

#: How a negative that scores exactly the positive's score is ranked (see module docstring).
TIE_RULES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "pessimistic": torch.ge,  # ties count against the positive
    "optimistic": torch.gt,  # ties count for the positive
}

_CPU_BLOCK_ELEMS = 1 << 24  # 64 MB of fp32 per block on CPU
_CUDA_BLOCK_ELEMS = 1 << 28  # at least 1 GB of fp32 per block on CUDA
_CPU_TILE_ELEMS = 1 << 17  # 512 KB of fp32 per row tile: the tile and its 0/1 buffer stay in a 2 MB L2
_CPU_SMALL_PAIRS = 1 << 22  # below this many query × gallery pairs, rank on one CPU thread (see below)


@dataclass
class Ranks:
    """Per-query and per-item ranks (1-based) and APs, from which every metric follows."""

    t2v: torch.Tensor  # [Q] long: rank of each caption's visual item
    v2t: torch.Tensor  # [Gv] long: best rank of each item's captions, for items that have captions
    v2t_items: torch.Tensor  # [Gv] long: gallery index of each v2t row
    t2v_ap: torch.Tensor  # [Q] float64
    v2t_ap: torch.Tensor  # [Gv] float64
    queries: int
    gallery: int
    ties: str


def _check_inputs(query: torch.Tensor, gallery: torch.Tensor, idx: torch.Tensor) -> None:
    """User mistakes in the inputs are one-line errors, not shape tracebacks deep in a matmul."""
    if query.ndim != 2 or gallery.ndim != 2:
        raise UserError(f"embeddings must be 2-D [rows, dim]; got query {tuple(query.shape)}, "
                        f"gallery {tuple(gallery.shape)}")
    if query.shape[0] and gallery.shape[0] and query.shape[1] != gallery.shape[1]:
        raise UserError(f"dimension mismatch: queries have dimension {query.shape[1]}, "
                        f"the gallery has {gallery.shape[1]} (embeddings from different models?)")
    _check_index(idx, query.shape[0], gallery.shape[0])
    for name, t in (("query", query), ("gallery", gallery)):
        _check_finite(t, f"{name} embeddings")


def _check_index(idx: torch.Tensor, n_q: int, n_g: int) -> None:
    if n_q == 0:
        raise UserError("no queries to evaluate (empty query set)")
    if n_g == 0:
        raise UserError("no gallery items to evaluate against (empty gallery)")
    if idx.ndim != 1 or idx.shape[0] != n_q:
        raise UserError(f"{idx.shape[0] if idx.ndim == 1 else tuple(idx.shape)} gallery indices for "
                        f"{n_q} queries")
    if int(idx.min()) < 0 or int(idx.max()) >= n_g:
        bad = int(((idx < 0) | (idx >= n_g)).nonzero()[0, 0])
        raise UserError(f"query {bad} points at gallery row {int(idx[bad])}, the gallery has {n_g} rows")


def _check_finite(t: torch.Tensor, what: str) -> None:
    # the sum is a cheap screen (NaN/inf propagate); only a suspicious sum pays for the full check
    if t.is_floating_point() and not bool(torch.isfinite(t.sum())) and not bool(torch.isfinite(t).all()):
        raise UserError(f"{what} contain NaN or infinite values")


def _compute_dtype(query: torch.Tensor, device: torch.device, half: bool) -> torch.dtype:
    if half:
        return torch.float16 if device.type == "cuda" else torch.bfloat16
    return torch.float64 if query.dtype == torch.float64 else torch.float32


def default_chunk(gallery_size: int, device: torch.device) -> int:
    """Query rows per block so that one block stays within a memory budget.

    CPU: a fixed 64 MB (cache-friendly, leaves RAM to others). CUDA: at least 1 GB, up to a quarter of the
    free memory (a block and its 0/1 buffer take 8 bytes per score), so a 1M-item gallery on a large GPU
    gets thousands of rows per block instead of a few hundred.
    """
    budget = _CPU_BLOCK_ELEMS
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        budget = max(_CUDA_BLOCK_ELEMS, free // 32)
    return max(1, budget // max(1, gallery_size))


class _Scorer:
    """Score blocks (optionally NRCCR's fused score: w·minmax(native) + (1−w)·minmax(MT))."""

    def __init__(self, query: torch.Tensor, gallery: torch.Tensor, device: torch.device, dtype: torch.dtype,
                 query_mt: torch.Tensor | None, fuse_weight: float) -> None:
        self.query, self.query_mt = query, query_mt
        self.gallery_t = gallery.to(device=device, dtype=dtype).t().contiguous()
        self.device, self.dtype, self.w = device, dtype, fuse_weight

    @property
    def fused(self) -> bool:
        return self.query_mt is not None

    def _mm(self, q: torch.Tensor, rows: slice | torch.Tensor, cols: torch.Tensor | None = None) -> torch.Tensor:
        g = self.gallery_t if cols is None else self.gallery_t[:, cols]
        if isinstance(rows, torch.Tensor):
            rows = rows.to(q.device)
        return q[rows].to(device=self.device, dtype=self.dtype, non_blocking=True) @ g

    def block(self, rows: slice | torch.Tensor) -> torch.Tensor:
        s = self._mm(self.query, rows)
        if self.query_mt is None:
            return s
        return self.w * _minmax_rows(s) + (1.0 - self.w) * _minmax_rows(self._mm(self.query_mt, rows))

    def positive(self, rows: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """Scores of `rows` against their own item, computed the way `block` computes them."""
        if self.fused:  # min-max needs whole rows
            return self.block(rows).gather(1, idx[:, None]).squeeze(1)
        # A GEMM against only the needed columns: on MKL and cuBLAS (≥ 64 rows) this reproduces the block's
        # values, so exact duplicates tie as the rule says. Positives are masked out of the counts anyway, so
        # a last-bit difference could only matter for a negative within rounding of the positive.
        cols, inverse = torch.unique(idx, return_inverse=True)
        return self._mm(self.query, rows, cols).gather(1, inverse[:, None]).squeeze(1)


def _minmax_rows(s: torch.Tensor) -> torch.Tensor:
    lo = s.amin(dim=1, keepdim=True)
    span = (s.amax(dim=1, keepdim=True) - lo).clamp_min(torch.finfo(s.dtype).tiny)
    return (s - lo) / span


@contextlib.contextmanager
def _one_thread_if_small(dev: torch.device, pairs: int) -> Iterator[None]:
    """Rank a small problem (< _CPU_SMALL_PAIRS pairs: a few ms of work) on one CPU thread, then restore.

    Every op of a small ranking is too short to gain from a second thread, and on a busy machine each
    parallel region waits for a descheduled worker: 500 × 100 (the demo's test split) took ~300 ms with two
    threads at load average 4.6 and ~30 ms with one (2026-12-07). Counts are exact either way.
    """
    before = torch.get_num_threads()
    if dev.type != "cpu" or pairs >= _CPU_SMALL_PAIRS or before == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _by_item(idx_all: torch.Tensor, n_g: int) -> torch.Tensor:
    """Caption indices grouped by item, in caption order within an item (a stable argsort of the item ids).

    A stable sort has one answer; numpy gives it by radix sort when the ids fit 16 bits (0.02 ms for 5,000
    captions, against 0.2 ms for torch's stable sort of int64).
    """
    if n_g <= 1 << 16:
        return torch.from_numpy(np.argsort(idx_all.numpy().astype(np.uint16), kind="stable"))
    return torch.argsort(idx_all, stable=True)


def _validate_options(ties: str, chunk: int | None) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    if ties not in TIE_RULES:
        raise UserError(f"--ties {ties!r}: expected one of {', '.join(TIE_RULES)}")
    if chunk is not None and chunk < 1:
        raise UserError(f"--query-block {chunk}: expected a positive number of query rows")
    return TIE_RULES[ties]


def compute_ranks(
    query_emb: torch.Tensor,
    gallery_emb: torch.Tensor,
    query_gallery_idx: torch.Tensor | Sequence[int],
    *,
    chunk: int | None = None,
    device: str | torch.device = "cpu",
    half: bool = False,
    ties: str = "pessimistic",
    with_ap: bool = True,
    query_mt_emb: torch.Tensor | None = None,
    fuse_weight: float = 1.0,
    progress: Callable[[int], Any] | None = None,
    distributed: bool = False,
    kernel: str = "auto",
) -> Ranks:
    """Exact t2v and v2t ranks of captions `query_emb` [Q, D] against visual items `gallery_emb` [G, D].

    `query_gallery_idx[q]` is the gallery row of caption q's item. `chunk` query rows are scored per block
    (default: a fixed memory budget). `query_mt_emb` + `fuse_weight` w turn on NRCCR's query fusion:
    score = w·minmax(native) + (1−w)·minmax(MT), min-max per query row over the gallery. `progress(n)` is
    called with the number of query rows finished after each block. `distributed` (torchrun): this process
    scores only every WORLD_SIZE-th block and the exact counts are summed over the ranks, so every rank
    returns the ranks one process would. `kernel` counts with torch ops or the fused numba loop
    (`cl2cm.retrieval.kernels`; ``auto``: numba for large CPU rankings when installed): same ranks.
    """
    beats = _validate_options(ties, chunk)
    idx_all = torch.as_tensor(query_gallery_idx, dtype=torch.long).cpu()
    _check_inputs(query_emb, gallery_emb, idx_all)
    if query_mt_emb is not None:
        if query_mt_emb.shape != query_emb.shape:
            raise UserError(f"--fuse-translation: {tuple(query_mt_emb.shape)} MT query embeddings for "
                            f"{tuple(query_emb.shape)} native ones")
        if not 0.0 <= fuse_weight <= 1.0:
            raise UserError(f"--fuse-weight {fuse_weight}: expected a weight in [0, 1]")
    dev = torch.device(device)
    dtype = _compute_dtype(query_emb, dev, half)
    n_q, n_g = query_emb.shape[0], gallery_emb.shape[0]
    step = min(chunk or default_chunk(n_g, dev), n_q)
    with _one_thread_if_small(dev, n_q * n_g):
        scorer = _Scorer(query_emb, gallery_emb, dev, dtype, query_mt_emb, fuse_weight)
        idx_dev = idx_all.to(dev)

        # Pre-pass: every caption's score against its own item. Captions are visited grouped by item, so each
        # sub-block needs only a few gallery columns.
        pos = torch.empty(n_q, dtype=dtype, device=dev)
        by_item = _by_item(idx_all, n_g).to(dev)
        sub = step if scorer.fused else max(64, min(step, 1024))
        for lo in range(0, n_q, sub):
            rows = by_item[lo:lo + sub]
            pos[rows] = scorer.positive(rows, idx_dev[rows])
        rank, world = (dist.get_rank(), dist.get_world_size()) if distributed and dist.is_initialized() else (0, 1)
        starts = list(range(0, n_q, step))[rank::world]
        blocks = ((lo, scorer.block(slice(lo, min(lo + step, n_q)))) for lo in starts)
        return _count(blocks, pos, idx_all, n_g, step, dev, beats, ties, with_ap, progress,
                      _sum_over_ranks if world > 1 else None, kernel)


def _sum_over_ranks(x: torch.Tensor) -> torch.Tensor:
    """Sum a count tensor over the ranks (through CPU: the stage group is gloo)."""
    y = x.cpu().clone()
    dist.all_reduce(y, op=dist.ReduceOp.SUM)
    return y.to(x.device)


def ranks_from_scores(
    scores: torch.Tensor,
    query_gallery_idx: torch.Tensor | Sequence[int],
    *,
    chunk: int | None = None,
    ties: str = "pessimistic",
    with_ap: bool = True,
    kernel: str = "auto",
) -> Ranks:
    """The same ranks from a score matrix [Q, G] that is already there (read in row blocks, not modified)."""
    beats = _validate_options(ties, chunk)
    idx_all = torch.as_tensor(query_gallery_idx, dtype=torch.long).cpu()
    if scores.ndim != 2:
        raise UserError(f"scores must be a [queries, gallery] matrix, got {tuple(scores.shape)}")
    _check_index(idx_all, scores.shape[0], scores.shape[1])
    dev = scores.device
    n_q, n_g = scores.shape
    step = min(chunk or default_chunk(n_g, dev), n_q)
    idx_dev = idx_all.to(dev)
    with _one_thread_if_small(dev, n_q * n_g):
        pos = scores.gather(1, idx_dev[:, None]).squeeze(1)
        blocks = ((lo, scores[lo:lo + step]) for lo in range(0, n_q, step))
        return _count(blocks, pos, idx_all, n_g, step, dev, beats, ties, with_ap, None, None, kernel, check=True,
                      pos_in_blocks=True)


def _thresholds(pos: torch.Tensor, idx_all: torch.Tensor, per_item: torch.Tensor, n_thr: int,
                dev: torch.device) -> torch.Tensor:
    """T [n_thr, G]: each item's caption scores, best first; slots beyond an item's captions hold -inf.

    One stable sort of the integer item ids groups the captions; a sort of the small [G, most captions per
    item] table of their scores orders each item's row (values only: which caption holds a value is
    irrelevant to the counts). Padding slots are counted like the others but never read: v2t takes slot 0
    of items that have captions, and the AP only an item's own slots.
    """
    n_q, n_g = idx_all.shape[0], per_item.shape[0]
    order = _by_item(idx_all, n_g)
    item = idx_all[order]
    slot = torch.arange(n_q) - (torch.cumsum(per_item, 0) - per_item)[item]
    sort_dtype = torch.float64 if pos.dtype == torch.float64 else torch.float32  # bf16/fp16 widen exactly
    table = torch.full((n_g, int(per_item.max())), -math.inf, dtype=sort_dtype, device=dev)
    table[item.to(dev), slot.to(dev)] = pos[order.to(dev)].to(sort_dtype)
    return table.sort(dim=1, descending=True).values[:, :n_thr].t().contiguous().to(pos.dtype)


def _count(
    blocks: Iterator[tuple[int, torch.Tensor]],
    pos: torch.Tensor,
    idx_all: torch.Tensor,
    n_g: int,
    step: int,
    dev: torch.device,
    beats: Callable[..., torch.Tensor],
    ties: str,
    with_ap: bool,
    progress: Callable[[int], Any] | None,
    reduce: Callable[[torch.Tensor], torch.Tensor] | None = None,
    kernel: str = "auto",
    check: bool = False,
    pos_in_blocks: bool = False,
) -> Ranks:
    """The counting core: per-item sorted thresholds, then every block feeds t2v rows and v2t columns.

    The counts are sums over blocks, so blocks may be split over processes and `reduce` sums them. `check`:
    the blocks are the user's scores, refused if not finite (the fused kernel checks in its own pass).
    `pos_in_blocks`: `pos` was read from these very blocks, so a block's positives need no second gather."""
    n_q = idx_all.shape[0]
    fused = kernels.choose(kernel, n_q * n_g, pos.dtype, dev)  # one compiled pass instead of 1 + n_thr
    idx_dev = idx_all.to(dev)
    per_item = torch.bincount(idx_all, minlength=n_g)
    n_thr = int(per_item.max()) if with_ap else 1
    thresholds = _thresholds(pos, idx_all, per_item, n_thr, dev)

    # Comparisons are written as 0/1 into a float buffer and summed: several times faster than summing
    # bools, and exact (integers below 2**24 in fp32; fp64 beyond). On CPU the 1 + n_thr compare passes run
    # on row tiles of the block small enough (_CPU_TILE_ELEMS) that the tile and its buffer stay in cache
    # between passes; the block itself is read from memory once (6 passes over 64 MB blocks were 2.3x
    # slower). Sums go straight to their place (`out=`), one reduction per tile and threshold, no temporaries.
    # A block's own positive entries are compared too and their contribution taken off again (O(rows)), so
    # the block is only read: positives never count as beating a positive.
    count_dtype = torch.float32 if max(step, n_g) < 2**24 else torch.float64
    threads = kernels.default_threads()
    tile = step if dev.type == "cuda" or fused else max(1, min(step, _CPU_TILE_ELEMS // n_g))
    hit = torch.empty((0 if fused else tile, n_g), dtype=count_dtype, device=dev)
    parts = torch.empty((0 if fused else -(-step // tile), n_thr, n_g), dtype=count_dtype, device=dev)
    t2v_hits = torch.zeros(n_q, dtype=count_dtype, device=dev)  # rows of other ranks' blocks stay 0
    v2t_beaten = torch.zeros((n_thr, n_g), dtype=torch.long, device=dev)
    thr_rows = torch.arange(0, n_thr * n_g, n_g, device=dev)[:, None]

    def count_torch(s: torch.Tensor, p: torch.Tensor, own: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(per row, per threshold and item) negatives that beat it, with 1 + n_thr passes per tile."""
        row_hits = torch.empty(s.shape[0], dtype=count_dtype, device=dev)
        n_tiles = 0
        for a in range(0, s.shape[0], tile):
            st = s[a:a + tile]
            n = st.shape[0]
            b = hit[:n]
            torch.sum(beats(st, p[a:a + n], out=b), 1, out=row_hits[a:a + n])
            for k in range(n_thr):
                torch.sum(beats(st, thresholds[k, None, :], out=b), 0, out=parts[n_tiles, k])
            n_tiles += 1
        row_hits -= beats(p, p).squeeze(1).to(count_dtype)  # the positive against itself
        col = parts[0] if n_tiles == 1 else parts[:n_tiles].sum(0)
        flat = (own[None, :] + thr_rows).view(-1)  # (threshold, own item) as one index: a 1-D index_add
        col.view(-1).index_add_(0, flat, beats(p.t(), thresholds[:, own]).to(count_dtype).view(-1), alpha=-1)
        return row_hits, col.long()

    for lo, s in blocks:
        hi = lo + s.shape[0]
        own = idx_dev[lo:hi]
        # the t2v threshold straight from this block: rows are self-consistent
        p = pos[lo:hi, None] if pos_in_blocks else s.gather(1, own[:, None])
        if fused:
            row_hits, col_hits, finite = kernels.count_block(s, p, own, thresholds, ties == "optimistic", threads)
            if check and not finite:
                _check_finite(s, "scores")
        else:
            if check:
                _check_finite(s, "scores")
            row_hits, col_hits = count_torch(s, p, own)
        t2v_hits[lo:hi] = row_hits
        v2t_beaten += col_hits
        if progress is not None:
            progress(hi - lo)
    t2v_beaten = t2v_hits.long()
    if reduce is not None:
        t2v_beaten, v2t_beaten = reduce(t2v_beaten), reduce(v2t_beaten)
    v2t_beaten = v2t_beaten.t()

    t2v = (t2v_beaten + 1).cpu()
    items = (per_item > 0).nonzero().squeeze(1)
    beaten = v2t_beaten.cpu()[items]
    v2t = beaten[:, 0] + 1
    if with_ap:
        pos_no = torch.arange(1, n_thr + 1, dtype=torch.float64)[None, :]
        valid = pos_no <= per_item[items, None]
        prec = torch.where(valid, pos_no / (pos_no + beaten.double()), torch.zeros((), dtype=torch.float64))
        v2t_ap = prec.sum(1) / per_item[items].double()
    else:
        v2t_ap = torch.full((len(items),), math.nan, dtype=torch.float64)
    return Ranks(t2v=t2v, v2t=v2t, v2t_items=items, t2v_ap=1.0 / t2v.double(), v2t_ap=v2t_ap,
                 queries=n_q, gallery=n_g, ties=ties)


def direction_metrics(ranks: torch.Tensor, ap: torch.Tensor, ks: Sequence[int] = DEFAULT_KS) -> dict[str, float]:
    """R@K (percent), MedR, MeanR and mAP of one direction, NRCCR's formulas."""
    r = ranks.double().numpy()
    n = len(r)
    out: dict[str, float] = {f"R@{k}": float(100.0 * (np.count_nonzero(r <= k) / n)) for k in _ks(ks)}
    out["MedR"] = float(np.floor(_median(r - 1)) + 1)
    out["MeanR"] = float(np.add.reduce(r) / n)  # = np.mean: the same pairwise sum, one division
    out["mAP"] = float(ap.double().mean())
    return out


def _median(x: np.ndarray) -> float:
    """`np.median` of a non-empty NaN-free array, the same value (the two middle elements' mean), without
    its NaN check, which imports `numpy.ma` (~20 ms of a small eval's start-up)."""
    half = len(x) // 2
    if len(x) % 2:
        return float(np.partition(x, half)[half])
    part = np.partition(x, (half - 1, half))
    return float((part[half - 1] + part[half]) / 2)


def _ks(ks: Sequence[int]) -> list[int]:
    if not ks or any(int(k) < 1 for k in ks):
        raise UserError(f"--recall-at {list(ks)}: recall cut-offs must be positive integers")
    return sorted({int(k) for k in ks} | set(DEFAULT_KS))


def retrieval_metrics(ranks: Ranks, ks: Sequence[int] = DEFAULT_KS) -> dict[str, Any]:
    """The metrics JSON: ``{"t2v": {...}, "v2t": {...}, "SumR", "queries", "gallery"}``.

    R@1, R@5 and R@10 are always present (SumR needs them); further cut-offs in `ks` add R@K keys (a
    cut-off beyond the gallery size is a user error).
    """
    too_big = [k for k in ks if int(k) > ranks.gallery and int(k) not in DEFAULT_KS]
    if too_big:  # the standard 1/5/10 stay defined (saturated) on a tiny gallery, as in NRCCR
        raise UserError(f"--recall-at {too_big[0]} is larger than the gallery ({ranks.gallery} items)")
    t2v = direction_metrics(ranks.t2v, ranks.t2v_ap, ks)
    v2t = direction_metrics(ranks.v2t, ranks.v2t_ap, ks)
    sumr = sum(d[f"R@{k}"] for d in (t2v, v2t) for k in DEFAULT_KS)
    return {"t2v": t2v, "v2t": v2t, "SumR": float(sumr), "queries": ranks.queries, "gallery": ranks.gallery}


#: Decimals a metric means, decided once for every output (eval JSON, results.json, cl2cm.evaluate, tables):
#: percentages and ranks (R@K, SumR, MedR, MeanR) to 2, mAP (a 0-1 fraction) to 4. R@K over N queries moves
#: in steps of 100/N, so 2 decimals keep every step up to 10,000 queries and drop only float noise
#: (57.599999999999994 → 57.6); finer differences are far inside any seed spread.
METRIC_DECIMALS: dict[str, int] = {"mAP": 4}
DEFAULT_DECIMALS = 2


def rounded(metrics: dict[str, Any]) -> dict[str, Any]:
    """`metrics` (sections nested) with every float rounded to its `METRIC_DECIMALS`; ints and text as is."""
    out: dict[str, Any] = {}
    for key, value in metrics.items():
        if isinstance(value, dict):
            out[key] = rounded(value)
        elif isinstance(value, float):
            out[key] = round(value, METRIC_DECIMALS.get(key, DEFAULT_DECIMALS))
        else:
            out[key] = value
    return out


def mean_over_languages(sections: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The ``"mean"`` section of a several-language eval: every metric averaged over the languages.

    Unweighted: each language counts once, whatever its number of queries (a small language is not
    outweighed). ``queries`` is the total, ``gallery`` the shared gallery's size, ``languages`` the codes.
    """
    if not sections:
        raise ValueError("no language sections to average")
    first = next(iter(sections.values()))
    n = len(sections)
    mean: dict[str, Any] = {d: {k: sum(s[d][k] for s in sections.values()) / n for k in first[d]}
                            for d in ("t2v", "v2t")}
    mean["SumR"] = sum(s["SumR"] for s in sections.values()) / n
    mean["queries"] = sum(s["queries"] for s in sections.values())
    mean["gallery"] = first["gallery"]
    mean["languages"] = list(sections)
    return mean


def recall_curve(ranks: torch.Tensor, max_k: int) -> np.ndarray:
    """R@K in percent for K = 1..max_k (one pass over the ranks; for plots)."""
    hist = np.bincount(np.minimum(ranks.numpy(), max_k + 1), minlength=max_k + 2)[1:max_k + 1]
    return 100.0 * np.cumsum(hist) / max(1, len(ranks))


def gallery_index(query_items: Sequence[str], gallery_ids: Sequence[str], *, query_name: str = "queries",
                  gallery_name: str = "gallery") -> torch.Tensor:
    """Map each query's visual id to its gallery row; unknown ids and duplicate gallery ids are errors."""
    rows: dict[str, int] = {}
    for i, g in enumerate(gallery_ids):
        if g in rows:
            raise UserError(f"{gallery_name}: duplicate id {g!r} (rows {rows[g]} and {i})")
        rows[g] = i
    missing = [q for q in query_items if q not in rows]
    if missing:
        raise UserError(f"{len(missing)} of {len(query_items)} {query_name} have no row in {gallery_name} "
                        f"(first: {missing[0]!r})")
    return torch.tensor([rows[q] for q in query_items], dtype=torch.long)


def evaluate_text_to_visual(
    query_emb: torch.Tensor,
    query_items: Sequence[str],
    gallery_emb: torch.Tensor,
    gallery_ids: Sequence[str],
    *,
    ks: Sequence[int] = DEFAULT_KS,
    **kwargs: Any,
) -> tuple[dict[str, Any], Ranks]:
    """Metrics from embeddings + each caption's visual id + gallery ids (training validation's one call).

    Keyword arguments go to `compute_ranks` (chunk, device, half, ties, query_mt_emb, fuse_weight, ...).
    """
    if len(query_items) != query_emb.shape[0]:
        raise UserError(f"{len(query_items)} visual ids for {query_emb.shape[0]} query embeddings")
    if len(gallery_ids) != gallery_emb.shape[0]:
        raise UserError(f"{len(gallery_ids)} gallery ids for {gallery_emb.shape[0]} gallery embeddings")
    idx = gallery_index(query_items, gallery_ids)
    ranks = compute_ranks(query_emb, gallery_emb, idx, **kwargs)
    return retrieval_metrics(ranks, ks), ranks

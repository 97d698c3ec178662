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
(the item's caption scores, sorted), which a cheap pre-pass computes.

Ties — one rule, chosen by ``ties`` (default ``"pessimistic"``): a negative scoring *equal* to the
positive is ranked before it (``>=``). This never flatters a model: a collapsed encoder that maps
everything to one vector scores rank = gallery size, not R@1 = 100 as the optimistic rule (``>``) would
claim — which matters for training validation and early stopping. ``"optimistic"`` is there to compare
with codebases that count strictly greater. Positives never compete with each other (the positive entries
of each block are masked out before counting), so a 5-caption item is not pushed down by its own captions.

Exactness: ranks are exact for the scores the engine computes (fp32 GEMM by default, float64 if the inputs
are float64). ``half=True`` computes scores in fp16 on CUDA / bf16 on CPU: faster, but coarser scores
create ties, which the tie rule then decides — use it for large-scale screening, not for paper tables.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from cl2cm.errors import UserError

DEFAULT_KS = (1, 5, 10)

#: How a negative that scores exactly the positive's score is ranked (see module docstring).
TIE_RULES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "pessimistic": torch.ge,  # ties count against the positive
    "optimistic": torch.gt,  # ties count for the positive
}

_CPU_BLOCK_ELEMS = 1 << 24  # 64 MB of fp32 per block on CPU
_CUDA_BLOCK_ELEMS = 1 << 28  # 1 GB of fp32 per block on CUDA


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
    if query.shape[0] == 0:
        raise UserError("no queries to evaluate (empty query set)")
    if gallery.shape[0] == 0:
        raise UserError("no gallery items to evaluate against (empty gallery)")
    if query.shape[1] != gallery.shape[1]:
        raise UserError(f"dimension mismatch: queries have dimension {query.shape[1]}, "
                        f"the gallery has {gallery.shape[1]} (embeddings from different models?)")
    if idx.ndim != 1 or idx.shape[0] != query.shape[0]:
        raise UserError(f"{idx.shape[0] if idx.ndim == 1 else tuple(idx.shape)} gallery indices for "
                        f"{query.shape[0]} queries")
    if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= gallery.shape[0]):
        bad = int(((idx < 0) | (idx >= gallery.shape[0])).nonzero()[0, 0])
        raise UserError(f"query {bad} points at gallery row {int(idx[bad])}, the gallery has "
                        f"{gallery.shape[0]} rows")
    for name, t in (("query", query), ("gallery", gallery)):
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise UserError(f"{name} embeddings contain NaN or infinite values")


def _compute_dtype(query: torch.Tensor, device: torch.device, half: bool) -> torch.dtype:
    if half:
        return torch.float16 if device.type == "cuda" else torch.bfloat16
    return torch.float64 if query.dtype == torch.float64 else torch.float32


def default_chunk(gallery_size: int, device: torch.device) -> int:
    """Query rows per block so that one block stays within a fixed memory budget."""
    budget = _CUDA_BLOCK_ELEMS if device.type == "cuda" else _CPU_BLOCK_ELEMS
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

    def _mm(self, q: torch.Tensor, lo: int, hi: int, cols: torch.Tensor | None = None) -> torch.Tensor:
        g = self.gallery_t if cols is None else self.gallery_t[:, cols]
        return q[lo:hi].to(device=self.device, dtype=self.dtype, non_blocking=True) @ g

    def block(self, lo: int, hi: int) -> torch.Tensor:
        s = self._mm(self.query, lo, hi)
        if self.query_mt is None:
            return s
        return self.w * _minmax_rows(s) + (1.0 - self.w) * _minmax_rows(self._mm(self.query_mt, lo, hi))

    def positive(self, lo: int, hi: int, idx: torch.Tensor) -> torch.Tensor:
        """Scores of rows lo:hi against their own item, computed the way `block` computes them."""
        if self.fused:  # min-max needs whole rows
            return self.block(lo, hi).gather(1, idx[:, None]).squeeze(1)
        # Same rows (same M) against only the needed columns: on MKL and cuBLAS this reproduces the block's
        # values; positives are masked out of the counts anyway, so a last-bit difference can only matter
        # for a negative within rounding of the positive.
        cols, inverse = torch.unique(idx, return_inverse=True)
        return self._mm(self.query, lo, hi, cols).gather(1, inverse[:, None]).squeeze(1)


def _minmax_rows(s: torch.Tensor) -> torch.Tensor:
    lo = s.amin(dim=1, keepdim=True)
    span = (s.amax(dim=1, keepdim=True) - lo).clamp_min(torch.finfo(s.dtype).tiny)
    return (s - lo) / span


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
) -> Ranks:
    """Exact t2v and v2t ranks of captions `query_emb` [Q, D] against visual items `gallery_emb` [G, D].

    `query_gallery_idx[q]` is the gallery row of caption q's item. `chunk` query rows are scored per block
    (default: a fixed memory budget). `query_mt_emb` + `fuse_weight` w turn on NRCCR's query fusion:
    score = w·minmax(native) + (1−w)·minmax(MT), min-max per query row over the gallery. `progress(n)` is
    called with the number of query rows finished after each block.
    """
    if ties not in TIE_RULES:
        raise UserError(f"--ties {ties!r}: expected one of {', '.join(TIE_RULES)}")
    beats = TIE_RULES[ties]
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
    if chunk is not None and chunk < 1:
        raise UserError(f"--chunk {chunk}: expected a positive number of query rows")
    step = min(chunk or default_chunk(n_g, dev), n_q)
    scorer = _Scorer(query_emb, gallery_emb, dev, dtype, query_mt_emb, fuse_weight)
    idx_dev = idx_all.to(dev)

    # Pre-pass: every caption's score against its own item → per-item sorted thresholds T [G, K].
    pos = torch.empty(n_q, dtype=dtype, device=dev)
    for lo in range(0, n_q, step):
        hi = min(lo + step, n_q)
        pos[lo:hi] = scorer.positive(lo, hi, idx_dev[lo:hi])
    per_item = torch.bincount(idx_all, minlength=n_g)
    n_thr = int(per_item.max()) if with_ap else 1
    order = torch.argsort(pos.float().cpu() if dtype != torch.float64 else pos.cpu(), descending=True,
                          stable=True)
    order = order[torch.argsort(idx_all[order], stable=True)]  # grouped by item, best caption first
    starts = torch.cumsum(per_item, 0) - per_item
    slot = torch.arange(n_q) - starts[idx_all[order]]
    keep = slot < n_thr
    thresholds = torch.full((n_g, n_thr), math.inf, dtype=dtype, device=dev)
    thresholds[idx_dev[order[keep].to(dev)], slot[keep].to(dev)] = pos[order[keep].to(dev)]

    # Main pass: one block per query chunk, both directions.
    t2v_beaten = torch.empty(n_q, dtype=torch.long, device=dev)
    v2t_beaten = torch.zeros((n_g, n_thr), dtype=torch.long, device=dev)
    for lo in range(0, n_q, step):
        hi = min(lo + step, n_q)
        s = scorer.block(lo, hi)
        own = idx_dev[lo:hi, None]
        p = s.gather(1, own)  # t2v threshold straight from this block: rows are self-consistent
        s.scatter_(1, own, -math.inf)  # positives never count as beating a positive
        t2v_beaten[lo:hi] = beats(s, p).sum(1)
        for k in range(n_thr):
            v2t_beaten[:, k] += beats(s, thresholds[None, :, k]).sum(0)
        if progress is not None:
            progress(hi - lo)

    t2v = (t2v_beaten + 1).cpu()
    has = per_item > 0
    items = has.nonzero().squeeze(1)
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
    out: dict[str, float] = {f"R@{k}": float(100.0 * np.mean(r <= k)) for k in _ks(ks)}
    out["MedR"] = float(np.floor(np.median(r - 1)) + 1)
    out["MeanR"] = float(np.mean(r))
    out["mAP"] = float(ap.double().mean())
    return out


def _ks(ks: Sequence[int]) -> list[int]:
    if not ks or any(int(k) < 1 for k in ks):
        raise UserError(f"--k {list(ks)}: recall cut-offs must be positive integers")
    return sorted({int(k) for k in ks} | set(DEFAULT_KS))


def retrieval_metrics(ranks: Ranks, ks: Sequence[int] = DEFAULT_KS) -> dict[str, Any]:
    """The metrics JSON: ``{"t2v": {...}, "v2t": {...}, "SumR", "queries", "gallery"}``.

    R@1, R@5 and R@10 are always present (SumR needs them); further cut-offs in `ks` add R@K keys (a
    cut-off beyond the gallery size is a user error).
    """
    too_big = [k for k in ks if int(k) > ranks.gallery and int(k) not in DEFAULT_KS]
    if too_big:  # the standard 1/5/10 stay defined (saturated) on a tiny gallery, as in NRCCR
        raise UserError(f"--k {too_big[0]} is larger than the gallery ({ranks.gallery} items)")
    t2v = direction_metrics(ranks.t2v, ranks.t2v_ap, ks)
    v2t = direction_metrics(ranks.v2t, ranks.v2t_ap, ks)
    sumr = sum(d[f"R@{k}"] for d in (t2v, v2t) for k in DEFAULT_KS)
    return {"t2v": t2v, "v2t": v2t, "SumR": float(sumr), "queries": ranks.queries, "gallery": ranks.gallery}


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

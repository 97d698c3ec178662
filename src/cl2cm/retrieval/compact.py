"""Exact top-k with less memory traffic: a bounded first pass over a compact gallery, then exact rescoring.

Why: one query against 1M rows × 128 reads 512 MB of fp32 per query; the matrix-vector product is limited
by memory, not arithmetic. A copy of the gallery in int8 with a per-row scale (D + 2 bytes a row, CPU) or
fp16 (2·D bytes, CUDA) is read instead, and the few rows that could be in the top-k are rescored.

How it stays exact. Each row's *exact score* is one fixed function of (query, row): the D products in
float64 (exact for fp32 inputs), summed by a fixed pairwise tree, rounded once to fp32 (`exact_scores`).
It does not depend on where the row sits, how the gallery is chunked, the GEMM kernel or the device —
a BLAS GEMM does not have that property (MKL gives a row a different last bit in a 65-row block than in a
64-row one), so before this, exact duplicates in different chunks could score differently.
The first pass computes an approximation `a` of every row's score with a bound ``|exact − a| ≤ E + r·|a|``
(`Bound`, derived below); the k-th largest lower bound ``L_k`` is at most the true k-th score, so every
row of the true top-k — and every row tied with its k-th — has upper bound ≥ ``L_k``. Those candidates are
rescored exactly and sorted (score descending, gallery index ascending): the result is the first k of a
stable sort of all exact scores, whichever first pass ran. The plain fp32 first pass uses the same rule
(E is then a few fp32 ulps), so "compact" and "exact" return identical results by construction.

The bound, for a query q (fp32), row g (fp32), first-pass inputs q̃ and g̃ (the compact row, dequantised):
``|q·g − q·g̃| ≤ ‖q‖·ε`` with ε = max over rows of ‖g − g̃‖₂ (measured when the copy is built);
``|q·g̃ − q̃·g̃| ≤ ‖q − q̃‖·max‖g̃‖``; the kernel's fp32 accumulation, in any order, adds at most
``γ_{D+1}·‖q̃‖·max‖g̃‖`` (γ_n = n·u/(1 − n·u), u = 2⁻²⁴); rounding its output to bf16/fp16 adds
``r·|a|`` (r = 2⁻⁸ / 2⁻¹⁰); the exact score itself is within ``(2⁻²⁴ + D·2⁻⁵²)·‖q‖·max‖g‖`` of q·g.
E is their sum, inflated for the fp32 arithmetic that evaluates the bounds. The kernels' fp32
accumulation is an assumption about torch's `_weight_int8pack_mm` (CPU) and cuBLAS with reduced-precision
reductions switched off; tests/retrieval/test_compact.py checks it (a bf16 accumulator fails them).

Memory per row (D = dimension): fp32 only 4·D bytes; with the int8 copy 4·D + D' + 2 bytes, D' = D rounded up
to a multiple of 64 (the fp32 rows stay for rescoring); with the fp16 copy 6·D bytes. The default is the fp32 first pass (`choose_codec`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from cl2cm.errors import UserError

U32 = 2.0 ** -24  # fp32 unit roundoff
_PAIRS_PER_BLOCK = 1 << 22  # float64 products per rescoring block (32 MB)
CASCADE_MIN = 256  # compact candidates per query beyond which an fp32 screen runs before exact scoring
INT8_PAD = 64  # the int8 codes' width is a multiple of this: every CPU vector width torch's kernel assumes
INT8_MAX_QUERIES = 2  # more queries per call: the fp32 GEMM first pass is faster than the int8 kernel


def exact_scores(q: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """Exact scores of pairs: q [P, D] · rows [P, D] → [P] fp32, the same value wherever a row sits.

    The products are exact in float64; a fixed pairwise tree sums them (elementwise adds only, so no kernel
    or device chooses the order); one rounding to fp32 at the end.
    """
    out = torch.empty(q.shape[0], dtype=torch.float32, device=q.device)
    d = q.shape[1]
    width = 1 << max(0, (d - 1).bit_length())
    step = max(1, _PAIRS_PER_BLOCK // width)
    for lo in range(0, q.shape[0], step):
        p = q[lo:lo + step].double() * rows[lo:lo + step].double()
        if width != d:
            p = torch.nn.functional.pad(p, (0, width - d))
        while p.shape[1] > 1:
            p = p[:, 0::2] + p[:, 1::2]
        out[lo:lo + step] = p[:, 0].float()
    return out


@dataclass(frozen=True)
class Bound:
    """``|exact − a| ≤ abs + rel·|a|`` for every row of a first pass ``a``; `abs` is per query [Q]."""

    abs: torch.Tensor
    rel: float


class PreparedGallery:
    """fp32 rows (the exact scores' input) + the first pass that screens them (fp32, int8 or fp16).

    Built once per gallery (the statistics read every row); `top_k` takes it instead of the raw tensor.
    """

    def __init__(self, rows: torch.Tensor, codec: str = "fp32") -> None:
        if rows.ndim != 2:
            raise UserError(f"gallery embeddings must be 2-D [rows, dim], got {tuple(rows.shape)}")
        if codec not in CODECS:
            raise UserError(f"--compact {codec!r}: expected one of auto, off, {', '.join(CODECS)}")
        self.rows = rows if rows.dtype == torch.float32 else rows.float()
        if rows.shape[0] and not bool(torch.isfinite(self.rows.sum())) and not bool(torch.isfinite(self.rows).all()):
            raise UserError("gallery embeddings contain NaN or infinite values")
        self.codec = codec
        self.dim = rows.shape[1]
        self.norm = _max_norm(self.rows)
        self._state: dict[str, Any] = CODECS[codec].build(self.rows) if rows.shape[0] else {}

    def __len__(self) -> int:
        return self.rows.shape[0]

    @property
    def device(self) -> torch.device:
        return self.rows.device

    def bytes_per_row(self) -> int:
        """Memory held per gallery row: the fp32 rows plus the compact copy."""
        extra = sum(t.element_size() * t[0].numel() for t in self._state.values() if isinstance(t, torch.Tensor)
                    and t.ndim >= 1 and t.shape[0] == len(self))
        return 4 * self.dim + extra

    def first_pass(self, q: torch.Tensor, lo: int, hi: int) -> tuple[torch.Tensor, Bound]:
        """Approximate scores [Q, hi − lo] of rows lo..hi and their bound.

        The CPU int8 kernel is a matrix-vector kernel (8 queries took 4× one): many queries at once go
        through the fp32 GEMM instead — exact either way."""
        codec = "fp32" if self.codec == "int8" and q.shape[0] > INT8_MAX_QUERIES else self.codec
        return CODECS[codec].scores(self._state, self.rows, q, lo, hi, self.norm)


def _max_norm(x: torch.Tensor, chunk: int = 1 << 16) -> float:
    """Largest row norm, read in chunks; fp32 norms are within (D + 2)·u of exact, so rounded up by more."""
    m = 0.0
    for lo in range(0, x.shape[0], chunk):
        m = max(m, float(torch.linalg.vector_norm(x[lo:lo + chunk], dim=1).max()))
    return m * (1 + (x.shape[1] + 4) * U32 * 2)


def _bound(q: torch.Tensor, q_tilde: torch.Tensor, eps: float, norm_tilde: float, norm: float, rel: float
           ) -> Bound:
    """E per query (module docstring), inflated for evaluating L = a − E − r|a| and U in fp32."""
    d = q.shape[1]
    qd, qtd = q.double(), q_tilde.double()
    qn, qtn = qd.norm(dim=1), qtd.norm(dim=1)
    gamma = (d + 1) * U32 / (1 - (d + 1) * U32)
    e = (qn * eps + (qd - qtd).norm(dim=1) * norm_tilde + gamma * qtn * norm_tilde
         + (U32 + d * 2.0 ** -52) * qn * norm)
    # fp32 evaluation of a ± (E + r|a|) and the comparisons: a few ulps of the largest magnitudes involved
    e = e * (1 + 2.0 ** -8) + 2.0 ** -20 * (qn * max(norm, norm_tilde) + e) + 1e-30
    return Bound(abs=e.float().to(q.device), rel=rel * (1 + 2.0 ** -8))


class _Fp32:
    """No copy: the first pass is the fp32 GEMM (TF32 off), E a few ulps."""

    @staticmethod
    def build(rows: torch.Tensor) -> dict[str, Any]:
        return {}

    @staticmethod
    def scores(state: dict[str, Any], rows: torch.Tensor, q: torch.Tensor, lo: int, hi: int, norm: float
               ) -> tuple[torch.Tensor, Bound]:
        with _no_reduced_precision():
            a = q @ rows[lo:hi].T
        return a, _bound(q, q, 0.0, norm, norm, 0.0)


class _Int8:
    """int8 codes with a per-row bf16 scale; scored by torch's int8 weight-only kernel (bf16 in, fp32 sums)."""

    @staticmethod
    def build(rows: torch.Tensor, chunk: int = 1 << 16) -> dict[str, Any]:
        n, d = rows.shape
        # torch's CPU kernel reads out of bounds unless the dimension is a multiple of its vector width (8 on
        # AVX2; 16 on AVX-512, where 8 + 16j segfaults or returns garbage): zero-pad to INT8_PAD
        codes = torch.zeros((n, -(-d // INT8_PAD) * INT8_PAD), dtype=torch.int8, device=rows.device)
        scale = torch.empty(n, dtype=torch.bfloat16, device=rows.device)
        eps = norm_tilde = 0.0
        for lo in range(0, n, chunk):  # fp32 throughout (float64 took 79 s for 1M × 128 on a loaded CPU)
            g = rows[lo:lo + chunk]
            s = g.abs().amax(dim=1) / 127
            s = torch.where(s > 0, s, torch.ones_like(s))
            sb = (s * (1 + 2.0 ** -7)).bfloat16()  # ≥ max|g|/127 despite fp32 rounding: |g / sb| ≤ 127
            c = torch.round(g / sb.float()[:, None]).clamp_(-127, 127)
            deq = c * sb.float()[:, None]  # exact: 8-bit code × 8-bit mantissa
            eps = max(eps, float(torch.linalg.vector_norm(g - deq, dim=1).max()))
            norm_tilde = max(norm_tilde, float(torch.linalg.vector_norm(deq, dim=1).max()))
            codes[lo:lo + chunk, :d], scale[lo:lo + chunk] = c.to(torch.int8), sb
        # the fp32 subtraction and norms are within (D + 2)·u of exact: round the maxima up by more
        up = 1 + (d + 4) * U32 * 2
        return {"codes": codes, "scale": scale, "eps": eps * up, "norm_tilde": norm_tilde * up}

    @staticmethod
    def scores(state: dict[str, Any], rows: torch.Tensor, q: torch.Tensor, lo: int, hi: int, norm: float
               ) -> tuple[torch.Tensor, Bound]:
        qb = q.bfloat16()
        codes = state["codes"]
        qp = torch.nn.functional.pad(qb, (0, codes.shape[1] - q.shape[1])) if codes.shape[1] != q.shape[1] else qb
        a = torch._weight_int8pack_mm(qp, codes[lo:hi], state["scale"][lo:hi]).float()
        return a, _bound(q, qb.float(), state["eps"], state["norm_tilde"], norm, 2.0 ** -8)


class _Fp16:
    """An fp16 copy scored by an fp16 GEMM with fp32 accumulation (tensor cores on CUDA)."""

    @staticmethod
    def build(rows: torch.Tensor, chunk: int = 1 << 16) -> dict[str, Any]:
        if _max_abs(rows) > 60000:
            raise UserError("--compact fp16: gallery values exceed fp16's range (use int8 or off)")
        half = rows.half()
        eps = norm_tilde = 0.0
        for lo in range(0, rows.shape[0], chunk):
            h = half[lo:lo + chunk].float()
            eps = max(eps, float(torch.linalg.vector_norm(rows[lo:lo + chunk] - h, dim=1).max()))
            norm_tilde = max(norm_tilde, float(torch.linalg.vector_norm(h, dim=1).max()))
        up = 1 + (rows.shape[1] + 4) * U32 * 2  # fp32 subtraction and norms, as for int8
        return {"half": half, "eps": eps * up, "norm_tilde": norm_tilde * up}

    @staticmethod
    def scores(state: dict[str, Any], rows: torch.Tensor, q: torch.Tensor, lo: int, hi: int, norm: float
               ) -> tuple[torch.Tensor, Bound]:
        qh = q.half()
        with _no_reduced_precision():
            a = (qh @ state["half"][lo:hi].T).float()
        b = _bound(q, qh.float(), state["eps"], state["norm_tilde"], norm, 2.0 ** -10)
        return a, Bound(abs=b.abs + 2.0 ** -23, rel=b.rel)  # fp16 subnormal outputs: absolute 2⁻²⁵


def _max_abs(x: torch.Tensor, chunk: int = 1 << 16) -> float:
    return max((float(x[lo:lo + chunk].abs().max()) for lo in range(0, x.shape[0], chunk)), default=0.0)


class _no_reduced_precision:
    """cuBLAS: fp32 accumulation for fp16/bf16 GEMMs and no TF32 for fp32 ones, while scoring."""

    def __enter__(self) -> None:
        m = torch.backends.cuda.matmul
        self.saved = (m.allow_tf32, m.allow_fp16_reduced_precision_reduction,
                      m.allow_bf16_reduced_precision_reduction)
        m.allow_tf32 = False
        m.allow_fp16_reduced_precision_reduction = False
        m.allow_bf16_reduced_precision_reduction = False

    def __exit__(self, *exc: object) -> None:
        m = torch.backends.cuda.matmul
        (m.allow_tf32, m.allow_fp16_reduced_precision_reduction,
         m.allow_bf16_reduced_precision_reduction) = self.saved


#: --compact NAME → the first pass (all exact: the codec only changes the speed and the memory).
CODECS: dict[str, type] = {"fp32": _Fp32, "int8": _Int8, "fp16": _Fp16}


def int8_kernel_available() -> bool:
    """torch's int8 weight-only matmul (private API: probed, not assumed)."""
    try:
        out = torch._weight_int8pack_mm(torch.ones(1, INT8_PAD, dtype=torch.bfloat16),
                                        torch.ones(8, INT8_PAD, dtype=torch.int8), torch.ones(8, dtype=torch.bfloat16))
        return bool(torch.all(out.float() == INT8_PAD))
    except (AttributeError, RuntimeError, NotImplementedError):
        return False


def choose_codec(compact: str, rows: int, device: torch.device) -> str:
    """`--compact auto|off|int8|fp16` → the codec. Every codec gives the exact answer; "auto" is fp32.

    Why not int8 by default: on real student embeddings of 50,000 generated demo scenes (clustered, many
    near-duplicates) the int8 bound kept thousands of candidates and p50 was 1,038 ms against 58 ms for the
    fp32 pass (docs/performance.md); on random rows int8 was 2-2.7× faster. Opt in where the gallery's
    scores are spread out.
    """
    if compact in ("off", "auto"):
        return "fp32"
    if compact not in CODECS:
        raise UserError(f"--compact {compact!r}: expected one of auto, off, {', '.join(CODECS)}")
    if compact == "int8" and device.type != "cpu":
        raise UserError("--compact int8 runs on CPU only (use fp16 on CUDA)")
    if compact == "int8" and not int8_kernel_available():
        raise UserError("--compact int8: this torch has no int8 weight-only matmul (use off)")
    return compact


def _threshold(kth: torch.Tensor, b: Bound) -> torch.Tensor:
    """[Q] fp32 t: every row whose upper bound reaches the k-th best lower bound has first-pass score ≥ t.

    L(a) = a − E − r|a| and U(a) = a + E + r|a| grow with a, so the k-th largest lower bound is L of the
    k-th largest a, and U(a) ≥ L_k solves to a ≥ t; computed in float64, rounded down to fp32.
    """
    a, e, r = kth.double(), b.abs.double(), b.rel
    lk = a - e - r * a.abs()
    need = lk - e
    t = torch.where(need >= 0, need / (1 + r), need / (1 - r))
    t = torch.where(torch.isinf(a), a, t)  # fewer than k rows seen yet: keep everything (0·inf is NaN)
    t32 = t.float()
    return torch.where(t32.double() > t, torch.nextafter(t32, torch.full_like(t32, -math.inf)), t32)


def _fp32_screen(gallery: PreparedGallery, q: torch.Tensor, qi: torch.Tensor, gi: torch.Tensor, k: int
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """Prune many compact-pass candidates with fp32 scores (bound: a few ulps) before the exact scoring.

    On clustered galleries the compact bound keeps thousands of rows; their fp32 dot products (any
    summation order is within the `_Fp32` bound) cut that to the rows near the k-th, the same argument again.
    """
    a = (q[qi] * gallery.rows[gi]).sum(-1)
    b = _bound(q, q, 0.0, gallery.norm, gallery.norm, 0.0)
    order = torch.argsort(a, descending=True, stable=True)
    order = order[torch.argsort(qi[order], stable=True)]  # grouped by query, best first
    counts = torch.bincount(qi, minlength=q.shape[0])
    first = torch.cumsum(counts, 0) - counts
    kth = a[order[first + k - 1]]
    keep = a >= _threshold(kth, b)[qi]
    return qi[keep], gi[keep]


def top_k_prepared(gallery: PreparedGallery, query: torch.Tensor, k: int, *, chunk: int = 65536
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """(exact scores [Q, k], indices [Q, k]): the first k of a stable descending sort of `exact_scores`."""
    dev = gallery.device
    q = query.to(dev, torch.float32)
    n_q = q.shape[0]
    top = torch.full((n_q, k), -math.inf, device=dev)
    kept_q, kept_i, kept_a = [], [], []
    b = None
    for lo in range(0, len(gallery), chunk):
        hi = min(lo + chunk, len(gallery))
        a, b = gallery.first_pass(q, lo, hi)
        top = torch.topk(torch.cat([top, a], 1), k, dim=1).values
        qi, gi = (a >= _threshold(top[:, -1], b)[:, None]).nonzero(as_tuple=True)
        kept_q.append(qi)
        kept_i.append(gi + lo)
        kept_a.append(a[qi, gi])
    assert b is not None
    qi, gi, ka = torch.cat(kept_q), torch.cat(kept_i), torch.cat(kept_a)
    keep = ka >= _threshold(top[:, -1], b)[qi]  # the final k-th prunes what earlier chunks kept
    qi, gi = qi[keep], gi[keep]
    if gallery.codec != "fp32" and qi.numel() > CASCADE_MIN * n_q:
        qi, gi = _fp32_screen(gallery, q, qi, gi, k)
    s = exact_scores(q[qi], gallery.rows[gi])
    # order: query, then score descending, then gallery index (stable sorts from the last key to the first)
    order = torch.argsort(gi, stable=True)
    order = order[torch.argsort(s[order], descending=True, stable=True)]
    order = order[torch.argsort(qi[order], stable=True)]
    counts = torch.bincount(qi, minlength=n_q)  # ≥ k each: the k rows with the best lower bounds are kept
    first = torch.cumsum(counts, 0) - counts
    pick = order[(first[:, None] + torch.arange(k, device=dev)).reshape(-1)]
    return s[pick].reshape(n_q, k).cpu(), gi[pick].reshape(n_q, k).cpu()

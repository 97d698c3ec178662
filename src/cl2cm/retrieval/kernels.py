"""The fused CPU counting kernel of exact ranks (numba), and when `metrics._count` uses it.

Why a kernel: the torch path counts with 1 + n_thr eager passes over every score tile (compare into a
0/1 buffer, then sum), so each score is read and each 0/1 written and re-read 1 + n_thr times. One
compiled loop reads each score once and makes all 1 + n_thr comparisons in registers (AVX2/AVX-512 lanes).
It compares the same float values with the same `>=` as the torch path, so the counts, and with them every
rank, are the same integers; `tests/retrieval/test_kernels.py` checks both against each other.

numba is optional (`pip install 'cl2cm[fast]'`). A process pays a one-time load for it, 0.35-0.45 s here
(the import, and the compiled kernel read from numba's on-disk cache; the first run on a machine compiles,
~0.4 s per number of captions per item), so ``auto`` takes it only for rankings large enough to gain more
than that, or once it is loaded anyway.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np
import torch

from cl2cm.config.query import RANK_KERNELS
from cl2cm.errors import UserError

#: ``auto`` takes the fused kernel from this many query × gallery pairs on: where what it saves (the torch
#: path ~3.5 ns a pair, the kernel ~0.5, 5 captions per item, one thread, 2026-12-07) exceeds its load.
AUTO_PAIRS = 1 << 27
_WIDTH = 8  # thresholds per kernel call: a kernel is compiled for each width 1..8, more go in groups
_THREAD_PAIRS = 1 << 20  # a block is split over threads from this many pairs on

_loaded = False  # the kernel was loaded in this process: later rankings of any size take it under auto


def available() -> bool:
    """Whether numba is installed (checked without importing it)."""
    return importlib.util.find_spec("numba") is not None


def choose(kernel: str, pairs: int, dtype: torch.dtype, device: torch.device) -> bool:
    """Whether this ranking counts with the fused kernel (`kernel` is the user's --rank-kernel)."""
    if kernel not in RANK_KERNELS:
        raise UserError(f"--rank-kernel {kernel!r}: expected one of {', '.join(RANK_KERNELS)}")
    if kernel == "torch":
        return False
    fits = device.type == "cpu" and dtype in (torch.float32, torch.float64)
    if kernel == "numba":
        if not available():
            raise UserError("--rank-kernel numba: numba is not installed (pip install 'cl2cm[fast]')")
        if not fits:
            raise UserError("--rank-kernel numba counts fp32/fp64 scores on the CPU; with --half or CUDA use "
                            "--rank-kernel torch (or auto)")
        return True
    return fits and (_loaded or pairs >= AUTO_PAIRS) and available()


@cache
def _kernel(width: int) -> Callable[..., None]:
    """The compiled loop for `width` column thresholds (a constant, so the loop over them unrolls)."""
    global _loaded
    import numba

    def count(s: Any, p: Any, own: Any, thr: Any, rows: Any, cols: Any, sums: Any) -> None:
        n_rows, n_cols = s.shape
        i = 0
        while i + 4 <= n_rows:  # four rows per sweep: each threshold and count is loaded once for four scores
            r0, r1, r2, r3 = s[i], s[i + 1], s[i + 2], s[i + 3]
            p0, p1, p2, p3 = p[i], p[i + 1], p[i + 2], p[i + 3]
            c0 = c1 = c2 = c3 = 0
            for j in range(n_cols):
                v0, v1, v2, v3 = r0[j], r1[j], r2[j], r3[j]
                c0 += np.int32(v0 >= p0)
                c1 += np.int32(v1 >= p1)
                c2 += np.int32(v2 >= p2)
                c3 += np.int32(v3 >= p3)
                sums[j] += (v0 + v1) + (v2 + v3)
                for k in range(width):
                    t = thr[k, j]
                    cols[k, j] += np.int32(v0 >= t) + np.int32(v1 >= t) + np.int32(v2 >= t) + np.int32(v3 >= t)
            rows[i], rows[i + 1], rows[i + 2], rows[i + 3] = c0, c1, c2, c3
            i += 4
        for r in range(i, n_rows):  # the last 0-3 rows
            row, pr, c = s[r], p[r], 0
            for j in range(n_cols):
                v = row[j]
                c += np.int32(v >= pr)
                sums[j] += v
                for k in range(width):
                    cols[k, j] += np.int32(v >= thr[k, j])
            rows[r] = c
        for i in range(n_rows):  # a row's positive competes with neither its caption nor its item's captions
            o = own[i]
            v = s[i, o]
            rows[i] -= np.int32(v >= p[i])
            for k in range(width):
                cols[k, o] -= np.int32(v >= thr[k, o])

    options: dict[str, Any] = {"nogil": True, "error_model": "numpy"}
    try:
        compiled = numba.njit(cache=True, **options)(count)
    except RuntimeError:  # no writable cache location (read-only install and home): compile per process
        compiled = numba.njit(**options)(count)
    _loaded = True
    return compiled


def count_block(s: torch.Tensor, p: torch.Tensor, own: torch.Tensor, thresholds: torch.Tensor, strict: bool,
                threads: int) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """(per row: negatives that beat the row's `p`; per threshold and item: negatives that beat it; whether
    the scores may all be finite).

    `s` [R, G] scores, `p` [R] or [R, 1] each row's positive score, `own` [R] its item (column), and
    `thresholds` [K, G], all on the CPU, scores in fp32/fp64. A row's own entry is a negative neither for
    the row nor for its item's thresholds (as in the torch path). `strict` counts ``>`` (optimistic ties)
    as ``>=`` against the next float up: the same test for finite scores and the -inf padding. The last
    value comes from column sums made in the same pass (a NaN or inf makes its column's sum NaN or inf;
    so can an overflow of finite scores, so a caller confirms a False with an exact check): it saves the
    separate pass over the block that the check would cost (~0.7 ms of 3-4 at 5,000 × 1,000).
    """
    s, p, thresholds = s.detach(), p.detach(), thresholds.detach()  # scores may come with autograd on
    a = np.ascontiguousarray(s.numpy())
    up = (lambda x: torch.nextafter(x, torch.tensor(torch.inf, dtype=x.dtype))) if strict else (lambda x: x)
    pv = np.ascontiguousarray(up(p.reshape(-1)).numpy())
    ov = np.ascontiguousarray(own.numpy())
    thr = up(thresholds).numpy()
    n_rows, n_cols = a.shape
    rows = np.zeros(n_rows, dtype=np.int32)
    parts = max(1, min(threads, n_rows, (n_rows * n_cols) // _THREAD_PAIRS))
    bounds = [n * n_rows // parts for n in range(parts + 1)]
    sums = np.zeros((parts, n_cols), dtype=a.dtype)
    groups = []
    for g in range(0, thr.shape[0], _WIDTH):
        t = np.ascontiguousarray(thr[g:g + _WIDTH])
        kernel = _kernel(t.shape[0])
        out = np.zeros((parts, *t.shape), dtype=np.int32)
        rows_out = rows if g == 0 else np.empty_like(rows)  # every call counts rows; the first one's are kept

        def run(n: int, t: np.ndarray = t, out: np.ndarray = out, rows_out: np.ndarray = rows_out,
                kernel: Callable[..., None] = kernel) -> None:
            lo, hi = bounds[n], bounds[n + 1]
            kernel(a[lo:hi], pv[lo:hi], ov[lo:hi], t, rows_out[lo:hi], out[n], sums[n])

        if parts == 1:
            run(0)
        else:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(parts) as pool:
                list(pool.map(run, range(parts)))
        groups.append(out[0] if parts == 1 else out.sum(0, dtype=np.int64))
    cols = groups[0] if len(groups) == 1 else np.concatenate(groups)
    return torch.from_numpy(rows), torch.from_numpy(cols), bool(np.isfinite(sums).all())


def load(n_thresholds: int, dtype: torch.dtype = torch.float32) -> None:
    """Compile (or read from numba's cache) the kernels a ranking with `n_thresholds` captions per item needs."""
    s = torch.zeros((1, 1), dtype=dtype)
    for width in sorted({min(n_thresholds, _WIDTH), n_thresholds % _WIDTH or _WIDTH}):
        count_block(s, s[:, 0], torch.zeros(1, dtype=torch.long), s.expand(width, 1), False, 1)


def default_threads() -> int:
    """Threads for the kernel: torch's setting (what the torch path would use), at most the CPUs we may use."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(torch.get_num_threads(), cpus))

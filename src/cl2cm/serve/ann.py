"""An optional approximate index for galleries too large to score exactly per query: faiss IVF-Flat.

The exact path (`cl2cm.retrieval.search.top_k`) reads every gallery row per query; IVF-Flat clusters the
rows once (k-means, `nlist` lists) and scores only the `nprobe` lists nearest to the query, so a query
reads about nprobe/nlist of the gallery. Scores are exact inner products (= cosine: rows and queries are
L2-normalised) of the rows it visits; rows it does not visit are missed, so the ranking is *not* that of
`cl2cm search` — `benchmarks/bench_serve.py --ann` reports recall@10 against the exact ranking.

faiss is an optional extra (``pip install 'cl2cm[ann]'``): importing this module never needs it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from cl2cm.errors import UserError

TRAIN_PER_LIST = 64  # k-means training rows per list (faiss warns below 39)


def _faiss() -> Any:
    try:
        import faiss
    except ImportError:
        raise UserError("--index ivf needs faiss: pip install 'cl2cm[ann]' (faiss-cpu)") from None
    return faiss


def default_nlist(rows: int) -> int:
    """About √N lists (at least 1, and enough rows per list to train)."""
    return max(1, min(int(math.sqrt(rows)), rows // TRAIN_PER_LIST or 1))


class IVFIndex:
    """faiss IndexIVFFlat over L2-normalised rows, inner-product metric; `search` is thread-safe."""

    kind = "ivf"

    def __init__(self, emb: torch.Tensor, *, nlist: int = 0, nprobe: int = 32, seed: int = 0) -> None:
        faiss = _faiss()
        x = np.ascontiguousarray(emb.detach().cpu().float().numpy())
        n, dim = x.shape
        self.nlist = nlist or default_nlist(n)
        if not 1 <= self.nlist <= n:
            raise UserError(f"--nlist {self.nlist}: must be between 1 and the gallery size ({n})")
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFFlat(quantizer, dim, self.nlist, faiss.METRIC_INNER_PRODUCT)
        rng = np.random.default_rng(seed)
        sample = x if n <= TRAIN_PER_LIST * self.nlist else x[rng.choice(n, TRAIN_PER_LIST * self.nlist,
                                                                          replace=False)]
        index.cp.seed = seed
        index.train(sample)
        index.add(x)
        self._index = index  # read-only while serving: concurrent faiss searches are safe
        self.set_nprobe(nprobe)

    def set_nprobe(self, nprobe: int) -> None:
        """Change the lists scored per query (for sweeps; not while searches are running)."""
        self.nprobe = min(nprobe, self.nlist)
        self._index.nprobe = self.nprobe

    def describe(self) -> str:
        return f"ivf (nlist {self.nlist}, nprobe {self.nprobe})"

    def search(self, query_emb: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(scores [Q, k'], row indices [Q, k']), best first; k' ≤ k when the probed lists hold fewer rows."""
        q = np.ascontiguousarray(query_emb.detach().cpu().float().numpy())
        scores, idx = self._index.search(q, k)
        keep = idx[0] >= 0 if q.shape[0] == 1 else np.all(idx >= 0, axis=0)
        return torch.from_numpy(scores[:, keep]), torch.from_numpy(idx[:, keep])

"""`cl2cm search`: free-text queries → the top-K visual items of a feature store, by a student model.

The gallery is scored in chunks with a running top-K, so memory is O(queries × (K + chunk)) however large
the store. Ties are broken by gallery order (stable), so the same inputs always list the same items; each
chunk keeps its K best by `topk` plus the entries tied at the boundary, never sorting the whole chunk.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from cl2cm.artifacts.store import load_store
from cl2cm.errors import UserError
from cl2cm.runtime import resolve_device


@dataclass
class SearchResult:
    query: str
    hits: list[tuple[str, float]]  # (visual id, cosine score), best first


def top_k(query_emb: torch.Tensor, gallery_emb: torch.Tensor, k: int, *, chunk: int = 65536,
          device: str | torch.device = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """(scores [Q, k], gallery indices [Q, k]) of the k best gallery rows per query, ties by lower index."""
    if query_emb.shape[0] == 0:
        raise UserError("no query text given")
    if gallery_emb.shape[0] == 0:
        raise UserError("the gallery is empty")
    if query_emb.shape[1] != gallery_emb.shape[1]:
        raise UserError(f"dimension mismatch: queries have dimension {query_emb.shape[1]}, the gallery "
                        f"{gallery_emb.shape[1]}")
    if not 1 <= k <= gallery_emb.shape[0]:
        raise UserError(f"--k {k}: must be between 1 and the gallery size ({gallery_emb.shape[0]})")
    dev = torch.device(device)
    q = query_emb.to(dev, torch.float32)
    best_s = torch.empty(q.shape[0], 0, device=dev)
    best_i = torch.empty(q.shape[0], 0, dtype=torch.long, device=dev)
    for lo in range(0, gallery_emb.shape[0], chunk):
        g = gallery_emb[lo:lo + chunk].to(dev, torch.float32)
        s = torch.cat([best_s, q @ g.T], 1)
        i = torch.cat([best_i, torch.arange(lo, lo + g.shape[0], device=dev).expand(q.shape[0], -1)], 1)
        best_s, best_i = _best_k(s, i, k)
    return best_s.cpu(), best_i.cpu()


def _best_k(s: torch.Tensor, i: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The k best (score, index) pairs per row: higher score first, equal scores by lower index.

    Exactly the first k of a stable descending sort, without sorting the whole row: `topk` finds each
    row's k-th score, every entry at least that good is a candidate (more than k only when scores tie at the
    boundary, where `topk` alone would pick arbitrarily), and only the candidates are sorted.
    """
    if s.shape[1] > k:
        top = torch.topk(s, k, dim=1)
        m = int((s >= top.values[:, -1:]).sum(1).max())
        if m > k:  # ties at the k-th score: take every row's candidates (and a few more, which sort below)
            top = torch.topk(s, m, dim=1)
        s, i = top.values, i.gather(1, top.indices)
    by_index = torch.sort(i, dim=1, stable=True)
    s, i = s.gather(1, by_index.indices), by_index.values
    order = torch.sort(s, dim=1, descending=True, stable=True).indices[:, :k]
    return s.gather(1, order), i.gather(1, order)


@dataclass
class Gallery:
    """A student and its store's visual rows encoded once: what `search` and `cl2cm serve` rank against."""

    model: Any
    ids: list[str]
    emb: torch.Tensor  # [N, D] L2-normalised, on `device`
    device: torch.device

    def __len__(self) -> int:
        return len(self.ids)


def load_gallery(model_dir: Path, features: Path, *, device: str = "auto") -> Gallery:
    """Load the student in `model_dir`, check the store is its kind, and encode every visual row once."""
    from cl2cm.models import load_model  # heavy (transformers): imported only when searching

    dev = resolve_device(device)
    model = load_model(model_dir, dev)
    if not hasattr(model, "encode_store"):
        raise UserError("--model: this model encodes no visual rows (search needs a student)", path=model_dir)
    store = load_store(features, flag="--features", **model.expect_store())
    with torch.no_grad():
        emb = model.encode_store(store).to(dev)
    return Gallery(model=model, ids=store.ids, emb=emb, device=dev)


def rank(gallery: Gallery, queries: Sequence[str], *, k: int = 10, batch_size: int = 256) -> list[SearchResult]:
    """Top-k items of `gallery` for each query text (stripped; an empty one is a user error)."""
    texts = [q.strip() for q in queries]
    if not texts or any(not t for t in texts):
        raise UserError("empty query text: pass one or more non-empty queries")
    with torch.no_grad():
        q = gallery.model.encode_text(texts, batch_size=batch_size)
    return rank_embedded(gallery, texts, q, k=k)


def rank_embedded(gallery: Gallery, texts: Sequence[str], query_emb: torch.Tensor, *, k: int = 10
                  ) -> list[SearchResult]:
    """Top-k items of `gallery` for already encoded queries (`texts` label the results)."""
    if not 1 <= k <= len(gallery):
        raise UserError(f"--k {k}: must be between 1 and the gallery size ({len(gallery)})")
    scores, idx = top_k(query_emb, gallery.emb, k, device=gallery.device)
    return [SearchResult(text, [(gallery.ids[j], float(s)) for j, s in zip(ji.tolist(), si.tolist(), strict=True)])
            for text, si, ji in zip(texts, scores, idx, strict=True)]


def search(model_dir: Path, features: Path, queries: Sequence[str], *, k: int = 10, device: str = "auto",
           batch_size: int = 256) -> list[SearchResult]:
    """Encode `queries` and the store's visual rows with the student in `model_dir`; return top-k per query."""
    if not queries or any(not q.strip() for q in queries):  # before loading anything
        raise UserError("empty query text: pass one or more non-empty queries")
    return rank(load_gallery(model_dir, features, device=device), queries, k=k, batch_size=batch_size)

"""`cl2cm search`: free-text queries → the top-K visual items of a feature store, by a student model.

The gallery is scored in chunks with a running top-K, so memory is O(queries × (K + chunk)) however large
the store. Ties are broken by gallery order (stable), so the same inputs always list the same items.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

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
        order = torch.sort(s, dim=1, descending=True, stable=True).indices[:, :k]  # earlier = lower index
        best_s, best_i = s.gather(1, order), i.gather(1, order)
    return best_s.cpu(), best_i.cpu()


def search(model_dir: Path, features: Path, queries: Sequence[str], *, k: int = 10, device: str = "auto",
           batch_size: int = 256) -> list[SearchResult]:
    """Encode `queries` and the store's visual rows with the student in `model_dir`; return top-k per query."""
    texts = [q.strip() for q in queries]
    if not texts or any(not t for t in texts):
        raise UserError("empty query text: pass one or more non-empty queries")
    from cl2cm.models import load_model  # heavy (transformers): imported only when searching

    dev = resolve_device(device)
    model = load_model(model_dir, dev)
    if not hasattr(model, "encode_store"):
        raise UserError("--model: this model encodes no visual rows (search needs a student)", path=model_dir)
    store = load_store(features, flag="--features", **model.expect_store())
    if not 1 <= k <= len(store):
        raise UserError(f"--k {k}: must be between 1 and the gallery size ({len(store)})")
    with torch.no_grad():
        q = model.encode_text(texts, batch_size=batch_size)
        g = model.encode_store(store)
    scores, idx = top_k(q, g, k, device=dev)
    return [SearchResult(text, [(store.ids[j], float(s)) for j, s in zip(ji.tolist(), si.tolist(), strict=True)])
            for text, si, ji in zip(texts, scores, idx, strict=True)]

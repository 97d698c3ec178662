"""The search behind `cl2cm serve`: a gallery loaded once, each query ranked exactly as `cl2cm search` does.

A query is encoded alone (a batch of one) and ranked by `cl2cm.retrieval.search.rank_embedded`, the code
path of `cl2cm search "<text>"`, so a served ranking is the command's ranking, bit for bit: no cross-request
batching (padding a text next to longer ones changes its floating-point sums) and no approximate index.
Encoding holds a lock (a fast tokenizer is not safe to call from two threads at once: "Already borrowed");
scoring runs in parallel. Query embeddings are cached (LRU), which is exact and skips the encoder.

`index="ivf"` swaps the exact scoring for an approximate faiss index (`cl2cm.serve.ann`, optional extra
``ann``) for galleries too large to score per query; its rankings are not `cl2cm search`'s.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from cl2cm.errors import UserError
from cl2cm.retrieval.search import Gallery, load_gallery, rank_embedded

QUERY_CACHE = 1024  # distinct query texts whose embeddings are kept


def _ivf(gallery: Gallery, **options: Any) -> Any:
    from cl2cm.serve.ann import IVFIndex  # numpy/faiss only when asked for

    return IVFIndex(gallery.emb, **options)


# --index NAME → builder of an approximate index over a gallery (None: exact scoring, `cl2cm search`'s)
INDEX_KINDS: dict[str, Callable[..., Any] | None] = {"exact": None, "ivf": _ivf}


class SearchIndex:
    """A student and its encoded gallery; `search` is safe to call from several threads at once."""

    def __init__(self, gallery: Gallery, *, model_dir: Path | None = None, features: Path | None = None,
                 cache_size: int = QUERY_CACHE, index: str = "exact", **index_options: Any) -> None:
        if index not in INDEX_KINDS:
            raise UserError(f"--index {index!r}: expected one of {', '.join(INDEX_KINDS)}")
        build = INDEX_KINDS[index]
        self.approximate = build(gallery, **index_options) if build is not None else None
        self.gallery = gallery
        self.model_dir = model_dir
        self.features = features
        self.row_of = {item: i for i, item in enumerate(gallery.ids)}
        self._cache: OrderedDict[str, torch.Tensor] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()  # guards the cache
        self._encoder_lock = threading.Lock()

    @classmethod
    def load(cls, model_dir: Path, features: Path, *, device: str = "auto", index: str = "exact",
             **index_options: Any) -> SearchIndex:
        """The same model and store loading as `cl2cm search --model MODEL_DIR --features FEATURES`."""
        return cls(load_gallery(model_dir, features, device=device), model_dir=model_dir, features=features,
                   index=index, **index_options)

    def describe(self) -> str:
        """The scoring in use: exact, or the approximate index and its settings (shown by /health)."""
        return "exact" if self.approximate is None else self.approximate.describe()

    def __len__(self) -> int:
        return len(self.gallery)

    @property
    def device(self) -> torch.device:
        return self.gallery.device

    def search(self, text: str, k: int) -> list[tuple[str, float]]:
        """The top-k (id, cosine score) of one query text, best first, ties by gallery order."""
        text = text.strip()
        q = self._embed(text)
        if self.approximate is not None:
            scores, idx = self.approximate.search(q, k)
            return [(self.gallery.ids[j], float(s)) for j, s in zip(idx[0].tolist(), scores[0].tolist(), strict=True)]
        return rank_embedded(self.gallery, [text], q, k=k)[0].hits

    def _embed(self, text: str) -> torch.Tensor:
        """[1, D] embedding of a stripped query text, from the cache or the encoder (under its lock)."""
        with self._lock:
            q = self._cache.get(text)
            if q is not None:
                self._cache.move_to_end(text)
        if q is None:
            with self._encoder_lock, torch.no_grad():
                q = self.gallery.model.encode_text([text])
            with self._lock:
                self._cache[text] = q
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return q

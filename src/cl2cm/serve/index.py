"""The search behind `cl2cm serve`: a gallery loaded once, each query ranked exactly as `cl2cm search` does.

A query is encoded alone (a batch of one) and ranked by `cl2cm.retrieval.search.rank_embedded`, the code
path of `cl2cm search "<text>"`, so a served ranking is the command's ranking, bit for bit: no cross-request
batching (padding a text next to longer ones changes its floating-point sums) and no approximate index.
Encoding holds a lock (a fast tokenizer is not safe to call from two threads at once: "Already borrowed");
scoring runs in parallel. Query embeddings are cached (LRU), which is exact and skips the encoder.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

import torch

from cl2cm.retrieval.search import Gallery, load_gallery, rank_embedded

QUERY_CACHE = 1024  # distinct query texts whose embeddings are kept


class SearchIndex:
    """A student and its encoded gallery; `search` is safe to call from several threads at once."""

    def __init__(self, gallery: Gallery, *, model_dir: Path | None = None, features: Path | None = None,
                 cache_size: int = QUERY_CACHE) -> None:
        self.gallery = gallery
        self.model_dir = model_dir
        self.features = features
        self.row_of = {item: i for i, item in enumerate(gallery.ids)}
        self._cache: OrderedDict[str, torch.Tensor] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()  # guards the cache
        self._encoder_lock = threading.Lock()

    @classmethod
    def load(cls, model_dir: Path, features: Path, *, device: str = "auto") -> SearchIndex:
        """The same model and store loading as `cl2cm search --model MODEL_DIR --features FEATURES`."""
        return cls(load_gallery(model_dir, features, device=device), model_dir=model_dir, features=features)

    def __len__(self) -> int:
        return len(self.gallery)

    @property
    def device(self) -> torch.device:
        return self.gallery.device

    def search(self, text: str, k: int) -> list[tuple[str, float]]:
        """The top-k (id, cosine score) of one query text, best first, ties by gallery order."""
        text = text.strip()
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
        return rank_embedded(self.gallery, [text], q, k=k)[0].hits

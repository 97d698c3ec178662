"""`cl2cm search`: free-text queries → the top-K visual items of a feature store, by a student model.

The gallery is screened in chunks by a first pass with a proven error bound (fp32, or a compact int8/fp16
copy: `cl2cm.retrieval.compact`), so memory is O(queries × (K + chunk + candidates)) however large the
store; the candidates that could be in the top-K are rescored exactly. Ties are broken by gallery order
(stable), so the same inputs always list the same items, whatever the first pass.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from cl2cm.artifacts.store import EmbeddingStore, first_nonfinite_row, load_store
from cl2cm.errors import UserError
from cl2cm.langid import query_language, warm_up
from cl2cm.retrieval.compact import PreparedGallery, choose_codec, top_k_prepared
from cl2cm.retrieval.langcheck import check_language, language_note, languages_of
from cl2cm.runtime import resolve_device


@dataclass(frozen=True)
class Hit:
    """One item `cl2cm.search` found: for `query`, at `rank` (1 = best), the visual `id` and its cosine
    `score`."""

    query: str
    rank: int
    id: str
    score: float
    lang: str | None = None  # the query's language: --lang, else detected (None: unsure; `cl2cm.langid`)


@dataclass
class SearchResult:
    query: str
    hits: list[tuple[str, float]]  # (visual id, cosine score), best first
    lang: str | None = None  # as `Hit.lang`


def top_k(query_emb: torch.Tensor, gallery_emb: torch.Tensor | PreparedGallery, k: int, *, chunk: int = 65536,
          device: str | torch.device = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """(scores [Q, k], gallery indices [Q, k]) of the k best gallery rows per query, ties by lower index.

    Scores are `compact.exact_scores` (a row's score does not depend on its position or the chunking); a
    `PreparedGallery` (built once, possibly with a compact copy) saves reading its statistics per call.
    """
    if query_emb.shape[0] == 0:
        raise UserError("no query text given")
    if len(gallery_emb) == 0:
        raise UserError("the gallery is empty")
    dim = gallery_emb.dim if isinstance(gallery_emb, PreparedGallery) else gallery_emb.shape[1]
    if query_emb.ndim != 2 or query_emb.shape[1] != dim:
        raise UserError(f"dimension mismatch: queries have dimension {query_emb.shape[-1]}, the gallery {dim}")
    if not 1 <= k <= len(gallery_emb):
        raise UserError(f"--k {k}: must be between 1 and the gallery size ({len(gallery_emb)})")
    if not bool(torch.isfinite(query_emb).all()):
        raise UserError("query embeddings contain NaN or infinite values")
    prepared = (gallery_emb if isinstance(gallery_emb, PreparedGallery)
                else PreparedGallery(gallery_emb.to(torch.device(device))))
    return top_k_prepared(prepared, query_emb, k, chunk=chunk)


@dataclass
class Gallery:
    """A student and its store's visual rows encoded once: what `search` and `cl2cm serve` rank against."""

    model: Any
    ids: list[str]
    emb: torch.Tensor  # [N, D] L2-normalised, on `device`
    device: torch.device
    compact: str = "auto"  # the first pass's copy (`compact.choose_codec`: auto = fp32); all rank exactly
    manifest: Any = None  # the store's manifest (its `extra["version"]` counts appends)
    _prepared: PreparedGallery | None = field(default=None, init=False, repr=False, compare=False)
    _key: tuple[Any, ...] = field(default=(), init=False, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.ids)

    def prepared(self) -> PreparedGallery:
        """The rows ready for `top_k` (built once; rebuilt if `emb` is replaced or changed in place)."""
        key = (id(self.emb), self.emb.data_ptr(), tuple(self.emb.shape), self.emb._version, self.compact)
        with self._lock:
            if self._prepared is None or self._key != key:
                codec = choose_codec(self.compact, self.emb.shape[0], self.emb.device)
                self._prepared, self._key = PreparedGallery(self.emb, codec), key
            return self._prepared


def load_gallery(model_dir: Path, features: Path, *, device: str = "auto", compact: str = "auto") -> Gallery:
    """Load the student in `model_dir`, check the store is its kind, and encode every visual row once.

    `compact` chooses the first pass's copy of the rows (`compact.choose_codec`; the ranking is exact either
    way); it is built here, so a server pays for it at start-up, not on its first query.
    """
    from cl2cm.models import load_model  # heavy (transformers): imported only when searching

    dev = resolve_device(device)
    model = load_model(model_dir, dev, lite=True)  # inference only: no transformers import for a BERT
    if not hasattr(model, "encode_store"):
        raise UserError("--model: this model encodes no visual rows (search needs a student)", path=model_dir)
    return encode_gallery(model, features, dev, model_dir=model_dir, compact=compact)


def encode_gallery(model: Any, features: Path | EmbeddingStore, device: torch.device, *,
                   model_dir: Path | None = None, compact: str = "auto") -> Gallery:
    """The store in `features` (checked to be `model`'s kind; or a store already loaded, `cl2cm.search`)
    encoded by an already loaded student; `cl2cm serve` calls it again on a grown store without reloading
    the model."""
    store = features if isinstance(features, EmbeddingStore) else load_store(features, flag="--features",
                                                                             **model.expect_store())
    with torch.no_grad():
        emb = model.encode_store(store).to(device)
    bad = first_nonfinite_row(emb)
    if bad is not None:  # finite rows, non-finite embeddings: the model's weights are broken
        raise UserError(f"--model: encodes row {bad} (id {store.ids[bad]!r}) of {features} to NaN or infinity; "
                        "the model is corrupt", path=model_dir)
    gallery = Gallery(model=model, ids=store.ids, emb=emb, device=device, compact=compact, manifest=store.manifest)
    gallery.prepared()
    return gallery


def query_texts(queries: Sequence[str]) -> list[str]:
    """The query texts, stripped. None, an empty one, or one that is not text (bytes a shell passed that are
    not UTF-8 arrive as lone surrogates, which no tokenizer takes) is a user error."""
    texts = [q.strip() for q in queries]
    if not texts or any(not t for t in texts):
        raise UserError("empty query text: pass one or more non-empty queries")
    for i, text in enumerate(texts, 1):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise UserError(f"query {i} is not valid UTF-8 text: {ascii(text)[1:-1][:60]}") from None
    return texts


def rank(gallery: Gallery, queries: Sequence[str], *, k: int = 10, batch_size: int = 256) -> list[SearchResult]:
    """Top-k items of `gallery` for each query text (`query_texts`)."""
    texts = query_texts(queries)
    with torch.no_grad():
        q = gallery.model.encode_text(texts, batch_size=batch_size)
    return rank_embedded(gallery, texts, q, k=k)


def rank_embedded(gallery: Gallery, texts: Sequence[str], query_emb: torch.Tensor, *, k: int = 10
                  ) -> list[SearchResult]:
    """Top-k items of `gallery` for already encoded queries (`texts` label the results)."""
    if not 1 <= k <= len(gallery):
        raise UserError(f"--k {k}: must be between 1 and the gallery size ({len(gallery)})")
    scores, idx = top_k(query_emb, gallery.prepared(), k)
    return [SearchResult(text, [(gallery.ids[j], float(s)) for j, s in zip(ji.tolist(), si.tolist(), strict=True)])
            for text, si, ji in zip(texts, scores, idx, strict=True)]


def check_query_languages(model: object, texts: Sequence[str], lang: str | None = None, *, strict: bool = False,
                          what: str = "the queries (--lang)") -> list[str | None]:
    """Each query's language, checked against the model's: `lang` (--lang) when given, else detected query
    by query (`cl2cm.langid`, counted only when the detector is sure). One warning per query outside the
    model's languages (`strict`: a user error instead); a model that records none is not checked."""
    languages = languages_of(model)
    if lang:
        check_language(language_note(languages, lang, what), strict=strict)
        return [lang] * len(texts)
    found = [query_language(text, languages) for text in texts]
    for note in found:
        check_language(note.warning, strict=strict)
    return [note.code for note in found]


def search(model_dir: Path, features: Path, queries: Sequence[str], *, k: int = 10, device: str = "auto",
           batch_size: int = 256, lang: str | None = None, strict_languages: bool = False) -> list[SearchResult]:
    """Encode `queries` and the store's visual rows with the student in `model_dir`; return top-k per query.

    `lang`: the queries' language; without it each query's is detected. Either is checked against the
    model's (`check_query_languages`; an error under `strict_languages`) and recorded as `SearchResult.lang`.
    """
    texts = query_texts(queries)  # before loading anything
    if not lang:
        warm_up()  # the detector loads while the model does
    gallery = load_gallery(model_dir, features, device=device)
    codes = check_query_languages(gallery.model, texts, lang, strict=strict_languages)
    results = rank(gallery, queries, k=k, batch_size=batch_size)
    for res, code in zip(results, codes, strict=True):
        res.lang = code
    return results

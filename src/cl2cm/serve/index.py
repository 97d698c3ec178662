"""The search behind `cl2cm serve`: a gallery loaded once, each query ranked exactly as `cl2cm search` does.

A query is encoded alone (a batch of one) and ranked by `cl2cm.retrieval.search.rank_embedded`, the code
path of `cl2cm search "<text>"`, so a served ranking is the command's ranking, bit for bit: no cross-request
batching (padding a text next to longer ones changes its floating-point sums) and no approximate index.
Encoding holds a lock (a fast tokenizer is not safe to call from two threads at once: "Already borrowed");
scoring runs in parallel. Query embeddings are cached (LRU), which is exact and skips the encoder.

`index="ivf"` swaps the exact scoring for an approximate faiss index (`cl2cm.serve.ann`, optional extra
``ann``) for galleries too large to score per query; its rankings are not `cl2cm search`'s.

A grown store (`extract-features --append`) is picked up by `reload_if_changed` without a restart: the new
gallery is encoded beside the old one and swapped in as one reference, and every request reads that
reference once (`snapshot`), so an answer comes wholly from the old or wholly from the new gallery.
"""

from __future__ import annotations

import io
import logging
import os
import tempfile
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from cl2cm.artifacts.manifest import MANIFEST_NAME
from cl2cm.errors import UserError
from cl2cm.features.datasets import size_refusal
from cl2cm.retrieval.search import Gallery, encode_gallery, load_gallery, rank_embedded
from cl2cm.serve.query import BadRequest

QUERY_CACHE = 1024  # distinct query texts whose embeddings are kept

log = logging.getLogger("cl2cm.serve")


def _ivf(gallery: Gallery, **options: Any) -> Any:
    from cl2cm.serve.ann import IVFIndex  # numpy/faiss only when asked for

    return IVFIndex(gallery.emb, **options)


# --index NAME → builder of an approximate index over a gallery (None: exact scoring, `cl2cm search`'s)
INDEX_KINDS: dict[str, Callable[..., Any] | None] = {"exact": None, "ivf": _ivf}


@dataclass(frozen=True)
class GalleryState:
    """One version of the served gallery: rows, the id → row map and the approximate index over them."""

    gallery: Gallery
    row_of: dict[str, int]
    approximate: Any
    version: int
    stamp: tuple[int, int, int] | None = None  # the manifest file's (inode, mtime_ns, size) when read
    kind: str = "images"  # "videos" for frame-folder stores
    info: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.gallery)


def manifest_stamp(features: Path | None) -> tuple[int, int, int] | None:
    """(inode, mtime_ns, size) of the store's manifest (a rewrite is a new inode: atomic replace); None when
    it is missing (a store being rewritten)."""
    if features is None:
        return None
    try:
        st = os.stat(Path(features) / MANIFEST_NAME)
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


def store_version(gallery: Gallery) -> int:
    """The store's version: 1 for a fresh extraction, +1 per `extract-features --append` that changed it."""
    extra = getattr(gallery.manifest, "extra", None) or {}
    return int(extra.get("version", 1))


class SearchIndex:
    """A student and its encoded gallery; `search` is safe to call from several threads at once."""

    def __init__(self, gallery: Gallery, *, model_dir: Path | None = None, features: Path | None = None,
                 cache_size: int = QUERY_CACHE, index: str = "exact", **index_options: Any) -> None:
        if index not in INDEX_KINDS:
            raise UserError(f"--index {index!r}: expected one of {', '.join(INDEX_KINDS)}")
        self._build = INDEX_KINDS[index]
        self._index_options = index_options
        self.model_dir = model_dir
        self.features = features
        self._state = self._make_state(gallery, manifest_stamp(features))
        self._cache: OrderedDict[str, torch.Tensor] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()  # guards the cache
        self._encoder_lock = threading.Lock()
        self._reload_lock = threading.Lock()
        self._image_encoder: Any = None

    def _make_state(self, gallery: Gallery, stamp: tuple[int, int, int] | None) -> GalleryState:
        approximate = self._build(gallery, **self._index_options) if self._build is not None else None
        extra = getattr(gallery.manifest, "extra", None) or {}
        return GalleryState(gallery, {item: i for i, item in enumerate(gallery.ids)}, approximate,
                            store_version(gallery), stamp, "videos" if extra.get("frames") else "images")

    @classmethod
    def load(cls, model_dir: Path, features: Path, *, device: str = "auto", index: str = "exact",
             **index_options: Any) -> SearchIndex:
        """The same model and store loading as `cl2cm search --model MODEL_DIR --features FEATURES`."""
        return cls(load_gallery(model_dir, features, device=device), model_dir=model_dir, features=features,
                   index=index, **index_options)

    # ------------------------------------------------------------------ the current gallery
    def snapshot(self) -> GalleryState:
        """The gallery now served; a request reads it once and uses only it (never half of a swap)."""
        return self._state

    @property
    def gallery(self) -> Gallery:
        return self._state.gallery

    @property
    def row_of(self) -> dict[str, int]:
        return self._state.row_of

    @property
    def approximate(self) -> Any:
        return self._state.approximate

    def describe(self) -> str:
        """The scoring in use: exact, or the approximate index and its settings (shown by /health)."""
        approximate = self._state.approximate
        return "exact" if approximate is None else approximate.describe()

    def __len__(self) -> int:
        return len(self._state)

    @property
    def device(self) -> torch.device:
        return self._state.gallery.device

    def reload_if_changed(self) -> bool:
        """Load the store again when its manifest changed since the served version; True when swapped.

        A seqlock on the manifest: the stamp is read before and after loading, and a load during which the
        store was being rewritten (stamp missing or different) is thrown away and tried on the next call.
        The old gallery keeps answering until the new one is complete."""
        if self.features is None:
            return False
        with self._reload_lock:
            before = manifest_stamp(self.features)
            if before is None or before == self._state.stamp:
                return False
            try:
                old = self._state.gallery
                gallery = encode_gallery(old.model, self.features, old.device, compact=old.compact)
            except UserError as exc:  # a store caught mid-rewrite, or a bad one: keep serving the old
                log.warning("gallery not reloaded: %s", exc)
                return False
            if manifest_stamp(self.features) != before:
                return False
            state = self._make_state(gallery, before)
            self._state = state
            log.info("gallery reloaded: version %d, %d rows", state.version, len(state))
            return True

    # ------------------------------------------------------------------ searching
    def _rank(self, state: GalleryState, label: str, q: torch.Tensor, k: int) -> list[tuple[str, float]]:
        k = min(k, len(state))
        if state.approximate is not None:
            scores, idx = state.approximate.search(q, k)
            return [(state.gallery.ids[j], float(s)) for j, s in zip(idx[0].tolist(), scores[0].tolist(), strict=True)]
        return rank_embedded(state.gallery, [label], q, k=k)[0].hits

    def search(self, text: str, k: int, state: GalleryState | None = None) -> list[tuple[str, float]]:
        """The top-k (id, cosine score) of one query text, best first, ties by gallery order."""
        text = text.strip()
        return self._rank(state or self._state, text, self._embed(text), k)

    def similar(self, item: str, k: int, state: GalleryState | None = None) -> list[tuple[str, float]]:
        """"More like this": the top-k of a gallery item's own visual embedding (the item itself first)."""
        state = state or self._state
        row = state.row_of.get(item)
        if row is None:
            raise BadRequest("unknown id: not an item of the gallery", 404)
        return self._rank(state, item, state.gallery.emb[row:row + 1], k)

    def image_search_unavailable(self) -> str | None:
        """Why an uploaded image cannot be searched with this student (None: it can)."""
        config = getattr(self._state.gallery.model, "config", None)
        if config is None or not hasattr(self._state.gallery.model, "image_encoder"):
            return "this model has no image encoder"
        if config.visual_input == "features" and config.visual_len > 0:
            return "a video gallery's student reads frame sequences, not single images"
        if not config.visual_encoder:
            return "the student does not record its visual encoder (trained on a store from an older cl2cm)"
        return None

    def search_image(self, data: bytes, k: int, *, max_pixels: int, state: GalleryState | None = None
                     ) -> list[tuple[str, float]]:
        """The top-k of an uploaded image, encoded by the student's recorded frozen encoder and its head.

        BadRequest 415 for bytes that are not an image, 413 for more than `max_pixels` pixels (checked on
        the header, before any pixel is decoded: a decompression bomb is refused unopened)."""
        reason = self.image_search_unavailable()
        if reason is not None:
            raise BadRequest(f"search by image is not available: {reason}", 501)
        width, height = check_image(data, max_pixels)
        model = self._state.gallery.model
        with self._encoder_lock:
            if self._image_encoder is None:
                try:
                    self._image_encoder = model.image_encoder()
                except (UserError, OSError, RuntimeError, ValueError) as exc:
                    log.warning("search by image unavailable: %s", exc)
                    raise BadRequest("search by image is not available: the student's visual encoder "
                                     "cannot be rebuilt on this server", 501) from None
            why = size_refusal(width, height, target=self._image_encoder.image_size, max_pixels=max_pixels)
            if why is not None:  # refused on the header, before the resize could take gigabytes
                raise BadRequest(why.replace("--max-pixels", "limit"), 413)
            with tempfile.TemporaryDirectory(prefix="cl2cm-upload-") as tmp:
                path = Path(tmp) / "upload"
                path.write_bytes(data)
                try:
                    q = model.encode_images([path], encoder=self._image_encoder)
                except UserError:
                    raise BadRequest("the upload is not a readable image", 415) from None
        return self._rank(state or self._state, "(image)", q, k)

    def _embed(self, text: str) -> torch.Tensor:
        """[1, D] embedding of a stripped query text, from the cache or the encoder (under its lock)."""
        with self._lock:
            q = self._cache.get(text)
            if q is not None:
                self._cache.move_to_end(text)
        if q is None:
            with self._encoder_lock, torch.no_grad():
                q = self._state.gallery.model.encode_text([text])
            with self._lock:
                self._cache[text] = q
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return q


def check_image(data: bytes, max_pixels: int) -> tuple[int, int]:
    """(width, height) from an upload's header; BadRequest 415 (not an image) or 413 (too many pixels)."""
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise BadRequest("empty upload: send the image file as the request body")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                width, height = img.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise BadRequest(f"image too large: more than {max_pixels} pixels", 413) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise BadRequest("the upload is not an image (expected JPEG, PNG, WebP, GIF or BMP)", 415) from None
    if width * height > max_pixels:
        raise BadRequest(f"image too large: {width}x{height} pixels, at most {max_pixels}", 413)
    return width, height

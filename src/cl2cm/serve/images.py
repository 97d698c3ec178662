"""Image ids → files confined to the image root, and the thumbnails `/image/<id>` answers with.

Only ids of the gallery are ever looked up (the caller checks), and even those are resolved with
`realpath` and must stay inside the root's own realpath: an id with `..`, an absolute id or a symlink that
points out of the root is refused, whatever the store says. Files are re-encoded as thumbnails (never sent
as stored), so a non-image file under the root is an error, not a download. A video id (a folder of
frames, as `extract-features --frames` reads them) is shown by its middle frame, confined the same way.
"""

from __future__ import annotations

import io
import os
import threading
from collections import OrderedDict
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from cl2cm.features.datasets import IMAGE_EXTENSIONS, natural_key
from cl2cm.retrieval.report import IMAGE_SUFFIXES
from cl2cm.serve.query import BadRequest

THUMBNAIL_SIDE = 256  # longest side in pixels (smaller images are sent at their own size)
THUMBNAIL_CACHE = 2048  # thumbnails kept in memory (~10 KB each)


def resolve_in_root(root: Path, item: str, *, videos: bool = False) -> Path:
    """The image file of `item` under `root` (ids may omit the extension); BadRequest 403/404 otherwise.

    With `videos`, an id that is a folder resolves to its representative frame."""
    if not item or "\x00" in item:
        raise BadRequest("unknown image id", 404)
    base = os.path.realpath(root)
    for suffix in IMAGE_SUFFIXES:
        candidate = os.path.realpath(os.path.join(base, item + suffix))
        if not os.path.exists(candidate):
            continue
        if os.path.commonpath([base, candidate]) != base or candidate == base:
            raise BadRequest("the image is outside the image root", 403)
        if os.path.isfile(candidate):
            return Path(candidate)
        if videos and os.path.isdir(candidate):  # a video: its frame folder
            return resolve_in_root(root, os.path.relpath(representative_frame(Path(candidate)), base))
    raise BadRequest("no image file for this id under the image root", 404)


def representative_frame(folder: Path) -> Path:
    """The middle frame (in natural name order, as `extract-features --frames` orders them) of a frame
    folder: the thumbnail of a video."""
    frames = sorted((p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()),
                    key=lambda p: natural_key(p.name))
    if not frames:
        raise BadRequest("no frame under this video's folder", 404)
    return frames[len(frames) // 2]


def make_thumbnail(path: Path, side: int = THUMBNAIL_SIDE) -> tuple[bytes, str]:
    """(bytes, media type): a JPEG (PNG when the image has transparency) no larger than side × side."""
    try:
        with Image.open(path) as img:
            img.draft("RGB", (side, side))  # JPEG: decode at a reduced scale when it can
            img.thumbnail((side, side))
            alpha = img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info
            out = io.BytesIO()
            if alpha:
                img.convert("RGBA").save(out, format="PNG", optimize=True)
                return out.getvalue(), "image/png"
            img.convert("RGB").save(out, format="JPEG", quality=90)
            return out.getvalue(), "image/jpeg"
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError, SyntaxError):
        raise BadRequest("the file of this id is not a readable image", 415) from None


class ThumbnailCache:
    """Thumbnails of the ids under one root, made on first request and kept (LRU); thread-safe."""

    def __init__(self, root: Path, *, side: int = THUMBNAIL_SIDE, size: int = THUMBNAIL_CACHE,
                 videos: bool = False) -> None:
        self.root = Path(root)
        self.videos = videos  # ids are frame folders: their middle frame is the picture
        self.side = side
        self._size = size
        self._cache: OrderedDict[str, tuple[bytes, str]] = OrderedDict()
        self._lock = threading.Lock()

    def clear(self) -> None:
        """Forget every thumbnail (the gallery was reloaded: an id's file may have changed)."""
        with self._lock:
            self._cache.clear()

    def get(self, item: str) -> tuple[bytes, str]:
        with self._lock:
            hit = self._cache.get(item)
            if hit is not None:
                self._cache.move_to_end(item)
                return hit
        thumb = make_thumbnail(resolve_in_root(self.root, item, videos=self.videos), self.side)
        with self._lock:
            self._cache[item] = thumb
            while len(self._cache) > self._size:
                self._cache.popitem(last=False)
        return thumb

"""What to extract: image and video-frame listings, and decoding that never stops a run.

An input is listed once, in a deterministic order, as ``Item``s (the id captions refer to + the file(s)).
Listing does not open images: a broken file is only found while decoding, in a DataLoader worker, where it
becomes a skip reason instead of an exception, so one bad file among millions never kills a run.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from cl2cm.artifacts.captions import read_captions
from cl2cm.artifacts.io import read_lines
from cl2cm.errors import UserError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm")
CAPTION_SUFFIXES = (".jsonl", ".json", ".caption.txt", ".tsv", ".csv", ".parquet")
from cl2cm.config.stages import INPUT_KINDS  # noqa: E402

_MULTI30K_TEXT = re.compile(r"^.+\.[a-z]{2,3}(?:_[a-z]+)?$")



@dataclass(frozen=True)
class Item:
    """One visual item: an image (one path) or a video (its frame paths, in order)."""

    id: str
    paths: tuple[Path, ...]


def natural_key(name: str) -> list[object]:
    """Sort frame_2 before frame_10 (frame dumps are rarely zero-padded)."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def _is_image_name(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS


def detect_input_kind(source: Path) -> str:
    """folder, list (one image per line) or captions (a caption corpus whose `image` fields are listed)."""
    if source.is_dir():
        return "folder"
    name = source.name.lower()
    if name.endswith(CAPTION_SUFFIXES):
        return "captions"
    if not name.endswith((".txt", ".lst")) and _MULTI30K_TEXT.match(source.name):
        return "captions"  # Multi30K `<split>.<lang>` with `<split>.txt` beside it
    return "list"


def _dedupe(entries: list[str]) -> list[str]:
    return list(dict.fromkeys(entries))


def list_images(source: str | Path, *, root: str | Path | None = None, kind: str = "auto") -> list[Item]:
    """List the images of a folder (recursive, sorted), an image list or a caption corpus.

    Ids are what captions refer to: the path relative to the folder, or the list/corpus entry as written.
    List and corpus entries resolve against `root` (default: the list file's directory).
    """
    source = Path(source)
    if not source.exists():
        raise UserError("input not found", path=source)
    kind = detect_input_kind(source) if kind == "auto" else kind
    if kind not in INPUT_KINDS:
        raise UserError(f"--input-kind {kind!r}: expected one of {', '.join(INPUT_KINDS)}")
    if kind == "folder":
        if not source.is_dir():
            raise UserError("--input-kind folder: not a directory", path=source)
        files = sorted((p for p in source.rglob("*") if p.is_file() and _is_image_name(p)),
                       key=lambda p: p.relative_to(source).as_posix())
        items = [Item(p.relative_to(source).as_posix(), (p,)) for p in files]
    else:
        if source.is_dir():
            raise UserError(f"--input-kind {kind}: is a directory, expected a file", path=source)
        base = Path(root) if root is not None else source.parent
        if root is not None and not base.is_dir():
            raise UserError("--root: not a directory", path=base)
        if kind == "captions":
            entries = _dedupe([c.image for c in read_captions(source)])
        else:
            entries = _dedupe([ln.strip() for ln in read_lines(source) if ln.strip()])
        items = [Item(e, (base / e,)) for e in entries]
    if not items:
        raise UserError("no images found (looked for " + ", ".join(IMAGE_EXTENSIONS) + ")", path=source)
    return items


def list_videos(source: str | Path, *, root: str | Path | None = None) -> list[Item]:
    """Videos as folders of frames: the sub-folders of `source`, or the folders named in a list file."""
    source = Path(source)
    if not source.exists():
        raise UserError("input not found", path=source)
    if source.is_dir():
        dirs = sorted((p for p in source.iterdir() if p.is_dir()), key=lambda p: p.name)
        named = [(p.name, p) for p in dirs]
    else:
        base = Path(root) if root is not None else source.parent
        named = [(e, base / e) for e in _dedupe([ln.strip() for ln in read_lines(source) if ln.strip()])]
    items = []
    for vid, folder in named:
        frames = sorted((p for p in folder.iterdir() if p.is_file() and _is_image_name(p)),
                        key=lambda p: natural_key(p.name)) if folder.is_dir() else []
        items.append(Item(vid, tuple(frames) if frames else (folder,)))
    if not items:
        raise UserError("no video folders found (expected one sub-folder of frames per video)", path=source)
    return items


def uniform_indices(n_frames: int, k: int) -> list[int]:
    """K frame indices at the centres of K equal segments; all frames when there are at most K."""
    if n_frames <= k:
        return list(range(n_frames))
    return [int((j + 0.5) * n_frames / k) for j in range(k)]


# ---------------------------------------------------------------------------------------------- decoding
def to_rgb(img: Image.Image, background: tuple[int, int, int] = (255, 255, 255)) -> Image.Image:
    """Any PIL mode → RGB: alpha (RGBA, LA, palette transparency) is composited on white, not dropped.

    A plain ``convert("RGB")`` keeps whatever colour hides under transparent pixels (often black), and
    16-bit grayscale (mode I;16 / I) clips to white; both would change the features of such files.
    """
    if img.mode == "RGB":
        return img
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = torch.from_numpy(np.asarray(img, dtype=np.float32).copy())
        hi = 65535.0 if img.mode.startswith("I;16") else max(float(arr.max()), 1.0)
        img = Image.fromarray((arr.clamp(0, hi) / hi * 255).round().byte().numpy())
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        canvas = Image.new("RGB", rgba.size, background)
        canvas.paste(rgba, mask=rgba.getchannel("A"))
        return canvas
    return img.convert("RGB")  # L, 1, P, CMYK, YCbCr, LAB, HSV, F


#: --decode MODE → whether JPEGs may decode at a reduced DCT scale (PIL's `draft`) while still ≥ the model's
#: input size on both sides. "draft" (the default since the first release) changes pixels slightly:
#: docs/features.md gives the measured cosine to "exact" (full-size decode, then the model's own resize).
DECODE_MODES: dict[str, bool] = {"draft": True, "exact": False}


def size_refusal(width: int, height: int, *, target: int, max_pixels: int) -> str | None:
    """Why a `width`x`height` image is refused before any pixel is decoded, or None.

    More than `max_pixels` pixels (the decompression-bomb guard), or more than that once its shorter side is
    resized to the model's input `target` as the encoders do: a 663-byte 200000x1 PNG became a 12.8M x 64
    image (4.9 GB of memory in `cl2cm serve`, and 36 GB for a 2000000x1 one)."""
    if width * height > max_pixels:
        return f"image too large ({width}x{height} = {width * height} px > --max-pixels {max_pixels})"
    resized = -(-max(width, height) * target // max(min(width, height), 1)) * target
    if resized > max_pixels:
        return (f"image too elongated ({width}x{height}: {resized} px once its shorter side is resized to {target}; "
                f"--max-pixels {max_pixels})")
    return None


def open_image(path: Path, *, target: int, max_pixels: int, draft: bool = True) -> Image.Image:
    """Decode one image to RGB, cheaply: JPEGs decode at a reduced DCT scale when still ≥ `target`
    (unless `draft` is False: the full-size decode, for bit-for-bit standard preprocessing).

    Raises ValueError/OSError (→ a skip reason) for anything unusable, including images above
    `max_pixels` after the reduced decode (the decompression-bomb guard, `size_refusal`).
    """
    if path.is_dir():
        raise ValueError("is a directory")
    if path.stat().st_size == 0:
        raise ValueError("empty file (0 bytes)")
    # Our own guard replaces PIL's (which would refuse a huge JPEG before the reduced decode could help);
    # truncated files stay errors (PIL's LOAD_TRUNCATED_IMAGES default), never silently padded.
    bomb_limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as img:
                if img.format == "JPEG" and draft:
                    img.draft("RGB", (target, target))
                why = size_refusal(*img.size, target=target, max_pixels=max_pixels)
                if why is not None:
                    raise ValueError(why)
                img.load()
                return to_rgb(img)
    finally:
        Image.MAX_IMAGE_PIXELS = bomb_limit


def skip_reason(exc: BaseException) -> str:
    """A short, stable reason for skipped.jsonl."""
    if isinstance(exc, FileNotFoundError):
        return "missing file"
    if isinstance(exc, UnidentifiedImageError):
        return "not an image (unrecognised format)"
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if "truncated" in text.lower():
        return f"truncated image ({text})"
    return text


class ImageDataset(torch.utils.data.Dataset):
    """Item i → (i, uint8 tensor [3,H,W] or [K,3,H,W] + frame count, or a skip reason)."""

    def __init__(self, items: list[Item], transform: Callable[[Image.Image], torch.Tensor], *, target: int,
                 max_pixels: int, frames: int | None = None, decode: str = "draft") -> None:
        if decode not in DECODE_MODES:
            raise UserError(f"--decode {decode!r}: expected one of {', '.join(DECODE_MODES)}")
        self.items, self.transform, self.target = items, transform, target
        self.max_pixels, self.frames, self.draft = max_pixels, frames, DECODE_MODES[decode]

    def __len__(self) -> int:
        return len(self.items)

    def _one(self, path: Path) -> torch.Tensor:
        return self.transform(open_image(path, target=self.target, max_pixels=self.max_pixels, draft=self.draft))

    def __getitem__(self, i: int) -> tuple[int, torch.Tensor | None, int, str | None]:
        item = self.items[i]
        if self.frames is None:
            try:
                return i, self._one(item.paths[0]), 1, None
            except Exception as exc:  # noqa: BLE001 - any decode failure is a skip, never a crash
                return i, None, 0, skip_reason(exc)
        if not item.paths or item.paths[0].is_dir() or not item.paths[0].exists():
            return i, None, 0, "no frames (missing or empty video folder)"
        picked = [item.paths[j] for j in uniform_indices(len(item.paths), self.frames)]
        decoded, reason = [], None
        for p in picked:  # a broken frame is left out (the mask says so); the video survives
            try:
                decoded.append(self._one(p))
            except Exception as exc:  # noqa: BLE001
                reason = reason or f"{p.name}: {skip_reason(exc)}"
        if not decoded:
            return i, None, 0, f"no decodable frame ({reason})"
        out = torch.zeros((self.frames, *decoded[0].shape), dtype=decoded[0].dtype)
        out[: len(decoded)] = torch.stack(decoded)
        return i, out, len(decoded), None


def collate(batch: list[tuple[int, torch.Tensor | None, int, str | None]]) -> dict[str, object]:
    """Keep the decodable items stacked; carry the failures along as (index, reason)."""
    ok = [b for b in batch if b[1] is not None]
    return {
        "index": torch.tensor([b[0] for b in ok], dtype=torch.long),
        "pixels": torch.stack([b[1] for b in ok]) if ok else None,
        "count": torch.tensor([b[2] for b in ok], dtype=torch.long),
        "failed": [(b[0], b[3]) for b in batch if b[1] is None],
    }

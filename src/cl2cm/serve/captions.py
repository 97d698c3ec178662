"""What the page shows about an item besides its picture: captions from files given to `serve --captions`,
and the example queries it offers (`--examples FILE`, else captions the gallery knows)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from cl2cm.artifacts.captions import read_captions
from cl2cm.artifacts.io import read_lines
from cl2cm.errors import UserError

MAX_EXAMPLES = 6  # example queries shown on the page
MAX_EXAMPLE_CHARS = 200
MAX_CAPTIONS_PER_ITEM = 20  # an item's view lists at most this many captions


def _gallery_id(image: str, ids: set[str], stems: dict[str, str]) -> str | None:
    """The gallery id a caption's `image` field names: the same string, or the same without extension."""
    if image in ids:
        return image
    return stems.get(image.rsplit(".", 1)[0] if "." in image.rsplit("/", 1)[-1] else image)


def load_item_captions(paths: Sequence[Path], ids: Sequence[str]) -> dict[str, list[dict[str, str]]]:
    """Gallery id → [{"lang", "text"}, ...] from caption corpora in any format `read_captions` reads.

    Captions of images outside the gallery are ignored; file order is kept (the source captions first when
    the English file is given first)."""
    known = set(ids)
    stems = {(i.rsplit(".", 1)[0] if "." in i.rsplit("/", 1)[-1] else i): i for i in ids}
    out: dict[str, list[dict[str, str]]] = {}
    for path in paths:
        for cap in read_captions(path):
            item = _gallery_id(cap.image, known, stems)
            if item is not None and len(out.setdefault(item, [])) < MAX_CAPTIONS_PER_ITEM:
                out[item].append({"lang": cap.lang, "text": cap.text})
    return out


def load_examples(path: Path | None, captions: dict[str, list[dict[str, str]]], languages: list[str],
                  ids: Sequence[str]) -> list[str]:
    """Up to MAX_EXAMPLES queries: the lines of `path`, else one caption (in a model language when known)
    of each of the first captioned gallery items."""
    if path is not None:
        if not path.is_file():
            raise UserError("--examples: not a file", path=path)
        lines = [ln.strip() for ln in read_lines(path) if ln.strip()]
        if not lines:
            raise UserError("--examples: no example query in the file (one per line)", path=path)
        return [ln[:MAX_EXAMPLE_CHARS] for ln in lines[:MAX_EXAMPLES]]
    wanted = {lang.split("_")[0].lower() for lang in languages}
    out: list[str] = []
    for item in ids:
        caps = captions.get(item, [])
        pick = next((c["text"] for c in caps if c["lang"].split("_")[0].lower() in wanted), None)
        if pick is None and not wanted and caps:
            pick = caps[0]["text"]
        if pick and pick.strip() and pick.strip() not in out:
            out.append(pick.strip()[:MAX_EXAMPLE_CHARS])
        if len(out) == MAX_EXAMPLES:
            break
    return out

"""One folder of images with one caption file, split into train/val/test by a seeded fraction.

Each image goes to a split by a hash of (seed, image name), never by its position, so the split of an image
does not change when images are added or the captions reordered, and the same seed gives the same split on
any machine. `OUT/splits/` then holds ordinary split files (`<split>_images.txt`, `<split>.en.jsonl`, and
`<split>.<lang>.jsonl` from the target-language captions the config gives), which the stages read as they
read any dataset.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from cl2cm.artifacts.captions import iter_captions, write_captions
from cl2cm.artifacts.io import write_lines

SPLIT_DIR = "splits"


@dataclass
class WholeData:
    """`[data]` naming one folder: the images, their English captions, the fractions held out."""

    root: Path
    captions: Path
    val_fraction: float
    test_fraction: float
    target_captions: dict[str, Path] = field(default_factory=dict)


def split_of(image: str, seed: int, val: float, test: float) -> str:
    """test, val or train: a uniform draw in [0, 1) from sha256(seed, image)."""
    u = int(hashlib.sha256(f"{seed}\0{image}".encode()).hexdigest()[:13], 16) / 16**13
    return "test" if u < test else "val" if u < test + val else "train"


def split_files(out: Path, split: str, languages: list[str], gold: bool) -> dict[str, Path]:
    """Where a split's files go under OUT/splits."""
    d = out / SPLIT_DIR
    files = {"images": d / f"{split}_images.txt", "captions": d / f"{split}.en.jsonl"}
    if gold:
        files.update({lang: d / f"{split}.{lang}.jsonl" for lang in languages})
    return files


def write_splits(whole: WholeData, out: Path, seed: int, languages: list[str]) -> None:
    """Write OUT/splits/ (each file atomically; rewritten identically on a rerun)."""
    english = list(iter_captions(whole.captions, lang="en"))  # English by the config's definition
    images = list(dict.fromkeys(c.image for c in english))
    where = {image: split_of(image, seed, whole.val_fraction, whole.test_fraction) for image in images}
    gold = {lang: list(iter_captions(path, lang=lang)) for lang, path in whole.target_captions.items()}
    for split in ("train", "val", "test"):
        files = split_files(out, split, languages, split != "train" and bool(gold))
        files["images"].parent.mkdir(parents=True, exist_ok=True)
        write_lines(files["images"], [i for i in images if where[i] == split])
        write_captions(files["captions"], [c for c in english if where.get(c.image) == split])
        for lang, captions in gold.items():
            if lang in files:
                write_captions(files[lang], [c for c in captions if where.get(c.image) == split])

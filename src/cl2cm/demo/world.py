"""Generate the demo world: rendered scenes, caption corpora, the lexicon and two tiny offline models.

The world is written as an ordinary dataset, so every stage reads it exactly as it reads user data::

    WORLD/images/<split>/<split>-00000.png       64 px RGB scenes (image id = the file name)
    WORLD/<split>_images.txt                     the image list of a split (names relative to images/<split>)
    WORLD/<split>.en.jsonl                       5 English captions per image, ids <image>#<k>
    WORLD/{val,test}.{de,fr}.jsonl               gold German/French captions (translations of caption k)
    WORLD/scenes/<split>.jsonl                   what was drawn where (for tests and inspection)
    WORLD/lexicon.json                           en → de/fr lexicon for `cl2cm translate --backend lexicon`
    WORLD/encoder/                               tiny BERT (WordPiece on English train captions + target words)
    WORLD/tiny-vit.json                          open_clip config of a tiny random ViT (64 px, patch 16)
    WORLD/manifest.json                          kind "demo-world", written last (the commit marker)

Every image draws from its own RNG seeded by (seed, split, index, attempt), so a world is byte-identical
for a seed, and growing a split keeps its first images. Scenes are unique within a split (no two images
with the same objects), so every test query has exactly one right answer.
"""

from __future__ import annotations

import math
import os
import random
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from cl2cm.artifacts.captions import Caption, write_captions
from cl2cm.artifacts.io import atomic_open, temp_sibling, write_lines
from cl2cm.artifacts.lock import output_lock
from cl2cm.artifacts.manifest import MANIFEST_NAME, Manifest, read_manifest, remove_manifest, write_manifest
from cl2cm.demo.grammar import GOLD_LANGS, plan_captions, realise, word_forms
from cl2cm.demo.lexicon import ENTRIES, write_lexicon
from cl2cm.demo.scene import BACKGROUNDS, COLOURS, Obj, Scene, sample_scene
from cl2cm.errors import UserError
from cl2cm.progress import Progress, reporter
from cl2cm.translation.lexicon import stable_seed

KIND = "demo-world"
_WORD = re.compile(r"\w+|[^\w\s]")  # BERT's pre-tokenisation: words and single punctuation marks
SPLITS = ("train", "val", "test")
from cl2cm.config.demo import DEFAULT_SIZES  # noqa: E402,F401

# Geometry in units of the image side: object centres and radii (chosen so that objects never overlap).
CENTRES = {"top_left": (0.22, 0.22), "top_right": (0.78, 0.22), "bottom_left": (0.22, 0.78),
           "bottom_right": (0.78, 0.78), "centre": (0.5, 0.5)}
RADII = {"small": 0.085, "large": 0.15}
JITTER = 0.02


@dataclass
class WorldSummary:
    """What was generated (or found complete and reused)."""

    out_dir: Path
    images: dict[str, int]
    captions: dict[str, int]  # "<split>.<lang>" -> rows
    vocabulary: dict[str, int]  # language -> distinct words in its captions; "encoder" -> tokenizer size
    seconds: float
    seed: int
    reused: bool = False
    files: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------------------------- rendering
def render_scene(scene: Scene, rng: random.Random, image_size: int = 64) -> tuple[Image.Image, list[dict[str, Any]]]:
    """Draw a scene; returns the image and, per object, its attributes and the pixel centre/radius used."""
    s = image_size
    level = BACKGROUNDS[scene.background]
    bg = np.full((s, s, 3), level, dtype=np.int16)
    if scene.texture == "textured":  # faint diagonal stripes plus grain: a nuisance no caption mentions
        nrng = np.random.default_rng(rng.randrange(2**32))
        yy, xx = np.mgrid[0:s, 0:s]
        period = rng.choice((4, 6, 8))
        stripes = (((xx + yy) // (period // 2)) % 2) * 2 - 1
        bg = bg + stripes[..., None] * 8 + nrng.integers(-6, 7, size=(s, s, 1))
    img = Image.fromarray(np.clip(bg, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(img)
    drawn = []
    for o in scene.objects:
        fx, fy = CENTRES[o.position]
        cx = round((fx + rng.uniform(-JITTER, JITTER)) * s)
        cy = round((fy + rng.uniform(-JITTER, JITTER)) * s)
        r = RADII[o.size] * s
        _SHAPES[o.shape](draw, cx, cy, r, COLOURS[o.colour])
        drawn.append({"colour": o.colour, "shape": o.shape, "size": o.size, "position": o.position,
                      "cx": cx, "cy": cy, "r": round(r, 2)})
    return img, drawn


def _circle(draw: ImageDraw.ImageDraw, cx: float, cy: float, r: float, fill: tuple[int, int, int]) -> None:
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill)


def _square(draw: ImageDraw.ImageDraw, cx: float, cy: float, r: float, fill: tuple[int, int, int]) -> None:
    h = 0.85 * r
    draw.rectangle((cx - h, cy - h, cx + h, cy + h), fill=fill)


def _triangle(draw: ImageDraw.ImageDraw, cx: float, cy: float, r: float, fill: tuple[int, int, int]) -> None:
    draw.polygon([(cx, cy - r), (cx - 0.87 * r, cy + 0.5 * r), (cx + 0.87 * r, cy + 0.5 * r)], fill=fill)


def _star(draw: ImageDraw.ImageDraw, cx: float, cy: float, r: float, fill: tuple[int, int, int]) -> None:
    pts = []
    for k in range(10):
        rad = r if k % 2 == 0 else 0.45 * r
        ang = -math.pi / 2 + k * math.pi / 5
        pts.append((cx + rad * math.cos(ang), cy + rad * math.sin(ang)))
    draw.polygon(pts, fill=fill)


_SHAPES: dict[str, Callable[..., None]] = {"circle": _circle, "square": _square, "triangle": _triangle,
                                           "star": _star}


# --------------------------------------------------------------------------------------------- generation
def _signature(scene: Scene) -> frozenset[Obj]:
    return frozenset(scene.objects)


def _save_png(img: Image.Image, path: Path) -> None:
    """Temp file + rename: a killed run never leaves a truncated PNG under the final name."""
    tmp = temp_sibling(path)
    try:
        img.save(tmp, format="PNG", optimize=False)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _params(sizes: dict[str, int], seed: int, image_size: int, captions_per_image: int) -> dict[str, Any]:
    return {"sizes": sizes, "seed": seed, "image_size": image_size, "captions_per_image": captions_per_image}


def _check(sizes: dict[str, int], image_size: int, captions_per_image: int) -> None:
    for split, n in sizes.items():
        if n < 1:
            raise UserError(f"--{split} {n}: each split needs at least one image")
    if image_size < 32:
        raise UserError(f"--image-size {image_size}: at least 32 px")
    if not 1 <= captions_per_image <= 6:
        raise UserError(f"--captions {captions_per_image}: expected 1..6 captions per image")


def generate_world(
    out_dir: str | Path,
    *,
    n_train: int = DEFAULT_SIZES["train"],
    n_val: int = DEFAULT_SIZES["val"],
    n_test: int = DEFAULT_SIZES["test"],
    seed: int = 0,
    image_size: int = 64,
    captions_per_image: int = 5,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> WorldSummary:
    """Generate (or reuse, when complete with the same parameters) the demo world in `out_dir`."""
    start = time.perf_counter()
    out = Path(out_dir)
    sizes = {"train": n_train, "val": n_val, "test": n_test}
    _check(sizes, image_size, captions_per_image)
    params = _params(sizes, seed, image_size, captions_per_image)
    if out.exists() and not out.is_dir():
        raise UserError("exists and is not a directory", path=out)
    with output_lock(out):
        if (out / MANIFEST_NAME).exists():
            old = read_manifest(out)
            if old.kind != KIND:
                raise UserError(f"holds a {old.kind!r} artifact, not a demo world; choose another directory",
                                path=out)
            same = {k: old.extra.get(k) for k in params} == params
            if same and not overwrite:
                return _summary_from_manifest(out, old, time.perf_counter() - start)
            if not overwrite:
                raise UserError("already holds a demo world made with other parameters; pass --overwrite "
                                "or choose another directory", path=out)
        if overwrite and (out / "images").exists():
            remove_manifest(out)
            shutil.rmtree(out / "images")
        remove_manifest(out)
        return _generate(out, sizes, seed, image_size, captions_per_image, reporter(progress), start)


def _generate(out: Path, sizes: dict[str, int], seed: int, image_size: int, k: int,
              progress: Progress, start: float) -> WorldSummary:
    captions: dict[str, int] = {}
    words: dict[str, set[str]] = {"en": set(), **{lang: set() for lang in GOLD_LANGS}}
    train_en: list[str] = []
    for split in SPLITS:
        img_dir = out / "images" / split
        img_dir.mkdir(parents=True, exist_ok=True)
        langs = ("en",) if split == "train" else ("en", *GOLD_LANGS)
        corpora: dict[str, list[Caption]] = {lang: [] for lang in langs}
        names: list[str] = []
        scenes: list[dict[str, Any]] = []
        seen: set[frozenset[Obj]] = set()
        task = progress.task(f"render {split}", total=sizes[split], unit="img")
        for i in range(sizes[split]):
            attempt = 0
            while True:  # unique scenes within a split: every query has exactly one right image
                rng = random.Random(stable_seed(seed, split, i, attempt))
                scene = sample_scene(rng)
                if _signature(scene) not in seen:
                    break
                attempt += 1
            seen.add(_signature(scene))
            name = f"{split}-{i:05d}.png"
            img, drawn = render_scene(scene, rng, image_size)
            _save_png(img, img_dir / name)
            plans = plan_captions(rng, scene, k)
            for lang in langs:
                for j, plan in enumerate(plans):
                    text = realise(scene, plan, lang)
                    corpora[lang].append(Caption(id=f"{name}#{j}", image=name, lang=lang, text=text))
                    words[lang].update(text.lower().replace(",", " ").replace(":", " ").replace(".", " ").split())
            names.append(name)
            scenes.append({"image": name, "background": scene.background, "texture": scene.texture,
                           "objects": drawn})
            task.advance()
        task.close()
        for lang, recs in corpora.items():
            captions[f"{split}.{lang}"] = write_captions(out / f"{split}.{lang}.jsonl", recs)
        if split == "train":
            train_en = [c.text for c in corpora["en"]]
        _write_jsonl(out / "scenes" / f"{split}.jsonl", scenes)
        write_lines(out / f"{split}_images.txt", names)

    vocab = {lang: word_forms(lang) for lang in GOLD_LANGS}
    write_lexicon(out / "lexicon.json", vocab)
    encoder_vocab = _build_encoder(out / "encoder", train_en, vocab, seed)
    from cl2cm.models.tiny import tiny_open_clip_config

    tiny_open_clip_config(out / "tiny-vit.json", image_size=image_size, patch_size=16, width=64, layers=2)

    seconds = time.perf_counter() - start
    vocabulary = {lang: len(w) for lang, w in words.items()} | {"encoder": encoder_vocab}
    files = sorted(str(p.relative_to(out)) for p in out.iterdir() if not p.name.startswith("."))
    manifest = Manifest(
        kind=KIND,
        rows=sum(sizes.values()),
        model={"encoder": "encoder", "visual": "tiny-vit.json"},
        extra=_params(sizes, seed, image_size, k) | {
            "captions": captions, "vocabulary": vocabulary, "languages": ["en", *GOLD_LANGS],
            "gold_languages": list(GOLD_LANGS), "seconds": round(seconds, 2), "files": files + [MANIFEST_NAME],
        },
    )
    write_manifest(out, manifest)
    return WorldSummary(out, dict(sizes), captions, vocabulary, seconds, seed, False, manifest.extra["files"])


# Inflection endings as continuation pieces, as a real multilingual WordPiece vocabulary has them.
SUBWORD_SUFFIXES = ("e", "em", "en", "er", "es", "n", "s")


def _build_encoder(path: Path, train_en: list[str], vocab: dict[str, list[str]], seed: int) -> int:
    """Tiny BERT whose WordPiece vocabulary covers the English training text and the target lexicon.

    The target side sees only the lexicon's words (base forms, as the dictionary translator emits them),
    never a target sentence, plus inflection endings and every character as continuation pieces. So a gold
    caption's inflected form splits into its stem and ending ("roter" → "rot" "##er"), as a multilingual
    subword tokenizer would split it, and shares the stem with the machine-translated training text; were
    inflected forms whole tokens, they would never occur in training (the lexicon never inflects) and the
    test queries' adjectives would be unknown to every model. The vocabulary is listed in sorted order
    rather than trained, so it is the same in every process (the WordPiece trainer breaks ties in hash
    order). `vocab` (every gold word form) is used only so that no character is unknown.
    """
    from cl2cm.models.tiny import build_tiny_bert

    target_words = {w for senses in ENTRIES.values() for opts in senses.values() for o in opts for w in o.split()}
    target_words |= {w[:1].upper() + w[1:] for w in target_words}  # sentence-initial forms
    texts = train_en + sorted(target_words)
    words = sorted({w for t in texts for w in _WORD.findall(t)})
    chars = sorted({ch for w in [*words, *(f for forms in vocab.values() for f in forms)] for ch in w})
    pieces = sorted({f"##{ch}" for ch in chars} | {f"##{suffix}" for suffix in SUBWORD_SUFFIXES})
    tokens = chars + pieces + [w for w in words if len(w) > 1]
    if path.exists():
        shutil.rmtree(path)
    from transformers import AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # our own progress display is the only one
    try:
        build_tiny_bert(path, texts, vocab=tokens, max_length=96, seed=seed)
    finally:
        hf_logging.enable_progress_bar()
    return len(AutoTokenizer.from_pretrained(path))


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    import json

    with atomic_open(path, "w") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def _summary_from_manifest(out: Path, manifest: Manifest, seconds: float) -> WorldSummary:
    ex = manifest.extra
    return WorldSummary(out, dict(ex["sizes"]), dict(ex["captions"]), dict(ex["vocabulary"]), seconds,
                        int(ex["seed"]), True, list(ex.get("files", [])))

"""The demo world: deterministic, an ordinary dataset, captions faithful to the pixels, proper gold grammar."""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cl2cm.artifacts.captions import read_captions
from cl2cm.artifacts.manifest import read_manifest
from cl2cm.demo.grammar import EN_POS, EN_SIZE
from cl2cm.demo.scene import COLOURS, SHAPES, sample_scene
from cl2cm.demo.world import generate_world
from cl2cm.errors import UserError
from cl2cm.translation.lexicon import LexiconTranslator

SIZES = {"n_train": 30, "n_val": 10, "n_test": 24}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("world") / "w"
    generate_world(out, seed=0, **SIZES)
    return out


def files_of(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != "manifest.json" and not p.name.startswith(".")}


def scenes(world: Path, split: str) -> list[dict]:
    return [json.loads(line) for line in (world / "scenes" / f"{split}.jsonl").read_text().splitlines()]


def test_same_seed_is_byte_identical_and_growing_a_split_keeps_its_prefix(world: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    generate_world(again, seed=0, **SIZES)
    a, b = files_of(world), files_of(again)
    assert a.keys() == b.keys() and len(a) > 60
    assert [k for k in a if a[k] != b[k]] == []  # images, captions, lexicon, encoder files: all identical

    other = tmp_path / "other"
    generate_world(other, seed=1, n_train=40, n_val=10, n_test=24)
    c = files_of(other)
    assert a["test.en.jsonl"] != c["test.en.jsonl"]
    assert a["images/test/test-00000.png"] != c["images/test/test-00000.png"]
    grown = tmp_path / "grown"
    generate_world(grown, seed=0, n_train=40, n_val=10, n_test=24)
    d = files_of(grown)
    assert all(d[f"images/train/train-{i:05d}.png"] == a[f"images/train/train-{i:05d}.png"] for i in range(30))
    assert d["train.en.jsonl"].startswith(a["train.en.jsonl"]) and d["test.fr.jsonl"] == a["test.fr.jsonl"]


def test_images_are_64px_rgb_pngs_listed_per_split(world: Path) -> None:
    for split, n in (("train", 30), ("val", 10), ("test", 24)):
        names = (world / f"{split}_images.txt").read_text().splitlines()
        assert len(names) == n == len(set(names))
        for name in names[:5]:
            with Image.open(world / "images" / split / name) as im:
                assert (im.format, im.mode, im.size) == ("PNG", "RGB", (64, 64))


def test_caption_corpora_pair_by_id_across_languages(world: Path) -> None:
    assert not (world / "train.de.jsonl").exists()  # no target-language annotation for training
    train = read_captions(world / "train.en.jsonl")
    assert len(train) == 30 * 5 and {c.lang for c in train} == {"en"}
    for split in ("val", "test"):
        names = (world / f"{split}_images.txt").read_text().splitlines()
        corpora = {lang: read_captions(world / f"{split}.{lang}.jsonl") for lang in ("en", "de", "fr")}
        ids = [c.id for c in corpora["en"]]
        assert ids == [f"{n}#{k}" for n in names for k in range(5)]
        for lang in ("de", "fr"):
            assert [c.id for c in corpora[lang]] == ids and {c.lang for c in corpora[lang]} == {lang}
            assert all(c.image == c.id.split("#")[0] for c in corpora[lang])
    manifest = read_manifest(world, kind="demo-world")
    assert manifest.rows == 64 and manifest.extra["sizes"] == {"train": 30, "val": 10, "test": 24}
    assert manifest.extra["captions"]["test.fr"] == 24 * 5


ENGLISH = {"the", "a", "and", "small", "little", "large", "big", "red", "green", "blue", "yellow", "circle",
           "square", "triangle", "star", "background", "there", "picture", "shapes", "objects", "left", "right"}
DE_ENDINGS = {  # (article, adjective ending) allowed before each noun: nominative, accusative, dative
    "Kreis": {("ein", "er"), ("einen", "en"), ("einem", "en")},
    "Stern": {("ein", "er"), ("einen", "en"), ("einem", "en")},
    "Quadrat": {("ein", "es"), ("einem", "en")},
    "Dreieck": {("ein", "es"), ("einem", "en")},
}
FR_FEMININE = {"rouge", "verte", "bleue", "jaune", "violette", "orange"}


def test_gold_captions_are_target_language_with_agreement(world: Path) -> None:
    de = [c.text for c in read_captions(world / "test.de.jsonl")]
    fr = [c.text for c in read_captions(world / "test.fr.jsonl")]
    for texts, shared in ((de, set()), (fr, {"a", "triangle"})):  # "il y a", "triangle" are French too
        words = Counter(w for t in texts for w in re.findall(r"\w+", t.lower()))
        assert not (set(words) & (ENGLISH - shared)), set(words) & ENGLISH
    np_de = re.compile(r"\b([Ee]in\w*) (klein|groß)(\w*) \w+?(er|es|en) (Kreis|Stern|Quadrat|Dreieck)\b")
    found = 0
    for t in de:
        for art, _size, end, colour_end, noun in np_de.findall(t):
            assert end == colour_end and (art.lower(), end) in DE_ENDINGS[noun], t
            found += 1
    assert found >= len(de)  # every caption names at least one object, each one checked
    for t in fr:
        for _size, colour in re.findall(r"\bune (petite|grande) étoile (\w+)", t):
            assert colour in FR_FEMININE, t
        for size, _noun in re.findall(r"\bun (\w+) (cercle|carré|triangle)\b", t):
            assert size in ("petit", "grand"), t
    assert any("étoile" in t for t in fr) and any("Quadrat" in t or "Dreieck" in t for t in de)


def test_captions_are_faithful_to_the_pixels(world: Path) -> None:
    for split in ("train", "test"):
        caps: dict[str, list[str]] = {}
        for c in read_captions(world / f"{split}.en.jsonl"):
            caps.setdefault(c.image, []).append(c.text.lower())
        for scene in scenes(world, split):
            px = np.asarray(Image.open(world / "images" / split / scene["image"]))
            for o in scene["objects"]:
                # the renderer drew the object where the scene says, in its exact colour
                assert tuple(px[o["cy"], o["cx"]]) == COLOURS[o["colour"]]
                sizes = "|".join(EN_SIZE[o["size"]])
                noun_phrase = rf"a ({sizes}) {o['colour']} {o['shape']}"
                place = "|".join(EN_POS[o["position"]])
                for text in caps[scene["image"]]:  # every caption names every object with its place
                    assert re.search(rf"{noun_phrase} ({place})|({place}) {noun_phrase}", text), (text, o)
            assert len(caps[scene["image"]]) == 5


AREA_SPLIT = {"circle": 180, "square": 180, "triangle": 75, "star": 60}  # pixels: small below, large above


def test_caption_alone_locates_the_named_colour_in_the_image(world: Path) -> None:
    """Independent of the scene metadata: read a one-object caption, find its colour in the pixels."""
    checked = 0
    for split in ("train", "val", "test"):
        for c in read_captions(world / f"{split}.en.jsonl"):
            text = c.text.lower()
            colours = [name for name in COLOURS if re.search(rf"\b{name}\b", text)]
            shapes = [s for s in SHAPES if re.search(rf"\b{s}\b", text)]
            if len(shapes) != 1 or len(colours) != 1 or re.search(r"\b(two|three)\b", text):
                continue
            px = np.asarray(Image.open(world / "images" / split / c.image)).astype(int)
            mask = (np.abs(px - np.array(COLOURS[colours[0]])).sum(-1) == 0)
            assert mask.sum() > 20, c.text
            ys, xs = np.nonzero(mask)
            cx, cy = xs.mean() / 64, ys.mean() / 64
            horizontal = "left" if "left" in text else "right" if "right" in text else "centre"
            vertical = "top" if ("top" in text or "upper" in text) else "bottom" if (
                "bottom" in text or "lower" in text) else "centre"
            assert {"left": cx < 0.4, "right": cx > 0.6, "centre": 0.4 < cx < 0.6}[horizontal], c.text
            assert {"top": cy < 0.4, "bottom": cy > 0.6, "centre": 0.4 < cy < 0.6}[vertical], c.text
            big = bool(re.search(r"\b(large|big)\b", text))
            assert (mask.sum() > AREA_SPLIT[shapes[0]]) == big, (c.text, mask.sum())
            checked += 1
    assert checked >= 20


def test_retrieval_is_not_solvable_by_colour_alone() -> None:
    rng = random.Random(0)
    sampled = [sample_scene(rng) for _ in range(500)]
    palettes = Counter(frozenset(o.colour for o in s.objects) for s in sampled)
    ambiguous = sum(palettes[frozenset(o.colour for o in s.objects)] > 1 for s in sampled)
    assert ambiguous / len(sampled) > 0.3  # most images share their set of colours with another image
    assert any(len({o.colour for o in s.objects}) < len(s.objects) for s in sampled)  # repeated colours


def test_lexicon_and_encoder_cover_the_world(world: Path) -> None:
    from transformers import AutoTokenizer

    en = [c.text for c in read_captions(world / "train.en.jsonl")]
    tr = LexiconTranslator(world / "lexicon.json", "de", noise=0.0)
    unknown = [u.source for t in en for u in tr.translate_one(t).units if u.op == "unknown"]
    assert unknown == []  # every English word the grammar uses is in the lexicon
    tok = AutoTokenizer.from_pretrained(world / "encoder")
    gold = [c.text for lang in ("de", "fr") for c in read_captions(world / f"test.{lang}.jsonl")]
    ids = tok(gold + tr.translate(en[:50]))["input_ids"]
    assert all(tok.unk_token_id not in row and len(row) <= 96 for row in ids)
    # Gold inflected forms split into the stem the lexicon MT emits + an ending (a shared training signal).
    assert tok.tokenize("ein kleines rotes Quadrat") == ["ein", "klein", "##es", "rot", "##es", "Quadrat"]
    assert tok.tokenize("une petite étoile verte") == ["une", "petit", "##e", "étoile", "vert", "##e"]
    cfg = json.loads((world / "tiny-vit.json").read_text())
    assert cfg["vision_cfg"]["image_size"] == 64 and cfg["vision_cfg"]["patch_size"] == 16


def test_rerun_reuses_and_other_parameters_are_refused(world: Path) -> None:
    again = generate_world(world, seed=0, **SIZES)
    assert again.reused and again.images == {"train": 30, "val": 10, "test": 24}
    with pytest.raises(UserError, match="--overwrite"):
        generate_world(world, seed=5, **SIZES)
    with pytest.raises(UserError, match="--val 0"):
        generate_world(world, n_train=3, n_val=0, n_test=3)

"""A tiny synthetic world for distill tests: features that encode a scene, captions that describe it.

Each image has a left and a right slot, each empty or holding a coloured shape. Its pooled features are a
fixed random linear code of (slot, colour, shape) plus noise; its patch tokens are one token per slot (so
a head must read *which* token says what). English captions describe the whole scene; the "German"
translations go word by word through a small lexicon with a given rate of wrong-sense substitutions (the
noise of a machine translation); validation captions are clean German. Used by test_distill.py and by the
DDP script it launches.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import torch

from cl2cm.artifacts.manifest import Manifest
from cl2cm.artifacts.store import save_store

COLOURS = {"red": "rot", "blue": "blau", "green": "grün", "yellow": "gelb", "black": "schwarz", "white": "weiß"}
SHAPES = {"circle": "Kreis", "square": "Quadrat", "triangle": "Dreieck", "star": "Stern"}
SIDES = {"left": "links", "right": "rechts"}
EMPTY = ("nothing", "nichts")


def _scene(rng: random.Random) -> tuple[tuple[str, str] | None, tuple[str, str] | None]:
    def slot() -> tuple[str, str]:
        return rng.choice(list(COLOURS)), rng.choice(list(SHAPES))

    left, right = slot(), slot()
    r = rng.random()
    return (left, None) if r < 0.15 else (None, right) if r < 0.3 else (left, right)


def _en(scene: tuple, rng: random.Random) -> str:
    parts = [f"a {o[0]} {o[1]} on the {side}" for o, side in zip(scene, SIDES, strict=True) if o is not None]
    if rng.random() < 0.5:
        parts = parts[::-1]
    return " and ".join(parts)


def _de(en: str, rng: random.Random, noise: float) -> str:
    table = {**COLOURS, **SHAPES, **SIDES, "a": "ein", "on": "auf", "the": "der", "and": "und"}
    wrong = {**{k: list(COLOURS.values()) for k in COLOURS}, **{k: list(SHAPES.values()) for k in SHAPES},
             **{k: list(SIDES.values()) for k in SIDES}}
    out = []
    for w in en.split():
        if w in wrong and rng.random() < noise:
            out.append(rng.choice(wrong[w]))
        else:
            out.append(table[w])
    return " ".join(out)


def _features(scenes: list[tuple], code: dict[str, torch.Tensor], g: torch.Generator, noise: float = 0.3
              ) -> tuple[torch.Tensor, torch.Tensor]:
    width = code["colour"].shape[-1]
    tokens = torch.zeros(len(scenes), 2, width)
    for i, sc in enumerate(scenes):
        for s, obj in enumerate(sc):
            if obj is None:
                tokens[i, s] = code["empty"]
            else:
                tokens[i, s] = code["colour"][list(COLOURS).index(obj[0])] + code["shape"][list(SHAPES).index(obj[1])]
    tokens = tokens + noise * torch.randn(tokens.shape, generator=g)
    pooled = torch.einsum("nsw,swd->nd", tokens, code["slot_proj"])  # where matters: one map per slot
    return pooled, tokens


def build_world(root: Path, *, train_images: int = 240, val_images: int = 100, captions: int = 2,
                noise: float = 0.3, seed: int = 0, model_name: str = "synthetic-A") -> dict[str, Path]:
    """Write stores and caption corpora under `root`; return their paths."""
    rng = random.Random(seed)
    g = torch.Generator().manual_seed(seed)
    width, dim = 16, 24
    code = {"colour": torch.randn(len(COLOURS), width, generator=g), "shape": torch.randn(len(SHAPES), width, generator=g),
            "empty": torch.randn(width, generator=g), "slot_proj": torch.randn(2, width, dim, generator=g) / width ** 0.5}
    paths: dict[str, Path] = {}
    for split, n in (("train", train_images), ("val", val_images)):
        scenes = [_scene(rng) for _ in range(n)]
        ids = [f"{split}{i:04d}.png" for i in range(n)]
        pooled, tokens = _features(scenes, code, g)
        save_store(root / f"feats-{split}", pooled.half(), ids, Manifest(kind="features", model={"name": model_name}),
                   extra={"tokens": tokens.half()})
        paths[f"feats_{split}"] = root / f"feats-{split}"
        en_rows, de_rows = [], []
        k = captions if split == "train" else 1
        for image, sc in zip(ids, scenes, strict=True):
            for j in range(k):
                en = _en(sc, rng)
                de = _de(en, rng, noise if split == "train" else 0.0)
                en_rows.append({"id": f"{image}#{j}", "image": image, "lang": "en", "text": en})
                de_rows.append({"id": f"{image}#{j}", "image": image, "lang": "de", "text": de})
        for lang, rows in (("en", en_rows), ("de", de_rows)):
            path = root / f"{split}.{lang}.jsonl"
            path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
            paths[f"{split}_{lang}"] = path
    return paths

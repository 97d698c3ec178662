"""The demo world's scene model: what can be in a picture, and a seeded sampler of scenes.

The attribute sets follow the calibration in docs/demo.md (what a frozen random encoder keeps): 1–3 objects, 6 colours,
4 shapes, 2 sizes, 5 positions, plain or lightly textured backgrounds. Objects of one scene take distinct
positions but may share colours or shapes, so no single attribute identifies a scene.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from typing import Any

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "green": (30, 170, 50),
    "blue": (40, 70, 230),
    "yellow": (240, 220, 30),
    "purple": (150, 40, 190),
    "orange": (250, 140, 20),
}
SHAPES = ("circle", "square", "triangle", "star")
SIZES = ("small", "large")
POSITIONS = ("top_left", "top_right", "bottom_left", "bottom_right", "centre")
BACKGROUNDS: dict[str, int] = {"white": 235, "grey": 140, "black": 25}  # grey level of the backdrop
TEXTURES = ("plain", "textured")


@dataclass(frozen=True)
class Obj:
    colour: str
    shape: str
    size: str
    position: str


@dataclass(frozen=True)
class Scene:
    objects: tuple[Obj, ...]
    background: str
    texture: str

    def to_dict(self) -> dict[str, Any]:
        return {"objects": [asdict(o) for o in self.objects], "background": self.background,
                "texture": self.texture}


def sample_scene(rng: random.Random, *, max_objects: int = 3) -> Scene:
    """One scene: 1..max_objects objects at distinct positions, independent attributes."""
    n = rng.randint(1, max_objects)
    positions = rng.sample(POSITIONS, n)
    objects = tuple(
        Obj(colour=rng.choice(list(COLOURS)), shape=rng.choice(SHAPES), size=rng.choice(SIZES), position=p)
        for p in positions
    )
    return Scene(objects=objects, background=rng.choice(list(BACKGROUNDS)), texture=rng.choice(TEXTURES))

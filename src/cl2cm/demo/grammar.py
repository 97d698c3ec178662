"""Caption grammars of the demo world: English, German and French, realising one shared caption plan.

Every caption describes the WHOLE scene (the calibration showed that captions naming only one object make
retrieval from a random encoder collapse). A `CaptionPlan` fixes the template, the order in which the
objects are mentioned and the synonym choices; each language realises the same plan, so the German and
French gold captions with id ``<image>#<k>`` are translations of English caption k, as in Multi30K.
The target grammars inflect properly: German article and adjective endings follow gender and case
(``ein kleiner roter Kreis`` / ``einen kleinen roten Kreis`` / ``einem kleinen roten Kreis``,
``ein kleines rotes Quadrat``), French adjectives agree in gender and the size adjective precedes the
noun while the colour follows it (``une petite étoile verte``).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass

from cl2cm.demo.scene import BACKGROUNDS, COLOURS, POSITIONS, SHAPES, SIZES, Obj, Scene

N_TEMPLATES = 6
_GLOBAL_SLOTS = 2  # slot 0: the collective noun ("shapes"/"objects"), slot 1: background synonym


@dataclass(frozen=True)
class CaptionPlan:
    """What a caption says, independent of language: template, object order and synonym picks."""

    template: int
    order: tuple[int, ...]
    picks: tuple[int, ...]

    def pick(self, slot: int, options: list[str] | tuple[str, ...]) -> str:
        return options[self.picks[slot] % len(options)]


def plan_captions(rng: random.Random, scene: Scene, k: int = 5) -> list[CaptionPlan]:
    """k plans with distinct templates (k <= 6), each with its own object order and synonym picks."""
    if not 1 <= k <= N_TEMPLATES:
        raise ValueError(f"captions per image must be 1..{N_TEMPLATES}, got {k}")
    plans = []
    for template in rng.sample(range(N_TEMPLATES), k):
        order = list(range(len(scene.objects)))
        rng.shuffle(order)
        picks = tuple(rng.randrange(60) for _ in range(_GLOBAL_SLOTS + 2 * 3))
        plans.append(CaptionPlan(template, tuple(order), picks))
    return plans


def _join(items: list[str], conj: str) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + f" {conj} " + items[-1]


def _sentence(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return text[0].upper() + text[1:] + "."


def _objects(scene: Scene, plan: CaptionPlan) -> list[tuple[Obj, int]]:
    """The objects in mention order with the first synonym slot of each."""
    return [(scene.objects[i], _GLOBAL_SLOTS + 2 * rank) for rank, i in enumerate(plan.order)]


# ---------------------------------------------------------------------------------------------- English
EN_SIZE = {"small": ["small", "little"], "large": ["large", "big"]}
EN_POS = {
    "top_left": ["in the top left corner", "at the top left", "in the upper left"],
    "top_right": ["in the top right corner", "at the top right", "in the upper right"],
    "bottom_left": ["in the bottom left corner", "at the bottom left", "in the lower left"],
    "bottom_right": ["in the bottom right corner", "at the bottom right", "in the lower right"],
    "centre": ["in the middle", "in the centre", "at the center"],
}
EN_BG = {"white": ["white"], "grey": ["grey", "gray"], "black": ["black"]}
EN_NUM = {2: "two", 3: "three"}


def realise_en(scene: Scene, plan: CaptionPlan) -> str:
    def np(o: Obj, s: int) -> str:
        return f"a {plan.pick(s, EN_SIZE[o.size])} {o.colour} {o.shape}"

    objs = _objects(scene, plan)
    items = [f"{np(o, s)} {plan.pick(s + 1, EN_POS[o.position])}" for o, s in objs]
    lst = _join(items, "and")
    n, noun, bg = len(objs), plan.pick(0, ["shapes", "objects"]), plan.pick(1, EN_BG[scene.background])
    count = f"a single {noun[:-1]}" if n == 1 else f"{EN_NUM[n]} {noun}"
    t = plan.template
    text = {
        0: lst,
        1: f"there is {lst}" if n == 1 else f"there are {count}: {lst}",
        2: f"a picture of {lst}",
        3: f"{lst} on a {bg} background",
        4: f"{count} on a {bg} background: {lst}",
        5: _join([f"{plan.pick(s + 1, EN_POS[o.position])} {np(o, s)}" for o, s in objs], "and"),
    }[t]
    return _sentence(text)


# ----------------------------------------------------------------------------------------------- German
DE_NOUN = {"circle": ("Kreis", "m"), "square": ("Quadrat", "n"), "triangle": ("Dreieck", "n"),
           "star": ("Stern", "m")}
DE_COLOUR = {"red": "rot", "green": "grün", "blue": "blau", "yellow": "gelb", "purple": "violett",
             "orange": "orangefarben"}
DE_SIZE = {"small": ["klein"], "large": ["groß"]}
# mixed declension after the indefinite article: (article, adjective ending) by case and gender
DE_DECL = {
    "nom": {"m": ("ein", "er"), "n": ("ein", "es"), "f": ("eine", "e")},
    "acc": {"m": ("einen", "en"), "n": ("ein", "es"), "f": ("eine", "e")},
    "dat": {"m": ("einem", "en"), "n": ("einem", "en"), "f": ("einer", "en")},
}
DE_POS = {
    "top_left": ["oben links", "in der oberen linken Ecke", "links oben"],
    "top_right": ["oben rechts", "in der oberen rechten Ecke", "rechts oben"],
    "bottom_left": ["unten links", "in der unteren linken Ecke", "links unten"],
    "bottom_right": ["unten rechts", "in der unteren rechten Ecke", "rechts unten"],
    "centre": ["in der Mitte", "in der Bildmitte"],
}
DE_BG_DAT = {"white": "weißem", "grey": "grauem", "black": "schwarzem"}  # strong dative masculine
DE_NUM = {2: "zwei", 3: "drei"}


def de_np(o: Obj, case: str, plan: CaptionPlan, slot: int) -> str:
    noun, gender = DE_NOUN[o.shape]
    article, ending = DE_DECL[case][gender]
    return f"{article} {plan.pick(slot, DE_SIZE[o.size])}{ending} {DE_COLOUR[o.colour]}{ending} {noun}"


def realise_de(scene: Scene, plan: CaptionPlan) -> str:
    objs = _objects(scene, plan)

    def lst(case: str) -> str:
        return _join([f"{de_np(o, case, plan, s)} {plan.pick(s + 1, DE_POS[o.position])}" for o, s in objs], "und")

    n, bg = len(objs), DE_BG_DAT[scene.background]
    plural = plan.pick(0, ["Formen", "Objekte"])
    count = {"Formen": "eine einzelne Form", "Objekte": "ein einzelnes Objekt"}[plural] if n == 1 \
        else f"{DE_NUM[n]} {plural}"
    text = {
        0: lst("nom"),
        1: f"es gibt {lst('acc')}" if n == 1 else f"es gibt {DE_NUM[n]} {plural}: {lst('nom')}",
        2: f"ein Bild mit {lst('dat')}",
        3: f"{lst('nom')} auf {bg} Hintergrund",
        4: f"{count} auf {bg} Hintergrund: {lst('nom')}",
        5: _join([f"{plan.pick(s + 1, DE_POS[o.position])} {de_np(o, 'nom', plan, s)}" for o, s in objs], "und"),
    }[plan.template]
    return _sentence(text)


# ----------------------------------------------------------------------------------------------- French
FR_NOUN = {"circle": ("cercle", "m"), "square": ("carré", "m"), "triangle": ("triangle", "m"),
           "star": ("étoile", "f")}
FR_COLOUR = {"red": ("rouge", "rouge"), "green": ("vert", "verte"), "blue": ("bleu", "bleue"),
             "yellow": ("jaune", "jaune"), "purple": ("violet", "violette"), "orange": ("orange", "orange")}
FR_SIZE = {"small": ("petit", "petite"), "large": ("grand", "grande")}
FR_POS = {
    "top_left": ["en haut à gauche", "dans le coin supérieur gauche"],
    "top_right": ["en haut à droite", "dans le coin supérieur droit"],
    "bottom_left": ["en bas à gauche", "dans le coin inférieur gauche"],
    "bottom_right": ["en bas à droite", "dans le coin inférieur droit"],
    "centre": ["au centre", "au milieu"],
}
FR_BG = {"white": "blanc", "grey": "gris", "black": "noir"}
FR_NUM = {2: "deux", 3: "trois"}


def fr_np(o: Obj) -> str:
    noun, gender = FR_NOUN[o.shape]
    g = 0 if gender == "m" else 1
    article = "un" if gender == "m" else "une"
    return f"{article} {FR_SIZE[o.size][g]} {noun} {FR_COLOUR[o.colour][g]}"


def realise_fr(scene: Scene, plan: CaptionPlan) -> str:
    objs = _objects(scene, plan)
    lst = _join([f"{fr_np(o)} {plan.pick(s + 1, FR_POS[o.position])}" for o, s in objs], "et")
    n, bg = len(objs), FR_BG[scene.background]
    plural = plan.pick(0, ["formes", "objets"])
    count = {"formes": "une seule forme", "objets": "un seul objet"}[plural] if n == 1 else f"{FR_NUM[n]} {plural}"
    text = {
        0: lst,
        1: f"il y a {lst}" if n == 1 else f"il y a {count} : {lst}",
        2: f"une image avec {lst}",
        3: f"{lst} sur un fond {bg}",
        4: f"{count} sur un fond {bg} : {lst}",
        5: _join([f"{plan.pick(s + 1, FR_POS[o.position])} {fr_np(o)}" for o, s in objs], "et"),
    }[plan.template]
    return _sentence(text)


REALISERS: dict[str, Callable[[Scene, CaptionPlan], str]] = {"en": realise_en, "de": realise_de, "fr": realise_fr}
GOLD_LANGS = ("de", "fr")


def realise(scene: Scene, plan: CaptionPlan, lang: str) -> str:
    return REALISERS[lang](scene, plan)


def word_forms(lang: str) -> list[str]:
    """Every word form the grammar of `lang` can produce (for the demo tokenizer's vocabulary)."""
    words: set[str] = set()
    objs = [Obj(c, sh, sz, p) for c in COLOURS for sh in SHAPES for sz in SIZES for p in POSITIONS]
    bgs = list(BACKGROUNDS)
    scenes = [Scene((o,), bgs[i % len(bgs)], "plain") for i, o in enumerate(objs)]
    first = scenes[0].objects[0]
    scenes += [Scene(tuple(Obj(first.colour, first.shape, first.size, p) for p in POSITIONS[:n]), "grey", "plain")
               for n in (2, 3)]
    for scene in scenes:
        for t in range(N_TEMPLATES):
            for j in range(6):  # picks j = 0..5 cover every variant of lists of length 1, 2 and 3
                plan = CaptionPlan(t, tuple(range(len(scene.objects))), (j,) * (_GLOBAL_SLOTS + 6))
                words.update(re.findall(r"[\w'-]+", realise(scene, plan, lang)))
    return sorted(words | {w.lower() for w in words})

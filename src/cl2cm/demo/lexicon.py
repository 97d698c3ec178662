"""The demo world's bilingual lexicon: the English → de/fr dictionary its "MT system" translates with.

CL2CM's premise is that machine-translated training captions are noisy. Offline there is no MT model, so
the demo translates its English captions with `cl2cm.translation.lexicon` (`translate --backend lexicon`),
a dictionary translator with seeded MT-like errors, reading the lexicon this module writes
(WORLD/lexicon.json). Each entry lists the correct translation first, then plausible wrong senses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cl2cm.artifacts.io import atomic_write_json
from cl2cm.translation.lexicon import build_lexicon as _build

# ------------------------------------------------------------------------------------------------- data
# English → {lang: [correct, wrong senses...]}. Multi-word keys are matched before single words.
ENTRIES: dict[str, dict[str, list[str]]] = {
    # function words and frames
    "a": {"de": ["ein", "eine", "einen"], "fr": ["un", "une"]},
    "the": {"de": ["die", "der", "das"], "fr": ["le", "la"]},
    "and": {"de": ["und", "sowie"], "fr": ["et", "puis"]},
    "of": {"de": ["von", "aus"], "fr": ["de", "du"]},
    "on": {"de": ["auf", "an"], "fr": ["sur", "en"]},
    "with": {"de": ["mit", "bei"], "fr": ["avec", "chez"]},
    "in": {"de": ["in", "im"], "fr": ["dans", "en"]},
    "at": {"de": ["an", "bei"], "fr": ["à", "chez"]},
    "there is": {"de": ["es gibt", "dort ist"], "fr": ["il y a", "là est"]},
    "there are": {"de": ["es gibt", "dort sind"], "fr": ["il y a", "là sont"]},
    "picture": {"de": ["Bild", "Gemälde", "Film"], "fr": ["image", "tableau", "film"]},
    "image": {"de": ["Bild", "Abbild"], "fr": ["image", "reflet"]},
    "shape": {"de": ["Form", "Zustand", "Gestalt"], "fr": ["forme", "état"]},
    "shapes": {"de": ["Formen", "Zustände"], "fr": ["formes", "états"]},
    "object": {"de": ["Objekt", "Einwand", "Ziel"], "fr": ["objet", "objectif"]},
    "objects": {"de": ["Objekte", "Einwände", "Ziele"], "fr": ["objets", "objectifs"]},
    "background": {"de": ["Hintergrund", "Herkunft", "Vorgeschichte"], "fr": ["fond", "origine", "passé"]},
    "single": {"de": ["einzelne", "ledige", "einfache"], "fr": ["seule", "célibataire"]},
    "one": {"de": ["eine", "man"], "fr": ["une", "on"]},
    "two": {"de": ["zwei", "beide"], "fr": ["deux"]},
    "three": {"de": ["drei"], "fr": ["trois"]},
    # sizes
    "small": {"de": ["klein", "gering", "wenig"], "fr": ["petit", "peu", "faible"]},
    "little": {"de": ["klein", "wenig", "bisschen"], "fr": ["petit", "peu"]},
    "large": {"de": ["groß", "weit", "breit"], "fr": ["grand", "large", "gros"]},
    "big": {"de": ["groß", "dick", "wichtig"], "fr": ["grand", "gros", "important"]},
    # colours
    "red": {"de": ["rot", "kommunistisch"], "fr": ["rouge", "communiste"]},
    "green": {"de": ["grün", "unerfahren", "Rasen"], "fr": ["vert", "novice", "pelouse"]},
    "blue": {"de": ["blau", "traurig", "betrunken"], "fr": ["bleu", "triste"]},
    "yellow": {"de": ["gelb", "feige"], "fr": ["jaune", "lâche"]},
    "purple": {"de": ["violett", "lila", "Purpur"], "fr": ["violet", "pourpre"]},
    "orange": {"de": ["orange", "Orange", "Apfelsine"], "fr": ["orange", "agrume"]},
    "white": {"de": ["weiß", "Weißwein"], "fr": ["blanc", "vin blanc"]},
    "grey": {"de": ["grau", "trüb"], "fr": ["gris", "terne"]},
    "gray": {"de": ["grau", "trüb"], "fr": ["gris", "terne"]},
    "black": {"de": ["schwarz", "illegal"], "fr": ["noir", "clandestin"]},
    # shapes
    "circle": {"de": ["Kreis", "Zirkel", "Runde"], "fr": ["cercle", "rond-point", "club"]},
    "square": {"de": ["Quadrat", "Platz", "quadratisch"], "fr": ["carré", "place"]},
    "triangle": {"de": ["Dreieck", "Triangel"], "fr": ["triangle"]},
    "star": {"de": ["Stern", "Star", "Berühmtheit"], "fr": ["étoile", "vedette", "star"]},
    # positions: phrases first (correct), then word-level wrong senses of their parts
    "in the top left corner": {"de": ["oben links", "in der oberen übrigen Ecke", "oben verlassen"],
                               "fr": ["en haut à gauche", "dans le sommet laissé", "en haut maladroit"]},
    "in the top right corner": {"de": ["oben rechts", "in der oberen richtigen Ecke", "oben Recht"],
                                "fr": ["en haut à droite", "dans le sommet correct", "en haut droit"]},
    "in the bottom left corner": {"de": ["unten links", "im Boden übrig", "unten verlassen"],
                                  "fr": ["en bas à gauche", "au fond laissé", "en bas maladroit"]},
    "in the bottom right corner": {"de": ["unten rechts", "im Boden richtig", "unten Recht"],
                                   "fr": ["en bas à droite", "au fond correct", "en bas droit"]},
    "at the top left": {"de": ["oben links", "an der Spitze übrig"], "fr": ["en haut à gauche", "au sommet laissé"]},
    "at the top right": {"de": ["oben rechts", "an der Spitze richtig"],
                         "fr": ["en haut à droite", "au sommet correct"]},
    "at the bottom left": {"de": ["unten links", "am Boden übrig"], "fr": ["en bas à gauche", "au fond laissé"]},
    "at the bottom right": {"de": ["unten rechts", "am Boden richtig"], "fr": ["en bas à droite", "au fond correct"]},
    "in the upper left": {"de": ["oben links", "im oberen Rest"], "fr": ["en haut à gauche", "en haut laissé"]},
    "in the upper right": {"de": ["oben rechts", "im oberen Recht"], "fr": ["en haut à droite", "en haut correct"]},
    "in the lower left": {"de": ["unten links", "im unteren Rest"], "fr": ["en bas à gauche", "en bas laissé"]},
    "in the lower right": {"de": ["unten rechts", "im unteren Recht"], "fr": ["en bas à droite", "en bas correct"]},
    "in the middle": {"de": ["in der Mitte", "im Mittel"], "fr": ["au milieu", "au moyen"]},
    "in the centre": {"de": ["in der Mitte", "im Zentrum", "in der Zentrale"], "fr": ["au centre", "à la centrale"]},
    "in the center": {"de": ["in der Mitte", "im Zentrum", "in der Zentrale"], "fr": ["au centre", "à la centrale"]},
    "at the center": {"de": ["in der Mitte", "am Zentrum"], "fr": ["au centre", "à la centrale"]},
    # single words of the position phrases (used when a phrase is broken up, e.g. in user text)
    "top": {"de": ["oben", "Spitze", "Kreisel"], "fr": ["haut", "sommet", "toupie"]},
    "bottom": {"de": ["unten", "Boden", "Po"], "fr": ["bas", "fond", "derrière"]},
    "upper": {"de": ["obere", "Ober"], "fr": ["supérieur", "haut"]},
    "lower": {"de": ["untere", "senken"], "fr": ["inférieur", "baisser"]},
    "left": {"de": ["links", "übrig", "verlassen"], "fr": ["gauche", "laissé", "parti"]},
    "right": {"de": ["rechts", "richtig", "Recht"], "fr": ["droite", "correct", "droit"]},
    "corner": {"de": ["Ecke", "Winkel", "Kurve"], "fr": ["coin", "angle", "virage"]},
    "middle": {"de": ["Mitte", "Mittel"], "fr": ["milieu", "moyen"]},
    "centre": {"de": ["Mitte", "Zentrum", "Zentrale"], "fr": ["centre", "centrale"]},
    "center": {"de": ["Mitte", "Zentrum", "Zentrale"], "fr": ["centre", "centrale"]},
}



def build_lexicon(vocabulary: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """The demo lexicon (`ENTRIES`) as a lexicon file's content, with the grammars' word forms."""
    return _build(ENTRIES, vocabulary)


def write_lexicon(path: str | Path, vocabulary: dict[str, list[str]] | None = None) -> Path:
    path = Path(path)
    atomic_write_json(path, build_lexicon(vocabulary))
    return path

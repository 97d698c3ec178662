"""The demo world's bilingual lexicon and a dictionary translator that errs the way MT systems do.

CL2CM's premise is that machine-translated training captions are noisy. Offline there is no MT model, so
the demo translates its English captions with this lexicon: phrase-by-phrase (greedy longest match), then
corrupts a seeded fraction `noise` of the translated units with the errors MT makes — a dropped word, a
wrong word sense ("square" → "Platz" instead of "Quadrat"), an untranslated (copied English) word, two
neighbours swapped. `noise=0` is the clean dictionary translation (still word-by-word, without agreement,
which is itself a realistic gap to the human gold captions).

Every sentence is translated with its own RNG seeded from (seed, language, text) through sha256, so the
output does not depend on batching, order or sharding. The random draws per unit do not depend on
`noise`, so the units corrupted at a lower rate are a subset of those corrupted at a higher one.

File format (``lexicon.json``)::

    {"kind": "cl2cm-lexicon", "version": 1, "source_lang": "en", "languages": ["de", "fr"],
     "entries": {"square": {"de": ["Quadrat", "Platz"], "fr": ["carré", "place"]}, ...},
     "vocabulary": {"de": [...word forms...], "fr": [...]}}

Each entry lists the correct translation first, then plausible wrong senses. Keys are lower-case English
words or phrases.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cl2cm.artifacts.io import atomic_write_json
from cl2cm.errors import UserError

LEXICON_KIND = "cl2cm-lexicon"
LEXICON_VERSION = 1

# Error types and their share of the corrupted units; chosen to resemble word-level MT error profiles
# (lexical choice is the most frequent, then omissions, reordering and untranslated words).
ERROR_WEIGHTS: dict[str, float] = {"sense": 0.35, "drop": 0.25, "swap": 0.2, "copy": 0.2}

_TOKEN = re.compile(r"[\w'’-]+|[^\w\s]", re.UNICODE)
_NO_SPACE_BEFORE = {".", ",", ":", ";", "!", "?", ")"}


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
    """The lexicon as a JSON-able dict; `vocabulary` adds the target-language word forms of the grammars."""
    langs = sorted({lang for senses in ENTRIES.values() for lang in senses})
    return {
        "kind": LEXICON_KIND,
        "version": LEXICON_VERSION,
        "source_lang": "en",
        "languages": langs,
        "entries": {k: {lang: list(v) for lang, v in senses.items()} for k, senses in ENTRIES.items()},
        "vocabulary": {lang: sorted(set(words)) for lang, words in (vocabulary or {}).items()},
    }


def write_lexicon(path: str | Path, vocabulary: dict[str, list[str]] | None = None) -> Path:
    path = Path(path)
    atomic_write_json(path, build_lexicon(vocabulary))
    return path


def load_lexicon(path: str | Path) -> dict[str, Any]:
    """Read and validate a lexicon file; mistakes are UserErrors naming the file."""
    path = Path(path)
    if not path.exists():
        raise UserError("lexicon file not found", path=path)
    if path.is_dir():
        raise UserError("is a directory, expected a lexicon JSON file (e.g. WORLD/lexicon.json)", path=path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"not a valid lexicon JSON file ({exc})", path=path) from exc
    if not isinstance(data, dict) or data.get("kind") != LEXICON_KIND or not isinstance(data.get("entries"), dict):
        raise UserError(f"not a cl2cm lexicon (expected \"kind\": \"{LEXICON_KIND}\" and \"entries\")", path=path)
    return data


# ------------------------------------------------------------------------------------------- translator
@dataclass
class Unit:
    """One translated unit: the English span, its output (None when dropped) and what happened to it."""

    source: str
    output: str | None
    op: str  # "ok", "sense", "drop", "swap", "copy", "unknown" (not in the lexicon), "punct"


@dataclass
class Translation:
    text: str
    units: list[Unit] = field(default_factory=list)


def stable_seed(*parts: object) -> int:
    """A 64-bit seed from the parts via sha256 (Python's hash() is salted per process)."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big")


def detokenize(tokens: list[str]) -> str:
    out = ""
    for tok in tokens:
        if out and tok not in _NO_SPACE_BEFORE:
            out += " "
        out += tok
    return out


class LexiconTranslator:
    """Word/phrase-by-phrase translation with seeded, MT-like noise (see the module docstring)."""

    def __init__(self, lexicon_path: str | Path, target_lang: str, *, noise: float = 0.15, seed: int = 0) -> None:
        data = load_lexicon(lexicon_path)
        langs = data.get("languages") or sorted({lg for s in data["entries"].values() for lg in s})
        if target_lang not in langs:
            raise UserError(f"target language {target_lang!r} is not in the lexicon (it has {', '.join(langs)})",
                            path=lexicon_path)
        if not 0.0 <= float(noise) <= 1.0:
            raise UserError(f"--noise {noise}: expected a rate between 0 and 1")
        self.path = Path(lexicon_path)
        self.lang = target_lang
        self.noise = float(noise)
        self.seed = int(seed)
        self.table: dict[tuple[str, ...], list[str]] = {}
        for key, senses in data["entries"].items():
            options = senses.get(target_lang) if isinstance(senses, dict) else None
            if options:
                self.table[tuple(key.lower().split())] = [str(o) for o in options]
        self.max_len = max((len(k) for k in self.table), default=1)
        self._ops = list(ERROR_WEIGHTS)
        self._weights = list(ERROR_WEIGHTS.values())

    def translate(self, texts: list[str]) -> list[str]:
        """Translate a batch; each sentence on its own seed, so batching never changes a result."""
        return [self.translate_one(t).text for t in texts]

    def translate_one(self, text: str) -> Translation:
        """Translate one sentence and report what happened to every unit (tests and docs use the trace)."""
        rng = random.Random(stable_seed(self.seed, self.lang, text))
        tokens = _TOKEN.findall(text)
        lowered = [t.lower() for t in tokens]
        units: list[Unit] = []
        i = 0
        while i < len(tokens):
            for n in range(min(self.max_len, len(tokens) - i), 0, -1):
                options = self.table.get(tuple(lowered[i:i + n]))
                if options:
                    units.append(self._noisy(" ".join(tokens[i:i + n]), options, rng))
                    i += n
                    break
            else:
                tok = tokens[i]
                units.append(Unit(tok, tok, "punct" if not re.match(r"\w", tok) else "unknown"))
                i += 1
        self._apply_swaps(units)
        out = detokenize([u.output for u in units if u.output])
        if out and tokens and tokens[0][:1].isupper():
            out = out[0].upper() + out[1:]
        return Translation(out, units)

    def _noisy(self, source: str, options: list[str], rng: random.Random) -> Unit:
        # Draw the same number of values for every unit whatever `noise` is, so errors nest across rates.
        u, op, pick = rng.random(), rng.choices(self._ops, self._weights)[0], rng.random()
        if u >= self.noise:
            return Unit(source, options[0], "ok")
        if op == "sense" and len(options) == 1:
            op = "copy"  # no wrong sense known: MT leaves the word untranslated instead
        if op == "sense":
            return Unit(source, options[1 + int(pick * (len(options) - 1))], "sense")
        if op == "drop":
            return Unit(source, None, "drop")
        if op == "copy":
            return Unit(source, source, "copy")
        return Unit(source, options[0], "swap")

    @staticmethod
    def _apply_swaps(units: list[Unit]) -> None:
        """A 'swap' unit trades places with its next word unit (or the previous one at the sentence end)."""
        words = [k for k, u in enumerate(units) if u.op != "punct" and u.output]
        pos = 0
        while pos < len(words):
            k = words[pos]
            if units[k].op == "swap":
                if pos + 1 < len(words):
                    j = words[pos + 1]
                    units[k], units[j] = units[j], units[k]
                    pos += 2  # the partner is placed; do not swap it back
                    continue
                if pos > 0:
                    j = words[pos - 1]
                    units[k], units[j] = units[j], units[k]
                else:  # a one-word sentence has nothing to swap with: leave it untranslated instead
                    units[k].op, units[k].output = "copy", units[k].source
            pos += 1

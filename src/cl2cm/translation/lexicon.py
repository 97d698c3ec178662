"""The `lexicon` backend: a dictionary translator with seeded MT-like noise (the demo's "MT system").

It is NOT a general machine-translation system: it knows only the words of its lexicon file and
translates phrase by phrase (greedy longest match), then corrupts a seeded fraction `noise` of the
translated units with the errors MT makes — a dropped word, a wrong word sense ("square" → "Platz"
instead of "Quadrat"), an untranslated (copied English) word, two neighbours swapped. `noise=0` is the
clean dictionary translation (still word-by-word, without agreement). It exists so that the demo and the
tests run the real `translate` stage (chunks, resume, shards, manifest) offline: `--model` is the lexicon
file (e.g. WORLD/lexicon.json, written by the demo world), `--noise` the fraction of units corrupted.

Every sentence is translated with its own RNG seeded from (seed, language, text) through sha256, so the
output does not depend on batching, order or sharding. The random draws per unit do not depend on
`noise`, so the units corrupted at a lower rate are a subset of those corrupted at a higher one.

File format (``lexicon.json``)::

    {"kind": "cl2cm-lexicon", "version": 1, "source_lang": "en", "languages": ["de", "fr"],
     "entries": {"square": {"de": ["Quadrat", "Platz"], "fr": ["carré", "place"]}, ...},
     "vocabulary": {"de": [...word forms...], "fr": [...]}}

Each entry lists the correct translation first, then plausible wrong senses. Keys are lower-case English
words or phrases.

Reverse (target → English, `translate --from de --to en`): the same dictionary read backwards, for
translate-test (queries translated to English at query time, then searched with an English model). A
form maps to the English keys it translates, those where it is the correct sense first; a word not in
the table is matched by its stem (common German/French inflection endings stripped: "roter" → "rot"),
then by the longest known form it starts with ("orangefarbener" → "orange"), else copied untranslated.
The same seeded noise applies.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cl2cm.errors import UserError
from cl2cm.translation.base import BackendOptions, model_identity

DEFAULT_NOISE = 0.15
LEXICON_KIND = "cl2cm-lexicon"
LEXICON_VERSION = 1

# Error types and their share of the corrupted units; chosen to resemble word-level MT error profiles
# (lexical choice is the most frequent, then omissions, reordering and untranslated words).
ERROR_WEIGHTS: dict[str, float] = {"sense": 0.35, "drop": 0.25, "swap": 0.2, "copy": 0.2}

_TOKEN = re.compile(r"[\w'’-]+|[^\w\s]", re.UNICODE)
_NO_SPACE_BEFORE = {".", ",", ":", ";", "!", "?", ")"}



def build_lexicon(entries: dict[str, dict[str, list[str]]],
                  vocabulary: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """A lexicon file's content; `vocabulary` adds the target-language word forms (documentation only)."""
    langs = sorted({lang for senses in entries.values() for lang in senses})
    return {
        "kind": LEXICON_KIND,
        "version": LEXICON_VERSION,
        "source_lang": "en",
        "languages": langs,
        "entries": {k: {lang: list(v) for lang, v in senses.items()} for k, senses in entries.items()},
        "vocabulary": {lang: sorted(set(words)) for lang, words in (vocabulary or {}).items()},
    }


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


_ENDINGS = ("em", "en", "er", "es", "e", "n", "s")


def _stem(word: str) -> str:
    """A crude stem for the reverse lookup: one common inflection ending off (at least 3 letters kept)."""
    for end in _ENDINGS:
        if word.endswith(end) and len(word) - len(end) >= 3:
            return word[: -len(end)]
    return word


def detokenize(tokens: list[str]) -> str:
    out = ""
    for tok in tokens:
        if out and tok not in _NO_SPACE_BEFORE:
            out += " "
        out += tok
    return out


class LexiconTranslator:
    """Word/phrase-by-phrase translation with seeded, MT-like noise (see the module docstring)."""

    def __init__(self, lexicon_path: str | Path, target_lang: str, *, noise: float = 0.15, seed: int = 0,
                 source_lang: str | None = None) -> None:
        data = load_lexicon(lexicon_path)
        langs = data.get("languages") or sorted({lg for s in data["entries"].values() for lg in s})
        english = data.get("source_lang", "en")
        self.reverse = source_lang not in (None, english)  # target language → English
        foreign = source_lang if self.reverse else target_lang
        if self.reverse and target_lang != english:
            raise UserError(f"the lexicon translates between {english!r} and {', '.join(langs)}, not "
                            f"{source_lang!r} → {target_lang!r}", path=lexicon_path)
        if foreign not in langs:
            raise UserError(f"language {foreign!r} is not in the lexicon (it has {', '.join(langs)})",
                            path=lexicon_path)
        if not 0.0 <= float(noise) <= 1.0:
            raise UserError(f"--noise {noise}: expected a rate between 0 and 1")
        self.path = Path(lexicon_path)
        self.lang = target_lang
        self.noise = float(noise)
        self.seed = int(seed)
        self.table: dict[tuple[str, ...], list[str]] = {}
        ranked: dict[tuple[str, ...], list[tuple[int, str]]] = {}
        for key, senses in data["entries"].items():
            options = (senses.get(foreign) if isinstance(senses, dict) else None) or []
            if not self.reverse:
                if options:
                    self.table[tuple(key.lower().split())] = [str(o) for o in options]
                continue
            for rank, form in enumerate(options):
                ranked.setdefault(tuple(str(form).lower().split()), []).append((rank, key))
        for form, keys in ranked.items():  # the keys a form is the correct sense of come first
            self.table[form] = list(dict.fromkeys(k for _, k in sorted(keys, key=lambda rk: rk[0])))
        self.max_len = max((len(k) for k in self.table), default=1)
        words = sorted((k[0] for k in self.table if len(k) == 1), key=len, reverse=True)
        self._stems: dict[str, str] = {}
        for w in words:  # longest first: it keeps a stem two forms share
            self._stems.setdefault(_stem(w), w)
        self._prefixes = [w for w in words if len(w) >= 4]
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
                if not options and n == 1 and self.reverse:
                    options = self.table.get((self._known_form(lowered[i]),))
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

    def _known_form(self, word: str) -> str:
        """Reverse only: a table form for an inflected or compound word (by stem, then longest prefix)."""
        form = self._stems.get(_stem(word))
        if form is None:
            form = next((w for w in self._prefixes if word.startswith(w)), "")
        return form

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


# ------------------------------------------------------------------------------------------- backend
class LexiconBackend:
    name = "lexicon"
    max_source_tokens = 1 << 30  # nothing is truncated

    def __init__(self, model: str, opts: BackendOptions) -> None:
        self.path = Path(model)
        self.data = load_lexicon(self.path)  # UserError naming the file if it is not a lexicon
        self.opts = opts
        self.noise = DEFAULT_NOISE if opts.noise is None else opts.noise
        self._translators: dict[tuple[str, str], Any] = {}

    def identity(self) -> dict[str, Any]:
        return {**model_identity(str(self.path)), "backend": self.name}

    def _translator(self, src: str, tgt: str) -> Any:
        if (src, tgt) not in self._translators:  # English → a lexicon language, or back (read in reverse)
            self._translators[src, tgt] = LexiconTranslator(self.path, tgt, noise=self.noise, seed=self.opts.seed,
                                                            source_lang=src)
        return self._translators[src, tgt]

    def check_pair(self, src: str, tgt: str) -> None:
        self._translator(src, tgt)

    def count_tokens(self, texts: list[str], src: str, tgt: str) -> list[int]:
        return [len(t.split()) for t in texts]

    def translate(self, texts: list[str], src: str, tgt: str) -> list[str]:
        return self._translator(src, tgt).translate(texts)

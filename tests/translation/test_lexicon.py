"""The noisy dictionary translator: clean at noise 0, the asked error rate above, deterministic per sentence."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from cl2cm.demo.lexicon import ENTRIES, write_lexicon
from cl2cm.errors import UserError
from cl2cm.translation.lexicon import LexiconTranslator, stable_seed

SIZES = ["small", "big", "large", "little"]
COLOURS = ["red", "green", "blue", "yellow", "purple", "orange"]
SHAPES = ["circle", "square", "triangle", "star"]
PLACES = ["in the top left corner", "at the bottom right", "in the middle", "in the lower left"]


def sentences() -> list[str]:
    out = []
    for k, (s, c, sh, p) in enumerate(itertools.product(SIZES, COLOURS, SHAPES, PLACES)):
        other = f"a {SIZES[k % 3]} {COLOURS[k % 5]} {SHAPES[k % 4]} {PLACES[(k + 1) % 4]}"
        out.append(f"There are two shapes: a {s} {c} {sh} {p} and {other} on a grey background.")
    return out


@pytest.fixture(scope="module")
def lexicon(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_lexicon(tmp_path_factory.mktemp("lex") / "lexicon.json")


def test_noise_zero_is_the_clean_dictionary_translation(lexicon: Path) -> None:
    de = LexiconTranslator(lexicon, "de", noise=0.0)
    fr = LexiconTranslator(lexicon, "fr", noise=0.0)
    src = "A small red square in the top left corner and a big blue star in the middle."
    assert de.translate([src]) == ["Ein klein rot Quadrat oben links und ein groß blau Stern in der Mitte."]
    assert fr.translate([src]) == ["Un petit rouge carré en haut à gauche et un grand bleu étoile au milieu."]
    # every unit is the first (correct) sense, nothing dropped, copied or moved
    units = de.translate_one(sentences()[7]).units
    assert {u.op for u in units} <= {"ok", "punct"}


def test_noise_rate_is_close_to_the_target_and_errors_nest(lexicon: Path) -> None:
    texts = sentences()
    for rate in (0.1, 0.3):
        tr = LexiconTranslator(lexicon, "de", noise=rate, seed=3)
        units = [u for t in texts for u in tr.translate_one(t).units if u.op not in ("punct", "unknown")]
        corrupted = sum(u.op != "ok" for u in units) / len(units)
        assert len(units) > 5000 and abs(corrupted - rate) < 0.03, (rate, corrupted)
        ops = {u.op for u in units}
        assert {"sense", "drop", "swap", "copy"} <= ops
    clean = LexiconTranslator(lexicon, "de", noise=0.0).translate(texts)
    low = LexiconTranslator(lexicon, "de", noise=0.1, seed=3).translate(texts)
    high = LexiconTranslator(lexicon, "de", noise=0.3, seed=3).translate(texts)
    changed_low = sum(a != b for a, b in zip(clean, low, strict=True))
    changed_high = sum(a != b for a, b in zip(clean, high, strict=True))
    # same seed: a sentence clean at the higher rate is clean at the lower one too
    assert all(h != c or lo == c for c, lo, h in zip(clean, low, high, strict=True))
    assert 0 < changed_low < changed_high <= len(texts)


def test_wrong_senses_come_from_the_lexicon(lexicon: Path) -> None:
    tr = LexiconTranslator(lexicon, "de", noise=1.0, seed=0)
    seen = set()
    for t in sentences():
        for u in tr.translate_one(t).units:
            if u.op == "sense":
                options = ENTRIES[u.source.lower()]["de"]
                assert u.output in options[1:]
                seen.add(u.output)
    assert "Platz" in seen  # "square" mistaken for a town square


def test_per_sentence_determinism_independent_of_batching(lexicon: Path) -> None:
    texts = sentences()[:200]
    tr = LexiconTranslator(lexicon, "fr", noise=0.4, seed=11)
    whole = tr.translate(texts)
    reversed_batches = [tr.translate([t])[0] for t in reversed(texts)][::-1]
    fresh = LexiconTranslator(lexicon, "fr", noise=0.4, seed=11).translate(texts[100:]) + \
        LexiconTranslator(lexicon, "fr", noise=0.4, seed=11).translate(texts[:100])
    assert whole == reversed_batches == fresh[100:] + fresh[:100]
    other_seed = LexiconTranslator(lexicon, "fr", noise=0.4, seed=12).translate(texts)
    assert other_seed != whole
    assert stable_seed(1, "de", "x") == stable_seed(1, "de", "x") != stable_seed(2, "de", "x")


def test_unknown_words_are_copied(lexicon: Path) -> None:
    tr = LexiconTranslator(lexicon, "de", noise=0.0)
    assert tr.translate(["a zebra and a red giraffe"]) == ["ein zebra und ein rot giraffe"]


def test_user_mistakes_are_user_errors(lexicon: Path, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="not in the lexicon"):
        LexiconTranslator(lexicon, "cs")
    with pytest.raises(UserError, match="--noise"):
        LexiconTranslator(lexicon, "de", noise=1.5)
    with pytest.raises(UserError, match="not found"):
        LexiconTranslator(tmp_path / "nope.json", "de")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"hello": 1}))
    with pytest.raises(UserError, match="not a cl2cm lexicon"):
        LexiconTranslator(bad, "de")


# ------------------------------------------------------------------------------------------- reverse
def _content(text: str) -> list[str]:
    words = text.lower().replace(",", " ").replace(".", " ").split()
    return [w for w in words if w in {*COLOURS, *SHAPES, "large", "small"}]


def test_reverse_reads_the_dictionary_backwards_and_inflected_gold_german(lexicon: Path) -> None:
    """Translate-test's MT: the demo grammar's gold German (inflected, compounds) back to English."""
    back = LexiconTranslator(lexicon, "en", noise=0.0, source_lang="de")
    assert back.translate(["Ein großer orangefarbener Kreis oben links und ein kleiner blauer Kreis in der "
                           "Mitte."]) == ["A large orange circle in the top left corner and a small blue circle in "
                                          "the middle."]
    # round trip en → de → en keeps every size, colour and shape, in order ("big"/"little" come back as the
    # first English key of "groß"/"klein")
    de = LexiconTranslator(lexicon, "de", noise=0.0)
    norm = {"big": "large", "little": "small"}
    for src in sentences()[:40]:
        want = [norm.get(w, w) for w in src.lower().replace(":", " ").replace(".", " ").split()
                if w in {*COLOURS, *SHAPES, *SIZES}]
        assert _content(back.translate(de.translate([src]))[0]) == want, src


def test_reverse_copies_what_it_cannot_place_and_keeps_the_seeded_noise(lexicon: Path) -> None:
    back = LexiconTranslator(lexicon, "en", noise=0.0, source_lang="de")
    assert back.translate(["ein Zebra mit Hut"]) == ["a Zebra with Hut"]
    noisy = LexiconTranslator(lexicon, "en", noise=0.5, seed=3, source_lang="de")
    texts = ["Ein großer roter Kreis oben links und ein kleines blaues Quadrat unten rechts."] * 2
    out = noisy.translate(texts)
    assert out[0] == out[1] != back.translate(texts[:1])[0]
    with pytest.raises(UserError, match="'de' → 'fr'"):
        LexiconTranslator(lexicon, "fr", source_lang="de")
    with pytest.raises(UserError, match="'cs' is not in the lexicon"):
        LexiconTranslator(lexicon, "en", source_lang="cs")

"""A language the model does not know is never silent: eval, cl2cm.evaluate, search, cl2cm.search, serve."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import pytest
import torch

import cl2cm
from cl2cm import langid
from cl2cm.artifacts.captions import Caption, write_captions
from cl2cm.artifacts.manifest import Manifest
from cl2cm.artifacts.store import save_store
from cl2cm.errors import ConfigError, LanguageWarning
from cl2cm.models import TextEncoderConfig
from cl2cm.models.student import Student, StudentConfig
from cl2cm.models.teacher import CrossLingualTeacher, TeacherConfig
from cl2cm.retrieval.langcheck import caption_language, describe, language_note, outside
from cl2cm.retrieval.search import search as search_cmd_library

IMAGES = [f"img{i}.jpg" for i in range(5)]
GERMAN = ["ein Hund rennt", "zwei Kinder spielen", "eine Frau fährt Rad", "ein Mann kocht", "eine Katze schläft"]
FRENCH = ["un chien court", "deux enfants jouent", "une femme roule", "un homme cuisine", "un chat dort"]
# whole sentences the detector is sure of (py3langid: fr at p 0.99, de at p 0.998); "un chien": fr at p 0.26
FRENCH_SENTENCE, GERMAN_SENTENCE = "Un homme fait du vélo dans la rue", "ein Hund rennt über die Wiese"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, tiny_bert_dir: Path) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("langs")
    torch.manual_seed(0)
    text = TextEncoderConfig(encoder=str(tiny_bert_dir), dim=16, train_layers="all", max_length=32)
    for name, langs in (("student", ["de"]), ("old-student", [])):  # old: predates recorded languages
        Student(StudentConfig(text=text, head="mlp", visual_dim=12, hidden=16, visual_model={"name": "tiny-vit"},
                              languages=langs)).save(root / name, Manifest(kind="student", model={"languages": langs}
                                                                            if langs else {}))
    CrossLingualTeacher(TeacherConfig(text=text, languages=["de"])).save(root / "teacher", Manifest(kind="teacher"))
    save_store(root / "feats", torch.randn(5, 12), IMAGES, Manifest(kind="features", model={"name": "tiny-vit"}))
    write_captions(root / "test.de.jsonl", [Caption(f"{im}#0", im, "de", t) for im, t in zip(IMAGES, GERMAN, strict=True)])
    write_captions(root / "test.fr.jsonl", [Caption(f"{im}#0", im, "fr", t) for im, t in zip(IMAGES, FRENCH, strict=True)])
    write_captions(root / "test.en.jsonl", [Caption(f"{im}#0", im, "en", t) for im, t in zip(IMAGES, FRENCH, strict=True)])
    return {"root": root, "student": root / "student", "old": root / "old-student", "teacher": root / "teacher",
            "feats": root / "feats", "de": root / "test.de.jsonl", "fr": root / "test.fr.jsonl",
            "en": root / "test.en.jsonl"}


def _warnings(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("cl2cm: warning:")]


def test_models_say_their_languages_and_older_ones_are_unknown(world: dict[str, Path]) -> None:
    assert cl2cm.load_model(world["student"]).languages == ("de",)
    assert cl2cm.load_model(world["teacher"]).languages == ("de",)
    old = cl2cm.load_model(world["old"])
    assert old.languages == () and describe(old.languages) == "unknown"


def test_the_input_says_its_language_by_records_suffix_or_flag() -> None:
    fr = [Caption("a", "a.jpg", "fr", "x")]
    und = [Caption("a", "a.jpg", "und", "x")]
    assert caption_language(fr, "whatever.tsv") == "fr"
    assert caption_language(und, "test_2016.fr") == "fr" and caption_language(und, "val.fr.jsonl") == "fr"
    assert caption_language(und, "captions.tsv") is None  # says nothing: nothing to check
    assert caption_language(und, "captions.tsv", explicit="cs") == "cs"
    assert language_note(("de",), "de") is None and language_note((), "fr") is None  # known / unknown model
    assert language_note(("de",), None) is None
    note = language_note(("de", "cs"), "fr")
    assert note is not None and "'fr'" in note and "de, cs" in note and "\n" not in note
    assert outside(("de",), ["de", "fr"]) == ["fr"] and outside((), ["fr"]) == []


def test_eval_on_french_captions_of_a_german_model_warns_once_and_records_it(world: dict[str, Path], tmp_path: Path,
                                                                            cli) -> None:
    out = tmp_path / "m.json"
    code, _, err = cli(["eval", "--model", str(world["student"]), "--captions", str(world["fr"]), "--features",
                        str(world["feats"]), "--out", str(out), "--device", "cpu", "--quiet"])
    assert code == 0, err
    lines = _warnings(err)
    assert len(lines) == 1 and "'fr'" in lines[0] and "knows de" in lines[0], err
    recorded = json.loads(out.read_text())["warnings"]
    assert recorded == [lines[0].removeprefix("cl2cm: warning: ")]
    # German captions: nothing said, nothing recorded (the JSON keeps its usual keys)
    code, _, err = cli(["eval", "--model", str(world["student"]), "--captions", str(world["de"]), "--features",
                        str(world["feats"]), "--out", str(out), "--device", "cpu", "--quiet"])
    assert code == 0 and _warnings(err) == [], err
    assert "warnings" not in json.loads(out.read_text())
    # teacher text mode too
    code, _, err = cli(["eval", "--model", str(world["teacher"]), "--captions", str(world["fr"]),
                        "--gallery-captions", str(world["en"]), "--device", "cpu", "--quiet"])
    assert code == 0 and len(_warnings(err)) == 1, err


def test_strict_languages_makes_it_an_error_and_writes_nothing(world: dict[str, Path], tmp_path: Path, cli) -> None:
    out = tmp_path / "m.json"
    code, _, err = cli(["eval", "--model", str(world["student"]), "--captions", str(world["fr"]), "--features",
                        str(world["feats"]), "--out", str(out), "--strict-languages", "--device", "cpu"])
    assert code == 2 and not out.exists()
    assert len(err.strip().splitlines()) == 1 and "--strict-languages" in err and "'fr'" in err


def test_an_older_model_without_languages_never_warns_or_crashes(world: dict[str, Path], cli) -> None:
    code, _, err = cli(["eval", "--model", str(world["old"]), "--captions", str(world["fr"]), "--features",
                        str(world["feats"]), "--device", "cpu", "--quiet", "--strict-languages"])
    assert code == 0 and _warnings(err) == [], err


def test_several_languages_name_the_sections_outside_the_model(world: dict[str, Path], tmp_path: Path, cli) -> None:
    out = tmp_path / "m.json"
    code, _, err = cli(["eval", "--model", str(world["student"]), "--captions", str(world["de"]), "--captions",
                        str(world["fr"]), "--features", str(world["feats"]), "--out", str(out), "--device", "cpu",
                        "--quiet"])
    assert code == 0, err
    m = json.loads(out.read_text())
    assert m["mean"]["outside_model_languages"] == ["fr"]
    assert "warnings" in m["fr"] and "warnings" not in m["de"]
    assert len(_warnings(err)) == 1 and "'fr'" in _warnings(err)[0]


def test_library_evaluate_warns_with_a_language_warning(world: dict[str, Path]) -> None:
    model = cl2cm.load_model(world["student"])
    with pytest.warns(LanguageWarning, match="'fr'"):
        m = cl2cm.evaluate(model, captions=world["fr"], features=world["feats"])
    assert m["warnings"] and "'fr'" in m["warnings"][0]
    with pytest.raises(ConfigError, match="strict_languages"):
        cl2cm.evaluate(model, captions=world["fr"], features=world["feats"],
                       config=cl2cm.EvalConfig(strict_languages=True))


def test_search_with_lang_warns_and_strict_refuses(world: dict[str, Path], cli) -> None:
    base = ["search", "--model", str(world["student"]), "--features", str(world["feats"]), "un chien", "--k", "2",
            "--device", "cpu", "--quiet"]
    code, _, err = cli([*base, "--lang", "fr"])
    assert code == 0 and len(_warnings(err)) == 1 and "'fr'" in err, err
    code, _, err = cli([*base, "--lang", "de"])
    assert code == 0 and _warnings(err) == [], err
    code, _, err = cli([*base, "--lang", "fr", "--strict-languages"])
    assert code == 2 and "--strict-languages" in err
    with pytest.warns(LanguageWarning):
        cl2cm.search(world["student"], world["feats"], "un chien", k=2, lang="fr")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a known language: no warning at all
        cl2cm.search(world["student"], world["feats"], "ein Hund", k=2, lang="de")


def test_library_search_gives_the_ranking_of_the_search_command(world: dict[str, Path], cli) -> None:
    queries = ["ein Hund rennt", "eine Katze"]
    hits = cl2cm.search(world["student"], world["feats"], queries, k=3)
    assert all(isinstance(h, cl2cm.Hit) for h in hits)
    with pytest.raises(AttributeError):
        hits[0].score = 1.0  # type: ignore[misc]  # frozen
    reference = search_cmd_library(world["student"], world["feats"], queries, k=3, device="cpu")
    assert [(h.query, h.rank, h.id, h.score) for h in hits] == [
        (r.query, i, item, score) for r in reference for i, (item, score) in enumerate(r.hits, 1)]
    # the command's own table: the same ids in the same order, query by query
    code, out, err = cli(["search", "--model", str(world["student"]), "--features", str(world["feats"]), *queries,
                          "--k", "3", "--device", "cpu"])
    assert code == 0, err
    printed = re.findall(r"│\s*(\d)\s*│\s*(img\d\.jpg)\s*│", out)
    assert [(int(r), i) for r, i in printed] == [(h.rank, h.id) for h in hits]
    # a loaded model and a loaded store give the same hits as the directories
    model = cl2cm.load_model(world["student"])
    store = cl2cm.load_store(world["feats"], **model.expect_store())
    assert cl2cm.search(model, store, queries, k=3) == hits


def test_serve_reports_the_model_languages(world: dict[str, Path]) -> None:
    from fastapi.testclient import TestClient

    from cl2cm.serve import SearchIndex
    from cl2cm.serve.app import create_app

    for name, expected in (("student", ["de"]), ("old", [])):
        index = SearchIndex.load(world[name], world["feats"], device="cpu")
        with TestClient(create_app(index, max_k=3)) as client:
            assert client.get("/api/info").json()["languages"] == expected


def test_language_id_counts_only_sure_detections() -> None:
    assert langid.detect_language(GERMAN_SENTENCE) == "de" and langid.detect_language(FRENCH_SENTENCE) == "fr"
    code, p = langid.detect("ein Hund")  # type: ignore[misc]
    assert code == "de" and p < langid.CONFIDENT and langid.detect_language("ein Hund") is None
    assert langid.detect_language("a dog") is None  # 'hr' at p 0.06: no verdict, not a wrong one
    assert langid.query_language(GERMAN_SENTENCE, ["de"]) == langid.QueryLanguage("de", True, None)
    note = langid.query_language(FRENCH_SENTENCE, ["de", "cs"])
    assert note.code == "fr" and note.known is False and "de, cs" in (note.warning or "")
    assert langid.query_language(FRENCH_SENTENCE, []).known is None  # languages not recorded: no verdict
    assert langid.base_code("pt-BR") == langid.base_code("pt_br") == "pt"
    assert langid.query_language(GERMAN_SENTENCE, ["de_DE"]).known is True


def test_search_without_lang_warns_per_query_detected_outside_the_model(world: dict[str, Path], cli) -> None:
    base = ["search", "--model", str(world["student"]), "--features", str(world["feats"]), "--k", "2",
            "--device", "cpu", "--quiet"]
    code, _, err = cli([*base, FRENCH_SENTENCE, GERMAN_SENTENCE, "un chien"])  # "un chien": too short to tell
    lines = _warnings(err)
    assert code == 0 and len(lines) == 1, err
    assert "'fr'" in lines[0] and "Un homme fait" in lines[0] and "knows de" in lines[0]
    code, _, err = cli([*base, GERMAN_SENTENCE])
    assert code == 0 and _warnings(err) == [], err
    code, _, err = cli([*base, GERMAN_SENTENCE, FRENCH_SENTENCE, "--strict-languages"])
    assert code == 2 and len(err.strip().splitlines()) == 1 and "--strict-languages" in err and "'fr'" in err
    code, _, err = cli(["search", "--model", str(world["old"]), "--features", str(world["feats"]), FRENCH_SENTENCE,
                        "--k", "2", "--device", "cpu", "--quiet", "--strict-languages"])
    assert code == 0 and _warnings(err) == [], err  # a model without recorded languages: nothing to check


def test_library_search_records_each_query_language(world: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    queries = [FRENCH_SENTENCE, GERMAN_SENTENCE, "un chien"]
    with pytest.warns(LanguageWarning, match="'fr'") as caught:
        hits = cl2cm.search(world["student"], world["feats"], queries, k=2)
    assert len(caught) == 1
    assert [h.lang for h in hits] == ["fr", "fr", "de", "de", None, None]
    with pytest.warns(LanguageWarning, match="'fr'"):
        results = search_cmd_library(world["student"], world["feats"], queries, k=2, device="cpu")
    assert [r.lang for r in results] == ["fr", "de", None]
    assert [h.lang for h in cl2cm.search(world["student"], world["feats"], queries, k=1, lang="de")] == ["de"] * 3
    with pytest.raises(ConfigError, match="strict_languages"):
        cl2cm.search(world["student"], world["feats"], queries, k=2, strict_languages=True)
    # without py3langid: nothing detected, nothing said, the same ranking
    monkeypatch.setattr(langid, "_identifier", None)
    monkeypatch.setattr(langid, "_failed", True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        blind = cl2cm.search(world["student"], world["feats"], queries, k=2)
    assert [h.lang for h in blind] == [None] * 6
    assert [(h.id, h.score) for h in blind] == [(h.id, h.score) for h in hits]

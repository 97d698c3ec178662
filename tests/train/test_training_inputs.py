"""Training inputs that disagree (issue 25 item 4), through `cl2cm train-teacher` and `cl2cm distill`'s shared
reader: refused in one line naming the file and record, or (imbalance) reported in the summary and manifest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cl2cm.train.data import read_language_pairs


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def _rows(lang: str, n: int, text: str, image: str = "im{}.jpg") -> list[dict]:
    return [{"id": f"im{i}#0", "image": image.format(i), "lang": lang, "text": text.format(i)} for i in range(n)]


@pytest.fixture
def en(tmp_path: Path) -> Path:
    return _jsonl(tmp_path / "train.en.jsonl", _rows("en", 20, "A dog number {} runs."))


def _teacher(en: Path, tgts: list[Path], out: Path, tiny_bert_dir: Path, *extra: str) -> list[str]:
    return ["train-teacher", "--src", str(en), *[a for t in tgts for a in ("--tgt", str(t))], "--encoder",
            str(tiny_bert_dir), "--dim", "16", "--train-layers", "1", "--max-length", "16", "--batch-size", "4",
            "--epochs", "1", "--device", "cpu", "--out", str(out), "--ot-weight", "0", *extra]


def test_disagreeing_image_is_refused_with_file_and_record(en: Path, tmp_path: Path, tiny_bert_dir: Path,
                                                           cli) -> None:
    rows = _rows("de", 20, "Ein Hund Nummer {} läuft.")
    rows[6]["image"] = "im9.jpg"  # record 7 says its caption describes another image
    de = _jsonl(tmp_path / "train.de.jsonl", rows)
    code, _, err = cli(_teacher(en, [de], tmp_path / "t", tiny_bert_dir))
    assert code == 2 and len(err.splitlines()) == 1, err
    assert f"{de}:7: --tgt: id 'im6#0' has image 'im9.jpg', but --src {en} gives 'im6.jpg'" in err
    assert not (tmp_path / "t" / "manifest.json").exists()


def test_the_source_language_given_as_target_is_refused(en: Path, tmp_path: Path, tiny_bert_dir: Path, cli) -> None:
    code, _, err = cli(_teacher(en, [en], tmp_path / "t", tiny_bert_dir))
    assert code == 2 and len(err.splitlines()) == 1, err
    assert f"{en}:1: --tgt: record in 'en', the language of --src" in err


def test_two_languages_in_one_file_are_refused(en: Path, tmp_path: Path, tiny_bert_dir: Path, cli) -> None:
    rows = _rows("de", 20, "Ein Hund Nummer {} läuft.")
    rows[12]["lang"], rows[12]["text"] = "fr", "Un chien court."
    de = _jsonl(tmp_path / "train.de.jsonl", rows)
    code, _, err = cli(_teacher(en, [de], tmp_path / "t", tiny_bert_dir))
    assert code == 2 and len(err.splitlines()) == 1, err
    assert f"{de}:13: --tgt: two languages in one file ('de' on record 1, 'fr' here)" in err


def test_imbalance_is_reported_in_summary_and_manifest(en: Path, tmp_path: Path, tiny_bert_dir: Path, cli) -> None:
    de = _jsonl(tmp_path / "train.de.jsonl", _rows("de", 20, "Ein Hund Nummer {} läuft."))
    fr = _jsonl(tmp_path / "train.fr.jsonl", _rows("fr", 2, "Un chien numéro {} court."))
    code, out, err = cli(_teacher(en, [de, fr], tmp_path / "t", tiny_bert_dir))
    assert code == 0, err
    assert "de 20 · fr 2" in out and "(imbalanced: 10x" in out  # (the table may wrap the rest of the cell)
    extra = json.loads((tmp_path / "t" / "manifest.json").read_text())["extra"]
    assert extra["pairs_per_language"] == {"de": 20, "fr": 2} and extra["language_imbalance"] == 10.0


def test_agreeing_inputs_still_pair(en: Path, tmp_path: Path) -> None:
    de = _jsonl(tmp_path / "train.de.jsonl", _rows("de", 20, "Ein Hund Nummer {} läuft."))
    got = read_language_pairs(en, de, None)
    assert len(got.pairs) == 20 and got.languages == ["de"] and got.imbalance() == 1.0

"""Caption readers on the real files in ../shared/data (realdata), and on every kind of bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cl2cm.artifacts.captions import Caption, detect_format, pair_by_id, read_captions, write_captions
from cl2cm.errors import UserError


@pytest.mark.realdata
def test_multi30k_task1_real_files(multi30k: Path) -> None:
    en = read_captions(multi30k / "test_2016_flickr.en")
    de = read_captions(multi30k / "test_2016_flickr.de")
    names = (multi30k / "test_2016_flickr.txt").read_text().splitlines()
    assert len(en) == len(de) == 1000
    assert en[0].image == names[0] and en[0].lang == "en" and de[0].lang == "de"
    assert en[0].text == (multi30k / "test_2016_flickr.en").read_text().splitlines()[0].strip()
    # Language-neutral ids: a caption and its translation pair by id.
    pairs = pair_by_id(en, de)
    assert all(a.image == b.image for a, b in pairs)
    assert pairs[5][0].text != pairs[5][1].text


@pytest.mark.realdata
def test_multi30k_task2_real_files(multi30k: Path) -> None:
    caps = [c for k in range(1, 6) for c in read_captions(multi30k / "task2" / f"test_2016.{k}.de")]
    assert len(caps) == 5000
    assert len({c.id for c in caps}) == 5000
    assert len({c.image for c in caps}) == 1000
    assert detect_format(multi30k / "task2" / "test_2016.3.en") == "multi30k"
    assert read_captions(multi30k / "task2" / "test_2016.3.en")[0].id.endswith("#2")


@pytest.mark.realdata
def test_coco_cn_tsv(shared_data: Path) -> None:
    caps = read_captions(shared_data / "coco-cn" / "coco-cn_ext.icap2020.txt", lang="zh")
    assert len(caps) == 4712
    assert caps[0].image.startswith("COCO_") and "#" not in caps[0].image
    assert caps[0].lang == "zh" and any("\u4e00" <= ch <= "\u9fff" for ch in caps[0].text)


@pytest.mark.realdata
def test_multiscript_non_latin_with_explicit_image_list(shared_data: Path) -> None:
    path = shared_data / "multiscript30k-mt" / "test_2016_flickr.uk"
    caps = read_captions(path, images=shared_data / "multi30k" / "test_2016_flickr.txt", allow_empty_text=True)
    assert caps[0].lang == "uk" and len(caps) == 1000


def test_jsonl_roundtrip_keeps_extra_fields(tmp_path: Path) -> None:
    recs = [Caption("a.jpg#0", "a.jpg", "de", "Ein Hund 🐕", {"source": "A dog"}),
            Caption("b c.jpg#1", "b c.jpg", "de", "Zwei Katzen")]
    write_captions(tmp_path / "x.jsonl", recs)
    back = read_captions(tmp_path / "x.jsonl")
    assert back == recs


def test_nrccr_format(tmp_path: Path) -> None:
    p = tmp_path / "multi30ktrain_google_enc2de.caption.txt"
    p.write_text("100.jpg#enc2de#0 Ein Hund läuft.\n100.jpg#enc2de#1 Ein Hund rennt.\n", encoding="utf-8")
    caps = read_captions(p)
    assert [c.id for c in caps] == ["100.jpg#0", "100.jpg#1"]
    assert caps[0].lang == "de" and caps[0].image == "100.jpg" and caps[0].text == "Ein Hund läuft."
    en = tmp_path / "multi30ktrain_enc.caption.txt"
    en.write_text("100.jpg#enc#0 A dog runs.\n100.jpg#enc#1 A dog is running.\n", encoding="utf-8")
    assert all(a.lang == "en" for a, _ in pair_by_id(read_captions(en), caps))


def test_crlf_and_bom_are_tolerated(tmp_path: Path) -> None:
    (tmp_path / "s.txt").write_bytes(b"\xef\xbb\xbfa.jpg\r\nb.jpg\r\n")
    (tmp_path / "s.en").write_bytes(b"\xef\xbb\xbfA dog.\r\nA cat.\r\n")
    caps = read_captions(tmp_path / "s.en")
    assert [(c.image, c.text) for c in caps] == [("a.jpg", "A dog."), ("b.jpg", "A cat.")]


def test_csv_through_datasets(tmp_path: Path) -> None:
    (tmp_path / "c.csv").write_text("image,text,lang\na.jpg,Ein Hund,de\na.jpg,Ein Tier,de\n", encoding="utf-8")
    caps = read_captions(tmp_path / "c.csv")
    assert [c.id for c in caps] == ["a.jpg#0", "a.jpg#1"] and caps[1].text == "Ein Tier"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.jsonl", b'{"id": "a#0", "text": "x", "lang": "en"}\n{"id": "b#0", "text": \n', "bad.jsonl:2: malformed JSON"),
        ("dup.jsonl", b'{"id": "a#0", "text": "x", "lang": "en"}\n{"id": "a#0", "text": "y", "lang": "en"}\n',
         "dup.jsonl:2: duplicate id"),
        ("empty.jsonl", b"", "no captions"),
        ("utf.jsonl", b'{"id": "a#0", "text": "x", "lang": "en"}\n{"id": "b#0", "text": "\xff\xfe"}\n',
         "utf.jsonl:2: invalid UTF-8"),
        ("nolang.jsonl", b'{"id": "a#0", "text": "x"}\n', "nolang.jsonl:1: missing field 'lang'"),
        ("blank.jsonl", b'{"id": "a#0", "text": "  ", "lang": "en"}\n', "blank.jsonl:1: empty caption"),
        ("t.tsv", b"a#0 no tab here\n", "t.tsv:1: expected 'id<TAB>text'"),
    ],
)
def test_bad_input_names_file_and_line(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    (tmp_path / name).write_bytes(content)
    with pytest.raises(UserError) as err:
        read_captions(tmp_path / name)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_file_and_line_count_mismatch(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="file not found"):
        read_captions(tmp_path / "nope.jsonl")
    (tmp_path / "v.txt").write_text("a.jpg\nb.jpg\n")
    (tmp_path / "v.de").write_text("Ein Hund.\n")
    with pytest.raises(UserError, match=r"1 captions but 2 image names"):
        read_captions(tmp_path / "v.de")
    (tmp_path / "w.de").write_text("Ein Hund.\n")
    with pytest.raises(UserError, match="image list w.txt not found"):
        read_captions(tmp_path / "w.de")


def test_unknown_format_asks_for_flag(tmp_path: Path) -> None:
    (tmp_path / "captions.dat").write_text("x\n")
    with pytest.raises(UserError, match="--format"):
        read_captions(tmp_path / "captions.dat")
    with pytest.raises(UserError, match="--format 'xml'"):
        read_captions(tmp_path / "captions.dat", "xml")


def test_pair_by_id_reports_unpaired(tmp_path: Path) -> None:
    src = [Caption("a#0", "a", "en", "x")]
    tgt = [Caption("a#0", "a", "de", "y"), Caption("b#0", "b", "de", "z")]
    with pytest.raises(UserError, match="1 ids of --tgt have no caption in --src .*'b#0'"):
        pair_by_id(src, tgt)


def test_written_jsonl_is_one_object_per_line(tmp_path: Path) -> None:
    write_captions(tmp_path / "o.jsonl", [Caption("a#0", "a", "zh", "一只狗\u2028跑")])
    lines = (tmp_path / "o.jsonl").read_text(encoding="utf-8").split("\n")
    assert len(lines) == 2 and json.loads(lines[0])["text"] == "一只狗\u2028跑"


def test_corpus_language_from_records_then_suffix(tmp_path: Path) -> None:
    from cl2cm.artifacts.captions import corpus_language

    de = [Caption("a#0", "a", "de", "ein Hund")]
    assert corpus_language(de, tmp_path / "whatever.jsonl") == "de"  # the records' own code wins
    und = [Caption("a#0", "a", "und", "狗")]
    assert corpus_language(und, tmp_path / "val.zh_hans") == "zh_hans"
    assert corpus_language(und, tmp_path / "test.fr.tsv") == "fr"
    assert corpus_language(und, tmp_path / "cs.jsonl") == "cs"  # translate's OUT/<lang>.jsonl
    mixed = [Caption("a#0", "a", "de", "x"), Caption("b#0", "b", "fr", "y")]
    assert corpus_language(mixed, tmp_path / "test_2016_flickr.cs") == "cs"
    with pytest.raises(UserError, match="--captions: cannot tell the file's language.*de, fr"):
        corpus_language(mixed, tmp_path / "mixed.jsonl")


def test_unique_languages_names_both_files() -> None:
    from cl2cm.artifacts.captions import unique_languages

    unique_languages(["de", "fr"], ["a.de", "b.fr"], "--tgt")
    with pytest.raises(UserError, match="--tgt: a.de and c.de are both language 'de'"):
        unique_languages(["de", "fr", "de"], ["a.de", "b.fr", "c.de"], "--tgt")

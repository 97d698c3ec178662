"""Streaming readers (`iter_lines`, `iter_captions`) accept, reject and order errors as the whole-file ones did."""

from __future__ import annotations

import codecs
import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cl2cm.artifacts.captions import iter_captions, read_captions
from cl2cm.artifacts.io import iter_lines
from cl2cm.errors import UserError


def whole_file_lines(raw: bytes) -> list[str] | int:
    """What read_lines did before it streamed: decode the whole file, split; an error → its line number."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:  # utf-8-sig reports the offset in the bytes after a BOM
        bom = len(codecs.BOM_UTF8) if raw.startswith(codecs.BOM_UTF8) else 0
        return raw[: bom + exc.start].count(b"\n") + 1
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [ln[:-1] if ln.endswith("\r") else ln for ln in lines]


def streamed_lines(raw: bytes) -> list[str] | int:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "f.txt"
        p.write_bytes(raw)
        try:
            return list(iter_lines(p))
        except UserError as exc:
            assert str(exc).startswith(f"{p}:") and "invalid UTF-8" in str(exc)
            return int(str(exc)[len(str(p)) + 1:].split(":")[0])


pieces = st.sampled_from([b"\n", b"\r\n", b"\r", b"\xef\xbb\xbf", b"a", b" ", "é".encode(), "中".encode(),
                          b"\xc3", b"\xa9", b"\xff", b"\xed\xa0\x80", b""])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(pieces, max_size=12) | st.binary(max_size=60))
def test_iter_lines_equals_decoding_the_whole_file(parts: list[bytes] | bytes) -> None:
    raw = b"".join(parts) if isinstance(parts, list) else parts
    assert streamed_lines(raw) == whole_file_lines(raw)


@pytest.mark.parametrize("raw", [b"", b"\xef\xbb\xbf", b"\xef\xbb\xbf\n", b"\n", b"a", b"a\r\r\n", b"\xef\xbb\xbf\xef\xbb\xbfx"])
def test_iter_lines_edge_files(raw: bytes) -> None:
    assert streamed_lines(raw) == whole_file_lines(raw)


def _jsonl(path: Path, rows: list[object]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


def test_malformed_line_after_a_duplicate_id_wins_as_before(tmp_path: Path) -> None:
    """The whole-file reader parsed everything before checking ids: a later malformed line is reported."""
    p = _jsonl(tmp_path / "c.jsonl", [{"id": "a#0", "lang": "en", "text": "x"}, {"id": "a#0", "lang": "en", "text": "y"},
                                     {"id": "b#0", "lang": "en", "text": ""}, "{not json"])
    with pytest.raises(UserError, match=r"c.jsonl:4: malformed JSON"):
        read_captions(p)
    p = _jsonl(tmp_path / "c.jsonl", [{"id": "a#0", "lang": "en", "text": "x"}, {"id": "b#0", "lang": "en", "text": " "},
                                     {"id": "a#0", "lang": "en", "text": "y"}])
    with pytest.raises(UserError, match=r"c.jsonl:2: empty caption for id 'b#0'"):  # the first problem
        read_captions(p)


def test_iter_captions_raises_only_after_the_last_record(tmp_path: Path) -> None:
    """A streaming consumer sees every record before the duplicate-id error, so it must commit nothing
    until the iterator is exhausted (translate's scan does so)."""
    p = _jsonl(tmp_path / "c.jsonl", [{"id": f"{i}#0", "lang": "en", "text": "x"} for i in range(5)]
               + [{"id": "1#0", "lang": "en", "text": "y"}, {"id": "9#0", "lang": "en", "text": "z"}])
    got = []
    with pytest.raises(UserError, match=r"c.jsonl:6: duplicate id '1#0' \(first at record 2\)"):
        for rec in iter_captions(p):
            got.append(rec.id)
    assert got[-1] == "9#0" and len(got) == 7


def test_multi30k_length_mismatch_is_reported_before_any_record(tmp_path: Path) -> None:
    (tmp_path / "val.txt").write_text("a.jpg\nb.jpg\n", encoding="utf-8")
    (tmp_path / "val.en").write_text("A dog.\n\nA cat.\n", encoding="utf-8")
    with pytest.raises(UserError, match="3 captions but 2 image names"):
        next(iter_captions(tmp_path / "val.en"))


def test_per_image_counts_live_in_the_given_mapping(tmp_path: Path) -> None:
    """Multi30K task-1 ids count each image's captions; the count and the ids seen use `new_map`'s mappings."""
    (tmp_path / "val.txt").write_text("a.jpg\nb.jpg\na.jpg\n", encoding="utf-8")
    (tmp_path / "val.en").write_text("A dog.\nA cat.\nA red dog.\n", encoding="utf-8")
    made: list[dict[str, int]] = []

    def new_map() -> dict[str, int]:
        made.append({})
        return made[-1]

    assert [r.id for r in iter_captions(tmp_path / "val.en", new_map=new_map)] == ["a.jpg#0", "b.jpg#0", "a.jpg#1"]
    assert sorted(made, key=len) == [{"a.jpg": 2, "b.jpg": 1}, {"a.jpg#0": 1, "b.jpg#0": 2, "a.jpg#1": 3}]


def test_lone_surrogate_escape_is_a_user_error_naming_the_line(tmp_path: Path) -> None:
    """JSON's \\ud800 escape parses to a string no UTF-8 file (or index, or digest) can hold: refused at its
    line instead of a UnicodeEncodeError traceback in a later stage."""
    p = tmp_path / "c.jsonl"
    p.write_text('{"id": "a#0", "lang": "en", "text": "fine é"}\n{"id": "b#0", "lang": "en", "text": "x \\ud800"}\n',
                 encoding="utf-8")
    with pytest.raises(UserError, match=r"c.jsonl:2: field 'text' holds a lone surrogate \('\\ud800'\)"):
        read_captions(p)

"""Property-based tests: readers either return records or raise a one-line UserError — never crash."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cl2cm.artifacts.captions import Caption, read_captions, write_captions
from cl2cm.errors import UserError

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
texts = st.text(min_size=0, max_size=300)
ids = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r\x85\u2028\u2029\x0b\x0c\x1c\x1d\x1e"),
              min_size=1, max_size=40)


def _read_or_user_error(path: Path, **kw: object) -> list[Caption] | None:
    try:
        return read_captions(path, **kw)
    except UserError as exc:
        assert "\n" not in str(exc)
        return None


@SETTINGS
@given(data=st.binary(max_size=2000), suffix=st.sampled_from([".jsonl", ".tsv", ".caption.txt", ".en"]))
def test_arbitrary_bytes_never_crash(data: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / f"x{suffix}"
        p.write_bytes(data)
        (Path(d) / "x.txt").write_bytes(data)  # image list for the Multi30K reader
        _read_or_user_error(p)


@SETTINGS
@given(records=st.lists(st.tuples(ids, texts), min_size=1, max_size=20, unique_by=lambda r: r[0]))
def test_jsonl_roundtrip_any_unicode(records: list[tuple[str, str]]) -> None:
    caps = [Caption(i, i.split("#", 1)[0], "xx", t) for i, t in records]
    with tempfile.TemporaryDirectory() as d:
        write_captions(Path(d) / "c.jsonl", caps)
        back = _read_or_user_error(Path(d) / "c.jsonl")
    if any(not t.strip() for _, t in records):
        assert back is None  # empty / whitespace-only captions are refused by name
    else:
        assert back == caps


@SETTINGS
@given(lines=st.lists(texts.filter(lambda t: "\n" not in t and "\r" not in t), min_size=1, max_size=20),
       crlf=st.booleans(), bom=st.booleans())
def test_multi30k_reader_line_endings(lines: list[str], crlf: bool, bom: bool) -> None:
    eol = "\r\n" if crlf else "\n"
    with tempfile.TemporaryDirectory() as d:
        body = eol.join(lines) + eol
        (Path(d) / "s.de").write_bytes((("\ufeff" if bom else "") + body).encode("utf-8"))
        (Path(d) / "s.txt").write_text("".join(f"img {i}.jpg{eol}" for i in range(len(lines))), encoding="utf-8")
        got = _read_or_user_error(Path(d) / "s.de")
    if got is not None:
        # splitlines-style separators inside a caption (e.g. \x85) must not shift rows.
        assert [c.image for c in got] == [f"img {i}.jpg" for i in range(len(lines))]
        assert all(c.text == ln.strip() for c, ln in zip(got, lines, strict=True))


@SETTINGS
@given(cap_id=ids.filter(lambda s: "\t" not in s and s.strip() == s and s), text=texts)
def test_tsv_ids_with_hash_and_spaces(cap_id: str, text: str) -> None:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "c.tsv"
        p.write_text(f"{cap_id}\t{text}\n", encoding="utf-8")
        got = _read_or_user_error(p, lang="zh")
    if got is not None:
        assert got[0].id == cap_id and got[0].image == cap_id.split("#", 1)[0]


def test_very_long_line(tmp_path: Path) -> None:
    text = "wort " * 200_000
    (tmp_path / "l.jsonl").write_text(json.dumps({"id": "a#0", "lang": "de", "text": text}) + "\n")
    assert read_captions(tmp_path / "l.jsonl")[0].text == text

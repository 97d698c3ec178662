"""Property-based tests of the readers tests/artifacts/test_readers_property.py does not cover.

Every reader of user-supplied or on-disk files either returns what was written or raises a one-line
`UserError`: never another exception (a traceback). Random bytes, arbitrary unicode, CRLF, BOM, empty
and whitespace-only lines, ids with '#' and spaces.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cl2cm.artifacts.captions import read_captions
from cl2cm.artifacts.io import read_lines
from cl2cm.artifacts.manifest import Manifest, read_manifest, write_manifest
from cl2cm.artifacts.store import load_safetensors
from cl2cm.errors import UserError
from cl2cm.features.bigfile import read_bigfile, read_video2frames, write_bigfile
from cl2cm.features.datasets import list_images

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LINE_BREAKS = "\n\r\x85\u2028\u2029\x0b\x0c\x1c\x1d\x1e"
no_breaks = st.characters(blacklist_categories=("Cs",), blacklist_characters=LINE_BREAKS)
# Ids as users write them: unicode, '#', inner spaces; NRCCR ids cannot hold whitespace (space-separated).
hashy_ids = st.text(alphabet=st.sampled_from("ab#c d_é中0.-") | no_breaks, min_size=1, max_size=30)
word_ids = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Zs", "Zl", "Zp", "Cc")), min_size=1,
                   max_size=20).filter(lambda s: not any(ch.isspace() for ch in s) and "#" not in s)


def user_error_or(fn: Callable[[], Any]) -> Any:
    """The reader's result, or None when it refused with a one-line UserError (anything else fails)."""
    try:
        return fn()
    except UserError as exc:
        assert "\n" not in str(exc)
        return None


# ---------------------------------------------------------------------------------------------- NRCCR
@SETTINGS
@given(rows=st.lists(st.tuples(word_ids, st.sampled_from(["enc", "enc2de", "de", "enc2de2enc", "zz"]),
                               st.integers(0, 9), st.text(no_breaks, max_size=60)), min_size=1, max_size=15),
       crlf=st.booleans(), bom=st.booleans())
def test_nrccr_ids_round_trip(rows: list[tuple[str, str, int, str]], crlf: bool, bom: bool) -> None:
    eol = "\r\n" if crlf else "\n"
    body = "".join(f"{img}#{tag}#{k} {text}{eol}" for img, tag, k, text in rows)
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "x.caption.txt"
        p.write_bytes((("\ufeff" if bom else "") + body).encode("utf-8"))
        got = user_error_or(lambda: read_captions(p, "nrccr", allow_empty_text=True))
    if got is not None:
        assert [c.id for c in got] == [f"{img}#{k}" for img, _, k, _ in rows]
        assert [c.image for c in got] == [img for img, *_ in rows]
        assert [c.text for c in got] == [t.strip() for *_, t in rows]


@SETTINGS
@given(lines=st.lists(st.text(no_breaks, max_size=80), min_size=1, max_size=20), lang=st.sampled_from([None, "de"]))
def test_nrccr_arbitrary_lines_never_crash(lines: list[str], lang: str | None) -> None:
    """Ids with '#' and spaces anywhere, missing captions, blank lines: records or a UserError."""
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "x.caption.txt"
        p.write_text("\n".join(lines), encoding="utf-8")
        got = user_error_or(lambda: read_captions(p, "nrccr", lang=lang))
    if got is not None:
        assert all("#" in c.id and c.text.strip() for c in got)


# ---------------------------------------------------------------------------------------------- read_lines
@SETTINGS
@given(lines=st.lists(st.text(no_breaks, max_size=50), max_size=20), crlf=st.booleans(), bom=st.booleans())
def test_read_lines_round_trip(lines: list[str], crlf: bool, bom: bool) -> None:
    eol = "\r\n" if crlf else "\n"
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "l.txt"
        p.write_bytes((("\ufeff" if bom else "") + "".join(f"{x}{eol}" for x in lines)).encode("utf-8"))
        assert read_lines(p) == lines


@SETTINGS
@given(data=st.binary(max_size=500))
def test_read_lines_random_bytes(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "l.txt"
        p.write_bytes(data)
        got = user_error_or(lambda: read_lines(p))
    if got is not None:
        assert all("\n" not in x for x in got)


# ---------------------------------------------------------------------------------------------- image lists
@SETTINGS
@given(entries=st.lists(hashy_ids, min_size=1, max_size=15), crlf=st.booleans())
def test_image_list_ids_are_the_entries(entries: list[str], crlf: bool) -> None:
    eol = "\r\n" if crlf else "\n"
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "list.txt"
        p.write_text(eol.join(entries), encoding="utf-8", newline="")
        got = user_error_or(lambda: list_images(p, kind="list"))
    want = list(dict.fromkeys(e.strip() for e in entries if e.strip()))
    if got is None:
        assert not want  # only an all-blank list is refused
    else:
        assert [it.id for it in got] == want and all(it.paths[0] == Path(d) / it.id for it in got)


@SETTINGS
@given(data=st.binary(max_size=400), kind=st.sampled_from(["auto", "list", "captions"]))
def test_image_list_random_bytes(data: bytes, kind: str) -> None:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "list.txt"
        p.write_bytes(data)
        user_error_or(lambda: list_images(p, kind=kind))


# ---------------------------------------------------------------------------------------------- BigFile
@SETTINGS
@given(ids=st.lists(word_ids, min_size=1, max_size=10, unique=True), dim=st.integers(1, 6), seed=st.integers(0, 99))
def test_bigfile_round_trip(ids: list[str], dim: int, seed: int) -> None:
    feats = np.random.default_rng(seed).standard_normal((len(ids), dim)).astype(np.float32)
    with tempfile.TemporaryDirectory() as d:
        write_bigfile(Path(d) / "bf", ids, feats)
        got_ids, got = read_bigfile(Path(d) / "bf")
        assert got_ids == ids and np.array_equal(np.asarray(got), feats)


@SETTINGS
@given(shape=st.binary(max_size=30) | st.text(max_size=30).map(lambda s: s.encode("utf-8")),
       ids=st.binary(max_size=60) | st.text(max_size=60).map(lambda s: s.encode("utf-8")),
       feature=st.binary(max_size=64))
def test_bigfile_corrupt_files_never_crash(shape: bytes, ids: bytes, feature: bytes) -> None:
    with tempfile.TemporaryDirectory() as d:
        bf = Path(d)
        (bf / "shape.txt").write_bytes(shape)
        (bf / "id.txt").write_bytes(ids)
        (bf / "feature.bin").write_bytes(feature)
        got = user_error_or(lambda: read_bigfile(bf))
        if got is not None:
            n, dim = got[1].shape
            assert len(got[0]) == n and len(feature) == n * dim * 4


@SETTINGS
@given(text=st.text(max_size=200) | st.builds(lambda d: repr(d), st.dictionaries(
    st.text(max_size=5), st.lists(st.text(max_size=5), max_size=3) | st.integers(), max_size=4)))
def test_video2frames_never_crashes(text: str) -> None:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "video2frames.txt"
        p.write_text(text, encoding="utf-8")
        got = user_error_or(lambda: read_video2frames(p))
    if got is not None:
        assert all(isinstance(k, str) and all(isinstance(f, str) for f in v) for k, v in got.items())


@SETTINGS
@given(data=st.binary(max_size=300))
def test_video2frames_random_bytes(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "video2frames.txt"
        p.write_bytes(data)
        user_error_or(lambda: read_video2frames(p))


# ---------------------------------------------------------------------------------------------- manifests, tensors
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
                           lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=8), kids,
                                                                                      max_size=3), max_leaves=12)
manifest_like = st.fixed_dictionaries({}, optional={
    "kind": json_values | st.sampled_from(["features", "teacher"]), "schema_version": json_values | st.just(1),
    "rows": json_values, "model": json_values, "inputs": json_values, "extra": json_values, "command": json_values})


@SETTINGS
@given(obj=json_values | manifest_like, kind=st.sampled_from([None, "features"]))
def test_manifest_reader_random_json(obj: Any, kind: str | None) -> None:
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "manifest.json").write_text(json.dumps(obj), encoding="utf-8")
        got = user_error_or(lambda: read_manifest(d, kind=kind))
    if got is not None:
        assert isinstance(got, Manifest) and (kind is None or got.kind == kind)


@SETTINGS
@given(data=st.binary(max_size=300))
def test_manifest_reader_random_bytes(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "manifest.json").write_bytes(data)
        user_error_or(lambda: read_manifest(d))


def test_manifest_round_trip(tmp_path: Path) -> None:
    write_manifest(tmp_path, Manifest(kind="features", rows=3, model={"name": "x#1 y"}, extra={"dim": 4}))
    got = read_manifest(tmp_path, kind="features")
    assert got.rows == 3 and got.model == {"name": "x#1 y"} and got.extra == {"dim": 4}


@SETTINGS
@given(cut=st.integers(0, 400), flip=st.integers(0, 400), byte=st.integers(0, 255))
def test_torn_or_tampered_safetensors_is_a_user_error(cut: int, flip: int, byte: int) -> None:
    from safetensors.torch import save_file

    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "f.safetensors"
        want = {"features": torch.arange(24, dtype=torch.float32).reshape(6, 4)}
        save_file(want, str(p))
        raw = bytearray(p.read_bytes())
        if flip < len(raw):
            raw[flip] = byte
        p.write_bytes(bytes(raw[: len(raw) - cut % len(raw)]))
        got = user_error_or(lambda: load_safetensors(p))
    if got is not None and cut % len(raw) == 0:  # an intact-length file that still parses: one tensor of 24
        # values (a flipped header byte may rename it, ' eatures', or retype it, F32 -> I32: both still parse)
        assert len(got) == 1 and next(iter(got.values())).numel() == 24

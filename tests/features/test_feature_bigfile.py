"""NRCCR BigFile import: round trip, both id.txt layouts, frame grouping, and clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from cl2cm.artifacts.store import load_store
from cl2cm.errors import UserError
from cl2cm.features.bigfile import import_bigfile, read_bigfile, write_bigfile


def test_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    feats = rng.normal(size=(5, 12)).astype(np.float32)
    ids = [f"video{i}" for i in range(5)]
    write_bigfile(tmp_path / "bf", ids, feats)
    r_ids, r_feats = read_bigfile(tmp_path / "bf")
    assert r_ids == ids and np.array_equal(np.asarray(r_feats), feats)
    res = import_bigfile(tmp_path / "bf", tmp_path / "store", name="i3d")
    store = load_store(tmp_path / "store", kind="features", expect_dim=12, expect_model={"name": "i3d"})
    assert res.rows == 5 and store.ids == ids
    assert torch.allclose(store.features, torch.from_numpy(feats), atol=1e-2)  # float16, not re-normalised
    write_bigfile(tmp_path / "back", store.ids, store.features)
    assert np.allclose(np.asarray(read_bigfile(tmp_path / "back")[1]), feats, atol=1e-2)
    with pytest.raises(UserError, match="finished store"):
        import_bigfile(tmp_path / "bf", tmp_path / "store")


def test_newline_ids_and_size_checks(tmp_path: Path) -> None:
    d = tmp_path / "bf"
    write_bigfile(d, ["a", "b"], np.ones((2, 3), np.float32))
    (d / "id.txt").write_text("a\nb\n")
    assert read_bigfile(d)[0] == ["a", "b"]
    (d / "shape.txt").write_text("2 4")
    with pytest.raises(UserError, match="feature.bin"):
        read_bigfile(d)
    (d / "shape.txt").write_text("3 3")
    with pytest.raises(UserError, match="id.txt"):
        read_bigfile(d)
    with pytest.raises(UserError, match="no shape.txt"):
        (d / "shape.txt").unlink()
        read_bigfile(d)


def test_video2frames_groups_frames_with_mask(tmp_path: Path) -> None:
    ids = [f"v1_{j}" for j in range(6)] + ["v2_0", "v2_1"]
    feats = np.arange(len(ids) * 2, dtype=np.float32).reshape(-1, 2)
    write_bigfile(tmp_path / "bf", ids, feats)
    v2f = tmp_path / "video2frames.txt"
    v2f.write_text(repr({"v1": ids[:6], "v2": ids[6:]}))  # NRCCR writes str(dict)
    import_bigfile(tmp_path / "bf", tmp_path / "s", video2frames=v2f, frames=3)
    store = load_store(tmp_path / "s", kind="features")
    assert store.ids == ["v1", "v2"] and store.features.shape == (2, 3, 2)
    assert store.mask.tolist() == [[True, True, True], [True, True, False]]
    assert store.features[0, :, 0].tolist() == [2.0, 6.0, 10.0]  # frames 1, 3, 5 of 6 (segment centres)
    v2f.write_text(repr({"v1": ["nope"]}))
    with pytest.raises(UserError, match="nope"):
        import_bigfile(tmp_path / "bf", tmp_path / "s2", video2frames=v2f)


def _bigfile_with(tmp_path: Path, ids: list[str], edit: tuple[int, int, float | str] | None = None) -> Path:
    """All-ones rows; `edit` (row, column, value) changes one value, or with value "row" zeroes that row."""
    feats = np.ones((len(ids), 3), np.float32)
    if edit is not None and edit[2] == "row":
        feats[edit[0]] = 0
    elif edit is not None:
        feats[edit[0], edit[1]] = edit[2]
    return write_bigfile(tmp_path / "bf", ids, feats)


@pytest.mark.parametrize(("value", "message"), [(np.nan, "holds NaN or infinity"), (-np.inf, "holds NaN or infinity"),
                                                (1e6, "holds a value beyond float16's range"),
                                                ("row", "is all zeros")])
def test_non_finite_rows_are_refused_at_import_nothing_written(tmp_path: Path, value: float | str, message: str) -> None:
    """A row every store reader would refuse (NaN, ±inf, or a value float16 turns into inf) is refused here,
    naming the row and its id; OUT is not created."""
    src = _bigfile_with(tmp_path, [f"v{i}" for i in range(5)], (3, 1, value))
    with pytest.raises(UserError, match=rf"feature\.bin: row 3 \(id 'v3'\) {message}"):
        import_bigfile(src, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    v2f = tmp_path / "v2f.txt"
    v2f.write_text(repr({"a": ["v0", "v1"], "b": ["v2", "v3", "v4"]}))  # grouped into videos: the same check
    with pytest.raises(UserError, match=rf"row 3 \(id 'v3'\) {message}"):
        import_bigfile(src, tmp_path / "out", video2frames=v2f)
    assert not (tmp_path / "out").exists()


def test_duplicate_ids_are_refused_at_import_nothing_written(tmp_path: Path) -> None:
    src = _bigfile_with(tmp_path, ["v0", "v1", "v2", "v0", "v4"])
    with pytest.raises(UserError, match=r"id\.txt: duplicate id 'v0' \(first as id 1, again as id 4\)"):
        import_bigfile(src, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_finished_store_survives_a_refused_overwrite(tmp_path: Path) -> None:
    src = _bigfile_with(tmp_path, ["a", "b"])
    import_bigfile(src, tmp_path / "out")
    before = {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()}
    _bigfile_with(tmp_path, ["a", "b"], (1, 0, np.nan))
    with pytest.raises(UserError, match="NaN"):
        import_bigfile(src, tmp_path / "out", overwrite=True)
    assert {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()} == before
    assert load_store(tmp_path / "out").ids == ["a", "b"]

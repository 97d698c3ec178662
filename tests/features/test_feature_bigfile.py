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

"""The leakage guard's record and check on stores alone: by checksum, by id, by resolved image path."""

from __future__ import annotations

from pathlib import Path

import torch

from cl2cm.artifacts.leakage import TRAINING_ITEMS, check_overlap, training_record, write_training_items
from cl2cm.artifacts.manifest import Manifest, write_manifest
from cl2cm.artifacts.store import load_store, save_store


def _store(path: Path, ids: list[str], root: Path | None) -> Path:
    extra = {"root": str(root)} if root is not None else {}
    save_store(path, torch.randn(len(ids), 4), ids, Manifest(kind="features", model={"name": "m"}, extra=extra))
    return path


def _model(tmp_path: Path, train: Path) -> Path:
    """A model directory with only what the guard reads: the manifest entry and the items file."""
    entry, items = training_record(load_store(train), train)
    model = tmp_path / "model"
    model.mkdir()
    write_training_items(model, items)
    write_manifest(model, Manifest(kind="student", extra={"training_store": entry}))
    return model


def test_same_files_under_other_ids_are_caught_by_image_path(tmp_path: Path) -> None:
    data = tmp_path / "data"
    train = _store(tmp_path / "train", [f"flickr/{i}.jpg" for i in range(10)], data)
    model = _model(tmp_path, train)
    assert (model / TRAINING_ITEMS).stat().st_size < 1000  # hashes: 8 bytes a row, not the ids themselves
    # the same three files, listed from a deeper root: other ids, same resolved paths
    gallery = _store(tmp_path / "g", ["1.jpg", "2.jpg", "3.jpg", "new.jpg"], data / "flickr")
    leak = check_overlap(model, load_store(gallery), gallery)
    assert leak is not None and (leak["by"], leak["overlap"], leak["gallery"]) == ("images", 3, 4)
    assert "3 of 4 image files" in leak["message"]


def test_disjoint_or_unrecorded_is_no_warning(tmp_path: Path) -> None:
    train = _store(tmp_path / "train", ["a.jpg", "b.jpg"], None)
    model = _model(tmp_path, train)
    held_out = _store(tmp_path / "test", ["c.jpg", "d.jpg"], None)
    assert check_overlap(model, load_store(held_out), held_out) is None
    assert check_overlap(model, load_store(train), train)["by"] == "store"
    old = tmp_path / "old"  # a student from before the record: nothing to check against
    old.mkdir()
    write_manifest(old, Manifest(kind="student"))
    assert check_overlap(old, load_store(train), train) is None
    assert check_overlap(None, load_store(train), train) is None

"""`extract-features --append`: new files are extracted and appended, old ones never re-read, removed ones
dropped; a kill anywhere resumes; the manifest's version counts the changes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cl2cm.artifacts.chunks import ChunkedRun
from cl2cm.artifacts.manifest import read_manifest
from cl2cm.artifacts.store import load_store
from cl2cm.errors import UserError
from cl2cm.features import append as append_mod
from cl2cm.features.extract import ExtractConfig, extract_features


def _img(path: Path, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(path)


def config(model: Path, **kw: object) -> ExtractConfig:
    base = dict(model=str(model), pretrained="none", batch_size=4, workers=0, chunk_size=2, device="cpu")
    base.update(kw)
    return ExtractConfig(**base)  # type: ignore[arg-type]


def rows(store_dir: Path) -> dict[str, torch.Tensor]:
    store = load_store(store_dir, dtype=None)
    return {item: store.features[i] for i, item in enumerate(store.ids)}


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "photos"
    for i in range(6):
        _img(root / f"old/{i}.png", i)
    (root / "old" / "broken.png").write_text("not an image")
    return root


def test_append_adds_new_drops_removed_and_never_rereads_old(folder: Path, tiny_clip_config: Path,
                                                            tmp_path: Path) -> None:
    out = tmp_path / "store"
    first = extract_features(folder, out, config(tiny_clip_config))
    assert first.rows == 6 and read_manifest(out).extra["version"] == 1
    before = rows(out)
    for i in range(6, 11):  # five new photos, two removed, one old file changed in place
        _img(folder / f"new/{i}.png", i)
    (folder / "old/0.png").unlink()
    (folder / "old/1.png").unlink()
    (folder / "old/2.png").write_text("changed in place: now unreadable")  # never re-read → its row stays
    res = extract_features(folder, out, config(tiny_clip_config, append=True))
    assert res.status == "appended" and (res.added, res.removed, res.version) == (5, 2, 2)
    assert res.encoded == 5 and res.skipped == 0  # broken.png was skipped before: not tried again
    after = rows(out)
    assert list(after) == ["old/2.png", "old/3.png", "old/4.png", "old/5.png",
                           *sorted(f"new/{i}.png" for i in range(6, 11))]  # listing order
    for item in ("old/2.png", "old/3.png", "old/5.png"):
        assert torch.equal(after[item], before[item])
    # the new rows are what a fresh extraction of those files stores
    fresh_dir = tmp_path / "fresh"
    shutil.copytree(folder / "new", fresh_dir / "new")
    fresh = rows(extract_features(fresh_dir, tmp_path / "fresh-store", config(tiny_clip_config)).out)
    for item, row in fresh.items():
        assert torch.equal(after[item], row)
    manifest = read_manifest(out)
    assert manifest.rows == 9 and manifest.extra["version"] == 2
    assert manifest.extra["last_append"] == {"added": 5, "removed": 2, "skipped": 0}
    skipped = [json.loads(line)["id"] for line in (out / "skipped.jsonl").read_text().splitlines()]
    assert skipped == ["old/broken.png"]
    assert not (out / ".grow").exists()
    # nothing new: nothing done, the version stays
    again = extract_features(folder, out, config(tiny_clip_config, append=True))
    assert again.status == "up to date" and read_manifest(out).extra["version"] == 2
    # a plain rerun of the same command recognises the grown store as its own
    (folder / "old/2.png").unlink()
    extract_features(folder, out, config(tiny_clip_config, append=True))
    assert extract_features(folder, out, config(tiny_clip_config)).status == "already complete"


def test_a_kill_while_extracting_or_renaming_resumes(folder: Path, tiny_clip_config: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "store"
    extract_features(folder, out, config(tiny_clip_config))
    for i in range(6, 12):
        _img(folder / f"new/{i}.png", i)
    expected_dir = tmp_path / "expected"
    shutil.copytree(out, expected_dir)
    expected = extract_features(folder, expected_dir, config(tiny_clip_config, append=True))
    assert expected.added == 6

    real_write, calls = ChunkedRun.write_tensors, []

    def die_on_second_chunk(self: ChunkedRun, index: int, tensors: dict) -> None:
        calls.append(index)
        if len(calls) == 2:
            raise KeyboardInterrupt
        real_write(self, index, tensors)

    monkeypatch.setattr(ChunkedRun, "write_tensors", die_on_second_chunk)
    with pytest.raises(KeyboardInterrupt):
        extract_features(folder, out, config(tiny_clip_config, append=True))
    monkeypatch.setattr(ChunkedRun, "write_tensors", real_write)
    assert read_manifest(out).extra["version"] == 1  # the store is untouched until the commit

    real_replace = append_mod.os.replace

    def die_before_the_manifest(src: object, dst: object) -> None:
        if Path(dst) == out / "manifest.json":  # the store's own manifest, renamed in last
            raise KeyboardInterrupt
        real_replace(src, dst)

    monkeypatch.setattr(append_mod.os, "replace", die_before_the_manifest)
    with pytest.raises(KeyboardInterrupt):
        extract_features(folder, out, config(tiny_clip_config, append=True))
    monkeypatch.setattr(append_mod.os, "replace", real_replace)
    with pytest.raises(UserError):  # mid-rename: no manifest, so no reader takes it for a store
        read_manifest(out)
    res = extract_features(folder, out, config(tiny_clip_config, append=True))
    assert res.status == "up to date"  # the rerun finished the renames; nothing was left to extract
    got, want = rows(out), rows(expected_dir)
    assert list(got) == list(want) and all(torch.equal(got[k], want[k]) for k in want)
    assert read_manifest(out).extra["version"] == 2 and not (out / ".grow").exists()


def test_append_refuses_other_options(folder: Path, tiny_clip_config: Path, tmp_path: Path) -> None:
    out = tmp_path / "store"
    extract_features(folder, out, config(tiny_clip_config))
    _img(folder / "new/9.png", 9)
    with pytest.raises(UserError, match="--tokens"):
        extract_features(folder, out, config(tiny_clip_config, append=True, tokens=True))
    with pytest.raises(UserError, match="--decode"):
        extract_features(folder, out, config(tiny_clip_config, append=True, decode="exact"))
    with pytest.raises(UserError, match="pick one"):
        extract_features(folder, out, config(tiny_clip_config, append=True, overwrite=True))
    # a store that does not exist yet: --append makes it
    fresh = extract_features(folder, tmp_path / "new-store", config(tiny_clip_config, append=True))
    assert fresh.rows == 7 and read_manifest(tmp_path / "new-store").extra["version"] == 1

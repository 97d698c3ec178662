"""A poisoned gallery (issue 25 item 2): NaN, infinity or an all-zero row in a store is refused by EVERY reader.

The store is written the honest way (`save_store`, manifest and all), so nothing but its values is wrong:
eval, search, serve and distill (through the real CLI entry point) and the Python API each refuse it with
one line naming the store, the row and its id, before ranking or training on it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from hardening_helpers import World

import cl2cm
from cl2cm.artifacts.manifest import read_manifest
from cl2cm.artifacts.store import load_store, save_store
from cl2cm.errors import UserError

ROW = 7


def poisoned(world: World, out: Path, *, where: str, zeros: bool = False) -> tuple[Path, str]:
    """A copy of the reference feature store with row ROW poisoned in `where` ("features" or "tokens"):
    NaN / +inf in one value, or (`zeros`) the whole row zero, what a failed encoding's placeholder looks like."""
    ref = load_store(world.ref / "extract-features", dtype=None)
    feats = ref.features.clone()
    extra = {}
    if where == "features":
        if zeros:
            feats[ROW] = 0
        else:
            feats[ROW, 3] = float("nan")
    else:  # an extra tensor that rides along (patch tokens)
        tokens = torch.randn(len(ref), 2, ref.dim)
        if zeros:
            tokens[ROW] = 0
        else:
            tokens[ROW, 1, 0] = float("inf")
        extra["tokens"] = tokens
    save_store(out, feats, ref.ids, read_manifest(world.ref / "extract-features"), extra=extra)
    return out, ref.ids[ROW]


def readers(world: World, store: Path, tmp: Path) -> dict[str, list[str]]:
    ref = world.ref
    common = ["--device", "cpu", "--quiet"]
    distill = world.argv("distill", tmp / "student")
    distill[distill.index("--features") + 1] = str(store)
    return {
        "eval": ["eval", "--model", str(ref / "distill"), "--captions", str(ref / "translate" / "de.jsonl"),
                 "--features", str(store), *common],
        "search": ["search", "ein Hund", "--model", str(ref / "distill"), "--features", str(store), *common],
        "serve": ["serve", "--model", str(ref / "distill"), "--features", str(store), "--port", "0", *common],
        "distill": distill,
    }


@pytest.mark.parametrize("zeros", [False, True], ids=["nan-or-inf", "all-zero"])
@pytest.mark.parametrize("where", ["features", "tokens"])
def test_every_reader_refuses_a_poisoned_store(world: World, tmp_path: Path, cli, where: str, zeros: bool) -> None:
    store, bad_id = poisoned(world, tmp_path / "poisoned", where=where, zeros=zeros)
    why = "is all zeros" if zeros else "holds NaN or infinity"
    expect = f"row {ROW} (id {bad_id!r}, line {ROW + 1} of ids.txt) of {where!r} {why}"
    for name, argv in readers(world, store, tmp_path).items():
        code, out, err = cli(argv)
        assert code == 2, (name, out, err)
        assert len(err.splitlines()) == 1 and str(store) in err and expect in err, (name, err)
        assert "Traceback" not in err
        assert not (tmp_path / "student" / "manifest.json").exists()
    with pytest.raises(UserError, match=why) as info:  # the Python API, the same line
        cl2cm.load_store(store)
    assert str(store) in str(info.value) and expect in str(info.value)
    with pytest.raises(UserError, match=why):
        cl2cm.encode_store(cl2cm.load_model(world.ref / "distill"), store)


def test_a_clean_copy_still_loads(world: World, tmp_path: Path) -> None:
    """The check refuses only what is wrong: the same store without the poison loads (and huge finite values
    whose float32 sum would overflow are not mistaken for infinity)."""
    clean = Path(shutil.copytree(world.ref / "extract-features", tmp_path / "clean"))
    assert len(load_store(clean)) > ROW
    ref = load_store(clean, dtype=None)
    big = torch.full(ref.features.shape, 3e38)
    save_store(tmp_path / "big", big, ref.ids, read_manifest(clean))
    assert torch.equal(load_store(tmp_path / "big").features, big)


def test_a_model_that_encodes_rows_to_nan_is_refused(world: World, tmp_path: Path, cli) -> None:
    """Broken weights: NaN ones are refused when the model loads; finite ones that overflow the encoding
    are caught by the check of the gallery's embeddings, so no score is ever NaN."""
    for value, needle in ((float("nan"), "tensor 'visual."), (3e38, "--model: encodes row 0")):
        model = cl2cm.load_model(world.ref / "distill")
        with torch.no_grad():
            next(p for name, p in model.named_parameters() if name.startswith("visual.")).fill_(value)
        model.save(tmp_path / "broken", read_manifest(world.ref / "distill"))
        code, _, err = cli(["search", "ein Hund", "--model", str(tmp_path / "broken"), "--features",
                            str(world.ref / "extract-features"), "--device", "cpu", "--quiet"])
        assert code == 2 and len(err.splitlines()) == 1, err
        assert needle in err and "NaN or infinity" in err, err

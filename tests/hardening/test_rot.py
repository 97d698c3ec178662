"""Bytes that rot (issue 25 item 6): one flipped byte in any tensor file, or an edited id list, is detected.

Each case copies a finished reference artifact, flips ONE byte in the middle of one tensor's data (the
header still parses, the shapes are right: nothing but the checksum can tell), and hands it to its reader
through the CLI entry point: exit 2, one line naming the file. `cl2cm verify` finds every case too.
"""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

import pytest
import torch
from hardening_helpers import World

from cl2cm.artifacts.manifest import record_files
from cl2cm.artifacts.store import load_safetensors, read_metadata, save_safetensors
from cl2cm.errors import UserError
from cl2cm.train.data import cached


def flip(path: Path, tensor: str | None = None) -> str:
    """Flip one byte in the middle of `tensor`'s data (default: the largest tensor); returns its name."""
    raw = bytearray(path.read_bytes())
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    header.pop("__metadata__", None)
    name = tensor or max(header, key=lambda k: header[k]["data_offsets"][1] - header[k]["data_offsets"][0])
    start, end = header[name]["data_offsets"]
    raw[8 + n + (start + end) // 2] ^= 0x10
    path.write_bytes(bytes(raw))
    return name


def _copy(world: World, stage: str, tmp: Path) -> Path:
    return Path(shutil.copytree(world.ref / stage, tmp / stage))


def _eval(world: World, model: Path, features: Path) -> list[str]:
    return ["eval", "--model", str(model), "--captions", str(world.ref / "translate" / "de.jsonl"),
            "--features", str(features), "--quiet", "--device", "cpu"]


def case_features(world: World, t: Path) -> tuple[list[str], Path]:
    feats = _copy(world, "extract-features", t)
    flip(feats / "features.safetensors")
    return _eval(world, world.ref / "distill", feats), feats / "features.safetensors"


def case_model_tensor(world: World, t: Path) -> tuple[list[str], Path]:
    student = _copy(world, "distill", t)
    flip(student / "model.safetensors")
    return _eval(world, student, world.ref / "extract-features"), student / "model.safetensors"


def case_checkpoint_tensor(world: World, t: Path) -> tuple[list[str], Path]:
    teacher = _copy(world, "train-teacher", t)
    flip(teacher / "checkpoints" / "last.safetensors")
    return world.argv("train-teacher", teacher, resume=True), teacher / "checkpoints" / "last.safetensors"


def case_checkpoint_rng_state(world: World, t: Path) -> tuple[list[str], Path]:
    teacher = _copy(world, "distill", t)
    flip(teacher / "checkpoints" / "last.safetensors", "rng.torch")
    argv = world.argv("distill", teacher, resume=True)
    return argv, teacher / "checkpoints" / "last.safetensors"


def case_checkpoint_metadata(world: World, t: Path) -> tuple[list[str], Path]:
    """A byte of the checkpoint's JSON state (step, optimizer settings) changed: a digit, still valid JSON."""
    teacher = _copy(world, "train-teacher", t)
    path = teacher / "checkpoints" / "last.safetensors"
    raw = path.read_bytes()
    at = raw.index(b'\\"epoch\\": ') + len(b'\\"epoch\\": ')
    path.write_bytes(raw[:at] + bytes([raw[at] ^ 0x01]) + raw[at + 1:])
    return world.argv("train-teacher", teacher, resume=True), path


def case_ids_edited_for_serve(world: World, t: Path) -> tuple[list[str], Path]:
    feats = _copy(world, "extract-features", t)
    ids = (feats / "ids.txt").read_text().splitlines()
    ids[0], ids[1] = ids[1], ids[0]  # same ids, same count, two rows swapped: only the checksum sees it
    (feats / "ids.txt").write_text("\n".join(ids) + "\n")
    return (["serve", "--model", str(world.ref / "distill"), "--features", str(feats), "--port", "0", "--quiet",
             "--device", "cpu"], feats / "ids.txt")


CASES = {name[5:]: fn for name, fn in globals().items() if name.startswith("case_")}


@pytest.mark.parametrize("case", list(CASES))
def test_one_flipped_byte_is_detected_not_used(world: World, tmp_path: Path, cli, case: str) -> None:
    argv, damaged = CASES[case](world, tmp_path)
    code, out, err = cli(argv)
    assert code == 2, (out, err)
    assert len(err.splitlines()) == 1 and str(damaged) in err and "checksum mismatch" in err, err
    artifact = damaged.parent.parent if damaged.parent.name == "checkpoints" else damaged.parent
    code, out, err = cli(["verify", str(artifact)])
    assert code == 2 and len(err.splitlines()) == 1, (out, err)
    assert f"1 damaged file(s): {damaged.relative_to(artifact).as_posix()} (checksum mismatch)" in err, err


@pytest.mark.parametrize("stage", ["translate", "extract-features", "train-teacher", "distill"])
def test_verify_passes_every_untouched_artifact(world: World, cli, stage: str) -> None:
    code, out, err = cli(["verify", str(world.ref / stage)])
    assert code == 0 and err == "", err
    assert out.startswith(f"ok: {world.ref / stage}: ") and "files match their checksums" in out
    store = stage == "extract-features"  # what was checked beyond the bytes, as the line says it
    assert ("values finite, no all-zero row, ids unique" in out) == store and "values finite" in out


def test_old_artifacts_without_checksums_still_load_and_verify(world: World, tmp_path: Path, cli) -> None:
    feats = _copy(world, "extract-features", tmp_path)
    manifest = json.loads((feats / "manifest.json").read_text())
    del manifest["files"]
    (feats / "manifest.json").write_text(json.dumps(manifest))
    tensors = load_safetensors(feats / "features.safetensors")  # rewritten the old way: no digest in the header
    from safetensors.torch import save_file

    save_file(tensors, str(feats / "features.safetensors"))
    code, out, err = cli(_eval(world, world.ref / "distill", feats))
    assert code == 0, err
    code, out, err = cli(["verify", str(feats)])
    assert code == 0 and "no checksums recorded" in out


def _rerecord(artifact: Path) -> None:
    """Record the artifact's current bytes in its manifest: damage cl2cm itself wrote, checksums all agree."""
    manifest = json.loads((artifact / "manifest.json").read_text())
    manifest["files"] = record_files(artifact)
    (artifact / "manifest.json").write_text(json.dumps(manifest))


def _poison(path: Path, name: str | None = None, *, row: int = 0) -> str:
    """Rewrite a safetensors file (with a valid digest) whose tensor `name` (default: the first float one)
    holds NaN in `row`; returns the tensor's name."""
    tensors, meta = load_safetensors(path), read_metadata(path)
    name = name or next(k for k, v in sorted(tensors.items()) if v.is_floating_point())
    tensors[name].reshape(tensors[name].shape[0], -1)[row, 0] = float("nan")
    save_safetensors(path, tensors, metadata=meta)
    return name


def value_features_nan_row(world: World, t: Path) -> tuple[Path, str]:
    feats = _copy(world, "extract-features", t)
    _poison(feats / "features.safetensors", "features", row=3)
    _rerecord(feats)
    row_id = (feats / "ids.txt").read_text().splitlines()[3]
    return feats, f"features.safetensors (tensor 'features' row 3 (id {row_id!r}) holds NaN or infinity)"


def value_features_zero_row(world: World, t: Path) -> tuple[Path, str]:
    feats = _copy(world, "extract-features", t)
    path = feats / "features.safetensors"
    tensors, meta = load_safetensors(path), read_metadata(path)
    tensors["features"][2] = 0  # a failed encoding's placeholder: finite, checksummed, and useless
    save_safetensors(path, tensors, metadata=meta)
    _rerecord(feats)
    row_id = (feats / "ids.txt").read_text().splitlines()[2]
    return feats, f"features.safetensors (tensor 'features' row 2 (id {row_id!r}) is all zeros)"


def value_store_duplicate_id(world: World, t: Path) -> tuple[Path, str]:
    feats = _copy(world, "extract-features", t)
    ids = (feats / "ids.txt").read_text().splitlines()
    ids[4] = ids[1]
    (feats / "ids.txt").write_text("\n".join(ids) + "\n")
    _rerecord(feats)
    return feats, f"ids.txt (duplicate id {ids[1]!r} on line 5, first on line 2)"


def value_model_nan_weight(world: World, t: Path) -> tuple[Path, str]:
    student = _copy(world, "distill", t)
    name = _poison(student / "model.safetensors")
    _rerecord(student)
    return student, f"model.safetensors (tensor {name!r}"


def value_checkpoint_nan_weight(world: World, t: Path) -> tuple[Path, str]:
    teacher = _copy(world, "train-teacher", t)
    name = _poison(teacher / "checkpoints" / "last.safetensors")
    return teacher, f"checkpoints/last.safetensors (tensor {name!r}"


VALUE_CASES = {name[6:]: fn for name, fn in globals().items() if name.startswith("value_")}


@pytest.mark.parametrize("case", list(VALUE_CASES))
def test_verify_refuses_what_every_reader_refuses(world: World, tmp_path: Path, cli, case: str) -> None:
    """Checksums all agree (cl2cm wrote the damage), yet the readers refuse it: so does verify, naming the
    file and the tensor/row/id, where it used to say ok."""
    artifact, expected = VALUE_CASES[case](world, tmp_path)
    code, out, err = cli(["verify", str(artifact)])
    assert code == 2 and out == "" and len(err.splitlines()) == 1, (out, err)
    assert f"1 damaged file(s): {expected}" in err, err
    if case == "model_nan_weight":  # the model's and the store's readers refuse the same artifact
        code, _, err = cli(_eval(world, artifact, world.ref / "extract-features"))
        assert code == 2 and "holds NaN or infinity" in err, err
    elif case != "checkpoint_nan_weight":
        code, _, err = cli(_eval(world, world.ref / "distill", artifact))
        assert code == 2 and len(err.splitlines()) == 1, err


def test_verify_counts_files_it_cannot_check_and_still_checks_their_values(world: World, tmp_path: Path,
                                                                           cli) -> None:
    feats = _copy(world, "extract-features", tmp_path)
    from safetensors.torch import save_file

    tensors = load_safetensors(feats / "features.safetensors")
    save_file(tensors, str(feats / "features.safetensors"))  # no digest in the header ...
    manifest = json.loads((feats / "manifest.json").read_text())
    del manifest["files"]["features.safetensors"]  # ... and none in the manifest: nothing to compare against
    (feats / "manifest.json").write_text(json.dumps(manifest))
    code, out, err = cli(["verify", str(feats)])
    assert code == 0 and err == "", err
    assert "1 file(s) with no recorded checksum, bytes not verified (features.safetensors)" in out, out
    tensors["features"][2, 0] = float("inf")
    save_file(tensors, str(feats / "features.safetensors"))
    code, out, err = cli(["verify", str(feats)])
    assert code == 2 and "features.safetensors (tensor 'features' row 2" in err, (out, err)


def test_a_flipped_token_cache_is_rebuilt_not_used(tmp_path: Path) -> None:
    path = tmp_path / "tokens-abc.safetensors"
    good = {"ids": torch.arange(64, dtype=torch.int64).reshape(8, 8), "mask": torch.ones(8, 8, dtype=torch.bool)}
    save_safetensors(path, good)
    flip(path, "ids")
    with pytest.raises(UserError, match="checksum mismatch"):
        load_safetensors(path)
    built = []
    out = cached(path, lambda: built.append(1) or {k: v.clone() for k, v in good.items()}, write=True)
    assert built == [1] and torch.equal(out["ids"], good["ids"])
    assert torch.equal(load_safetensors(path)["ids"], good["ids"])  # rewritten whole

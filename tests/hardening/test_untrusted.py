"""Untrusted inputs: no pickle or remote code on any load path; damaged or mismatched artifacts are one line.

Each case copies a finished reference artifact, damages it the way a bad disk, an interrupted copy or a
mix-up would, and hands it to the next stage through the CLI: exit 2, one stderr line naming the file.
"""

from __future__ import annotations

import ast
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from hardening_helpers import World, run_main
from safetensors.torch import load_file, save_file

from cl2cm.artifacts.manifest import read_manifest
from cl2cm.artifacts.store import load_store, save_store

SRC = Path(__file__).resolve().parents[2] / "src" / "cl2cm"


def _calls(tree: ast.AST) -> list[tuple[str, ast.Call]]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            out.append((ast.unparse(node.func), node))
    return out


def test_no_pickle_or_remote_code_on_any_load_path() -> None:
    """torch.load / pickle / trust_remote_code=True appear nowhere; the one pickle-capable loader is gated."""
    gated = []
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for name, call in _calls(tree):
            assert name not in ("torch.load", "pickle.load", "pickle.loads", "torch.jit.load", "np.load",
                                "numpy.load", "eval", "exec"), f"{path}:{call.lineno}: {name}"
            for kw in call.keywords:
                if kw.arg == "trust_remote_code":
                    assert isinstance(kw.value, ast.Constant) and kw.value.value is False, f"{path}:{call.lineno}"
            if name.endswith("load_checkpoint"):
                gated.append(f"{path.relative_to(SRC)}")
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                assert not any(n in ("pickle", "dill", "cloudpickle", "joblib") for n in names), f"{path}"
    # open_clip.load_checkpoint (torch.load inside) only behind extract-features' --allow-pickle check
    assert gated == ["features/encoders.py"]
    body = (SRC / "features" / "encoders.py").read_text(encoding="utf-8")
    assert 'path.suffix.lower() != ".safetensors" and not allow_pickle' in body


# ---------------------------------------------------------------------------------------------- damage
def truncate(path: Path) -> None:
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])


def tamper_header(path: Path) -> None:
    raw = bytearray(path.read_bytes())
    raw[8 + 2] ^= 0x55  # inside the JSON header (after the 8-byte length)
    path.write_bytes(bytes(raw))


def zero_length(path: Path) -> None:
    path.write_bytes(b"")


def _edit_manifest(d: Path, fn: Callable[[dict], None]) -> None:
    data = json.loads((d / "manifest.json").read_text())
    fn(data)
    (d / "manifest.json").write_text(json.dumps(data))


def _copy(world: World, stage: str, tmp_path: Path, *, checksums: bool = True) -> Path:
    """A copy of a reference artifact; `checksums=False`: as written before manifests recorded digests,
    so that a hand edit reaches the reader's deeper checks (with them, it is a checksum mismatch first)."""
    out = Path(shutil.copytree(world.ref / stage, tmp_path / stage))
    if not checksums:
        _edit_manifest(out, lambda m: m.pop("files"))
    return out


def _eval(world: World, model: Path, features: Path) -> list[str]:
    return ["eval", "--model", str(model), "--captions", str(world.ref / "translate" / "de.jsonl"),
            "--features", str(features), "--quiet", "--device", "cpu"]


def _distill(world: World, teacher: Path, features: Path, out: Path) -> list[str]:
    argv = world.argv("distill", out)
    argv[argv.index("--teacher") + 1] = str(teacher)
    argv[argv.index("--features") + 1] = str(features)
    return argv


def case_truncated_teacher(world: World, t: Path) -> tuple[list[str], str]:
    teacher = _copy(world, "train-teacher", t)
    truncate(teacher / "model.safetensors")
    return _distill(world, teacher, world.ref / "extract-features", t / "s"), "corrupt or truncated safetensors"


def case_tampered_student(world: World, t: Path) -> tuple[list[str], str]:
    student = _copy(world, "distill", t)
    tamper_header(student / "model.safetensors")
    return _eval(world, student, world.ref / "extract-features"), "corrupt or truncated safetensors"


def case_empty_features(world: World, t: Path) -> tuple[list[str], str]:
    feats = _copy(world, "extract-features", t)
    zero_length(feats / "features.safetensors")
    return _distill(world, world.ref / "train-teacher", feats, t / "s"), "corrupt or truncated safetensors"


def case_truncated_checkpoint(world: World, t: Path) -> tuple[list[str], str]:
    teacher = _copy(world, "train-teacher", t)
    truncate(teacher / "checkpoints" / "last.safetensors")
    return world.argv("train-teacher", teacher, resume=True), "last.safetensors: corrupt or truncated"


def case_undecodable_query(world: World, t: Path) -> tuple[list[str], str]:
    """Bytes that are not UTF-8 on the command line (`$'\\xff\\xfe'`) reach Python as lone surrogates."""
    return (["search", "--model", str(world.ref / "distill"), "--features", str(world.ref / "extract-features"),
             "ein Hund", "\udcff\udcfe"], "query 2 is not valid UTF-8 text: \\udcff\\udcfe")


def case_foreign_checkpoint(world: World, t: Path) -> tuple[list[str], str]:
    """A plain safetensors file (no cl2cm metadata) where the checkpoint should be."""
    teacher = _copy(world, "train-teacher", t)
    save_file({"x": torch.zeros(2)}, str(teacher / "checkpoints" / "last.safetensors"))
    return world.argv("train-teacher", teacher, resume=True), "not a cl2cm training checkpoint"


def case_features_of_another_model(world: World, t: Path) -> tuple[list[str], str]:
    feats = _copy(world, "extract-features", t)
    _edit_manifest(feats, lambda m: m["model"].update(name="ViT-L-14"))
    return _eval(world, world.ref / "distill", feats), "made with name='ViT-L-14'"


def case_features_of_another_dim(world: World, t: Path) -> tuple[list[str], str]:
    ref = load_store(world.ref / "extract-features", dtype=None)
    manifest = read_manifest(world.ref / "extract-features")
    manifest.extra = {}
    save_store(t / "f16", torch.randn(len(ref), 16).half(), ref.ids, manifest)
    return _eval(world, world.ref / "distill", t / "f16"), f"dimension 16, the model expects {ref.dim}"


def case_student_given_as_teacher(world: World, t: Path) -> tuple[list[str], str]:
    return (_distill(world, world.ref / "distill", world.ref / "extract-features", t / "s"),
            "is a 'student' artifact, expected teacher")


def case_weights_of_another_model(world: World, t: Path) -> tuple[list[str], str]:
    student = _copy(world, "distill", t)
    shutil.copy(world.ref / "train-teacher" / "model.safetensors", student / "model.safetensors")
    return _eval(world, student, world.ref / "extract-features"), "weights do not match the config"


def case_corrupt_config(world: World, t: Path) -> tuple[list[str], str]:
    student = _copy(world, "distill", t, checksums=False)
    (student / "config.json").write_text('{"text": ')
    return _eval(world, student, world.ref / "extract-features"), "corrupt config"


def case_future_manifest(world: World, t: Path) -> tuple[list[str], str]:
    feats = _copy(world, "extract-features", t)
    _edit_manifest(feats, lambda m: m.update(schema_version=99))
    return _eval(world, world.ref / "distill", feats), "manifest schema version 99"


def case_ids_out_of_step(world: World, t: Path) -> tuple[list[str], str]:
    """ids.txt of another store (one row short): rows and ids no longer line up."""
    feats = _copy(world, "extract-features", t, checksums=False)
    lines = (feats / "ids.txt").read_text().splitlines()
    (feats / "ids.txt").write_text("\n".join(lines[:-1]) + "\n")
    return _eval(world, world.ref / "distill", feats), "inconsistent store"


def case_student_files_under_a_teacher_manifest(world: World, t: Path) -> tuple[list[str], str]:
    """A student directory whose manifest was edited to say "teacher" (it once raised KeyError: 'shared')."""
    student = _copy(world, "distill", t)
    _edit_manifest(student, lambda m: m.update(kind="teacher"))
    return (_distill(world, student, world.ref / "extract-features", t / "s"),
            "config.json: describes a 'student' model but manifest.json says 'teacher'")


def case_manifest_rows_as_a_string(world: World, t: Path) -> tuple[list[str], str]:
    feats = _copy(world, "extract-features", t)
    _edit_manifest(feats, lambda m: m.update(rows=str(m["rows"])))
    return _eval(world, world.ref / "distill", feats), "manifest.json: manifest field 'rows' is str '60', expected int"


def case_manifest_model_as_a_list(world: World, t: Path) -> tuple[list[str], str]:
    feats = _copy(world, "extract-features", t)
    _edit_manifest(feats, lambda m: m.update(model=["ViT"]))
    return _eval(world, world.ref / "distill", feats), "manifest field 'model' is list"


def case_store_with_a_duplicate_id(world: World, t: Path) -> tuple[list[str], str]:
    feats = _copy(world, "extract-features", t, checksums=False)
    lines = (feats / "ids.txt").read_text().splitlines()
    lines[4] = lines[1]
    (feats / "ids.txt").write_text("\n".join(lines) + "\n")
    return _eval(world, world.ref / "distill", feats), f"ids.txt:5: duplicate id {lines[1]!r} (first on line 2)"


def case_search_on_a_store_with_a_duplicate_id(world: World, t: Path) -> tuple[list[str], str]:
    """search used to accept the store eval refuses."""
    argv, needle = case_store_with_a_duplicate_id(world, t)
    feats = argv[argv.index("--features") + 1]
    return ["search", "ein Hund", "--model", str(world.ref / "distill"), "--features", feats, "--quiet",
            "--device", "cpu"], needle


def case_edited_ids_with_checksums(world: World, t: Path) -> tuple[list[str], str]:
    """The same edit on an artifact whose manifest records digests: caught before anything else."""
    feats = _copy(world, "extract-features", t)
    lines = (feats / "ids.txt").read_text().splitlines()
    lines[4] = lines[1]
    (feats / "ids.txt").write_text("\n".join(lines) + "\n")
    return _eval(world, world.ref / "distill", feats), "ids.txt: checksum mismatch with manifest.json"


def case_edited_config_with_checksums(world: World, t: Path) -> tuple[list[str], str]:
    student = _copy(world, "distill", t)
    (student / "config.json").write_text((student / "config.json").read_text() + " ")  # still valid JSON
    return _eval(world, student, world.ref / "extract-features"), "config.json: checksum mismatch with manifest"


CASES = {name[5:]: fn for name, fn in globals().items() if name.startswith("case_")}


@pytest.mark.parametrize("case", sorted(CASES))
def test_damaged_or_mismatched_input_is_one_line_exit_2(case: str, world: World, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    argv, needle = CASES[case](world, tmp_path)
    before = load_file(str(world.ref / "train-teacher" / "model.safetensors"))
    code = run_main(argv)
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("cl2cm: error:") and err.count("\n") == 1, err
    assert needle in err, err
    after = load_file(str(world.ref / "train-teacher" / "model.safetensors"))
    assert all(torch.equal(before[k], after[k]) for k in before)  # the inputs were only read

"""The breaks a hostile run reproduced (issue 12), each replayed: one line, the right exit code, nothing left.

Temp files of a killed final merge are removed by the run and by the rerun; a finished extract-features is
"already complete" on the same command (exit 0) like translate; a failed extract-features leaves no empty
OUT; caption fields of the wrong JSON type are refused by the reader; output paths that are directories or
lie under a regular file are refused before any work; a read-only output names the file the user gave.
"""

from __future__ import annotations

import errno
import json
import shutil
import tempfile
from pathlib import Path

import pytest
from hardening_helpers import World, run_main

from cl2cm.artifacts.store import load_store

TEMPS = {"translate": [".de.jsonl.k3j2h1g0.tmp", ".manifest.json.abcdefgh.tmp"],
         "extract-features": [".features.safetensors.zz9y8x7w.tmp", ".ids.txt.q1w2e3r4.tmp",
                              ".manifest.json.abcdefgh.tmp"]}


def _snapshot(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.is_file()}


@pytest.mark.parametrize("stage", sorted(TEMPS))
def test_rerun_on_a_finished_artifact_is_already_complete_and_removes_stale_temps(
        stage: str, world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """What a SIGKILL during the final merge leaves (the artifact had already been committed once)."""
    out = Path(shutil.copytree(world.ref / stage, tmp_path / stage))
    before = _snapshot(out)
    for name in TEMPS[stage]:
        (out / name).write_bytes(b"\0" * 64)
    argv = [a for a in world.argv(stage, out) if a != "--quiet"]
    assert run_main(argv) == 0
    printed = " ".join(capsys.readouterr().out.split())
    assert "already complete" in printed, printed
    assert not list(out.glob("*.tmp")) and _snapshot(out) == before  # the artifact itself untouched


@pytest.mark.parametrize("stage", sorted(TEMPS))
def test_a_run_removes_temps_a_killed_merge_left_before_it_commits(stage: str, world: World,
                                                                   tmp_path: Path) -> None:
    out = tmp_path / stage
    out.mkdir()
    for name in TEMPS[stage]:
        (out / name).write_bytes(b"\0" * 64)
    (out / "notes.tmp").write_text("the user's own file: not ours to delete")
    assert run_main(world.argv(stage, out)) == 0
    assert sorted(p.name for p in out.glob("*.tmp")) == ["notes.tmp"]
    ref = _snapshot(world.ref / stage)
    got = _snapshot(out)
    if stage == "translate":
        assert got["de.jsonl"] == ref["de.jsonl"]
    else:
        assert load_store(out).ids == load_store(world.ref / stage).ids


def test_failed_extract_features_leaves_no_empty_out(world: World, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "feats"
    argv = world.argv("extract-features", out)
    argv[argv.index("--model") + 1] = "no-such-open-clip-model"
    assert run_main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no-such-open-clip-model" in err, err
    assert not out.exists()


# ---------------------------------------------------------------------------------------------- captions
@pytest.mark.parametrize("value", [["a.jpg", "b.jpg"], 5, {"x": 1}, None])
@pytest.mark.parametrize("stage", ["translate", "extract-features", "eval"])
def test_caption_image_of_the_wrong_json_type_is_refused(stage: str, value: object, world: World,
                                                         tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [{"id": "a.jpg#0", "image": "a.jpg", "lang": "de", "text": "Ein Hund."},
            {"id": "b.jpg#0", "image": value, "lang": "de", "text": "Eine Katze."}]
    if stage == "translate":
        rows = [{**r, "lang": "en"} for r in rows]
    corpus = tmp_path / "caps.jsonl"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out"
    if stage == "translate":
        argv = ["translate", str(corpus), "--to", "de", "--backend", "lexicon", "--model",
                str(world.root / "lexicon.json"), "--out", str(out)]
    elif stage == "extract-features":
        argv = ["extract-features", str(corpus), "--input-kind", "captions", "--root", str(tmp_path), "--model",
                str(world.root / "tiny-vit.json"), "--pretrained", "none", "--out", str(out)]
    else:
        argv = ["eval", "--model", str(world.ref / "distill"), "--captions", str(corpus), "--features",
                str(world.ref / "extract-features"), "--device", "cpu"]
    assert run_main([*argv, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{corpus}:2: field 'image' must be a string, got" in err, err
    assert not out.exists()


# ---------------------------------------------------------------------------------------------- outputs
def _eval_argv(world: World) -> list[str]:
    return ["eval", "--model", str(world.ref / "distill"), "--captions", str(world.ref / "translate" / "de.jsonl"),
            "--features", str(world.ref / "extract-features"), "--device", "cpu", "--quiet"]


def _search_argv(world: World) -> list[str]:
    return ["search", "ein Hund", "--model", str(world.ref / "distill"), "--features",
            str(world.ref / "extract-features"), "--root", str(world.root / "images" / "train"), "--quiet",
            "--device", "cpu"]


@pytest.mark.parametrize(("command", "flag", "where", "needle"), [
    ("eval", "--out", "dir", "--out: is a directory, expected a file path"),
    ("eval", "--ranks", "dir", "--ranks: is a directory, expected a file path"),
    ("eval", "--out", "under-file", "is a file, not a directory"),
    ("eval", "--save-embeddings", "file", "--save-embeddings: is a file, expected a directory"),
    ("eval", "--save-embeddings", "under-file", "is a file, not a directory"),
    ("search", "--html", "dir", "--html: is a directory, expected a file path"),
    ("search", "--html", "under-file", "is a file, not a directory"),
])
def test_output_paths_that_cannot_be_written_are_refused_first(command: str, flag: str, where: str, needle: str,
                                                                world: World, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "adir").mkdir()
    (tmp_path / "afile").write_text("x")
    target = {"dir": tmp_path / "adir", "file": tmp_path / "afile", "under-file": tmp_path / "afile" / "m.json"}[where]
    argv = _eval_argv(world) if command == "eval" else _search_argv(world)
    assert run_main([*argv, flag, str(target)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err and str(target) in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adir", "afile"] and not any((tmp_path / "adir").iterdir())


def test_read_only_eval_out_names_the_file_and_exits_1(world: World, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """A read-only disk refuses the temp file; the message names m.json (what the user typed), exit 1."""
    def read_only(*args: object, **kwargs: object) -> tuple[int, str]:
        raise OSError(errno.EROFS, "Read-only file system", str(tmp_path / ".m.json.abcdefgh.tmp"))

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    out = tmp_path / "m.json"
    assert run_main([*_eval_argv(world), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{out}: Read-only file system" in err and ".tmp" not in err, err

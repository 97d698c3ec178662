"""A finished model directory holds what load_model needs; --keep-checkpoints keeps the resume state.

Both training commands: the checkpoints go once the model directory is written (only a small
checkpoints/finished.json stays), `--resume` on the finished run says "already complete" without
touching the model, a killed run still resumes, and extending a finished run needs --keep-checkpoints.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from interrupt import interrupted_on_call

from cl2cm.cli import main
from cl2cm.models import load_model
from cl2cm.train.teacher import TeacherTask

MODEL_FILES = {"model.safetensors", "config.json", "manifest.json", "metrics.jsonl", "tokenizer.json",
               "tokenizer_config.json", "checkpoints/finished.json"}


def _jsonl(path: Path, lang: str, text: str) -> Path:
    path.write_text("".join(json.dumps({"id": f"im{i}#0", "lang": lang, "text": text.format(i)}) + "\n"
                            for i in range(16)))
    return path


def _files(directory: Path) -> set[str]:
    return {str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file()}


@pytest.fixture()
def teacher_args(tiny_bert_dir: Path, tmp_path: Path):
    en = _jsonl(tmp_path / "en.jsonl", "en", "A dog number {} runs.")
    de = _jsonl(tmp_path / "de.jsonl", "de", "Ein Hund Nummer {} läuft.")

    def args(out: Path, *extra: str) -> list[str]:
        return ["train-teacher", "--src", str(en), "--tgt", str(de), "--val-src", str(en), "--val-tgt", str(de),
                "--encoder", str(tiny_bert_dir), "--dim", "16", "--max-length", "16", "--batch-size", "4",
                "--epochs", "2", "--device", "cpu", "--ot-iters", "5", "--out", str(out), *extra]
    return args


def test_finished_teacher_keeps_only_what_load_model_needs_and_resume_says_complete(
        teacher_args, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "t"
    main(teacher_args(out, "--quiet"))
    assert _files(out) - {f for f in _files(out) if f.startswith(("vocab", "special_tokens"))} == MODEL_FILES
    finished = json.loads((out / "checkpoints" / "finished.json").read_text())
    assert finished["state"]["epoch"] == 2
    assert load_model(out).encode_text(["Ein Hund."]).shape == (1, 16)
    # the same command with --resume: already complete, nothing trained, the model untouched
    mtime = (out / "model.safetensors").stat().st_mtime_ns
    metrics = (out / "metrics.jsonl").read_text()
    main(teacher_args(out, "--resume"))
    assert "already complete" in capsys.readouterr().out
    assert (out / "model.safetensors").stat().st_mtime_ns == mtime and (out / "metrics.jsonl").read_text() == metrics
    assert "checkpoints/last.safetensors" not in _files(out)  # the re-made token cache went again
    # more epochs cannot continue without the optimizer state: one line, exit 2, naming the flag that keeps it
    with pytest.raises(SystemExit) as exc:
        main(teacher_args(out, "--resume", "--epochs", "3", "--quiet"))
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "--keep-checkpoints" in err and err.count("\n") == 1, err
    assert (out / "model.safetensors").stat().st_mtime_ns == mtime


def test_keep_checkpoints_extends_a_finished_run_and_a_killed_run_still_resumes(
        teacher_args, tmp_path: Path) -> None:
    kept = tmp_path / "kept"
    main(teacher_args(kept, "--keep-checkpoints", "--quiet"))
    assert {"checkpoints/last.safetensors", "checkpoints/best.safetensors"} <= _files(kept)
    main(teacher_args(kept, "--keep-checkpoints", "--resume", "--epochs", "3", "--quiet"))
    epochs = [json.loads(x)["epoch"] for x in (kept / "metrics.jsonl").read_text().splitlines()
              if json.loads(x)["split"] == "val"]
    assert epochs == [0, 1, 2]
    # killed in epoch 2 (4 steps per epoch): the checkpoints are there for the resume, gone after it finishes
    cut = tmp_path / "cut"
    with interrupted_on_call(TeacherTask, "loss", 6), pytest.raises(SystemExit):
        main(teacher_args(cut, "--quiet"))
    assert "checkpoints/last.safetensors" in _files(cut) and not (cut / "manifest.json").exists()
    main(teacher_args(cut, "--resume", "--quiet"))
    assert (cut / "manifest.json").exists() and "checkpoints/last.safetensors" not in _files(cut)
    assert json.loads((cut / "checkpoints" / "finished.json").read_text())["state"]["epoch"] == 2

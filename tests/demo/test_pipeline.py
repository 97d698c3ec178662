"""`cl2cm demo --out`: every stage through the real CLI on a tiny world; results.json; resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from cl2cm.cli import main
from cl2cm.demo.pipeline import RESULT_KEYS, DemoConfig, plan
from cl2cm.errors import UserError

TINY = ["--train", "40", "--val", "12", "--test", "12", "--teacher-epochs", "1", "--student-epochs", "1"]


@pytest.fixture()
def restore_threads():
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


def test_demo_runs_every_stage_and_resumes(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                           restore_threads: None) -> None:
    out = tmp_path / "demo"
    main(["demo", "--out", str(out), *TINY])
    printed = capsys.readouterr().out
    results = json.loads((out / "results.json").read_text())
    assert tuple(results) == RESULT_KEYS
    for key in RESULT_KEYS:
        assert set(results[key]) == {"t2v", "v2t", "SumR", "queries", "gallery"}
        assert results[key] == json.loads((out / "eval" / f"{key}.json").read_text())
    assert results["student"]["gallery"] == 12 and results["student"]["queries"] == 60  # 5 captions × 12
    assert results["teacher"]["gallery"] == 60  # target→English: English captions are the gallery
    # The demo ran the real stages: each wrote its own artifact with a manifest naming its command.
    for d, stage in (("mt", "translate"), ("features/train", "extract-features"), ("teacher", "train-teacher"),
                     ("student", "distill"), ("student-no-transfer", "distill")):
        command = json.loads((out / d / "manifest.json").read_text())["command"]
        assert command.startswith(f"cl2cm {stage} ") and str(out / d) in command
    assert json.loads((out / "student-no-transfer" / "manifest.json").read_text())["extra"]["transfer"] is False
    assert json.loads((out / "student" / "manifest.json").read_text())["extra"]["transfer"] is True
    commands = (out / "commands.sh").read_text().splitlines()
    for stage in ("translate", "extract-features", "train-teacher", "distill", "eval"):
        assert any(line.startswith(f"cl2cm {stage} ") for line in commands)
    assert any("--no-transfer" in line for line in commands)
    assert "CL2CM" in printed and "no transfer" in printed and "SumR" in printed
    # A rerun finds every artifact complete and skips all steps, giving the same results.
    mtime = (out / "teacher" / "model.safetensors").stat().st_mtime_ns
    main(["demo", "--out", str(out), *TINY, "--quiet"])
    assert capsys.readouterr().out == ""
    assert (out / "teacher" / "model.safetensors").stat().st_mtime_ns == mtime
    assert json.loads((out / "results.json").read_text()) == results
    # Other settings into the same directory would mix runs: refused, naming what differs.
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--out", str(out), *TINY[:-1], "2", "--quiet"])
    assert exc.value.code == 2
    assert "differs in: student_epochs" in capsys.readouterr().err


def test_interrupted_training_step_is_resumed(tmp_path: Path) -> None:
    cfg = DemoConfig(out=tmp_path / "d")
    steps = {s.name: s for s in plan(cfg)}
    teacher = steps["train-teacher"]
    assert teacher.resumable_training and teacher.done == tmp_path / "d" / "teacher" / "manifest.json"
    assert teacher.argv[teacher.argv.index("--out") + 1] == str(tmp_path / "d" / "teacher")


@pytest.mark.parametrize(("flags", "message"), [(["--lang", "cs"], "--lang 'cs'"),
                                                 (["--teacher-epochs", "0"], "--teacher-epochs 0")])
def test_bad_demo_flags(tmp_path: Path, flags: list[str], message: str) -> None:
    with pytest.raises(UserError, match=message):
        from cl2cm.demo.pipeline import run_demo

        cfg = DemoConfig(out=tmp_path, lang=flags[1] if flags[0] == "--lang" else "de",
                         teacher_epochs=int(flags[1]) if flags[0] == "--teacher-epochs" else 1)
        run_demo(cfg, lambda argv: None)


def test_second_demo_into_the_same_directory_is_refused(tmp_path: Path) -> None:
    from cl2cm.artifacts.lock import output_lock
    from cl2cm.demo.pipeline import run_demo

    ran: list[list[str]] = []
    with output_lock(tmp_path / "d"), pytest.raises(UserError, match="in use by another cl2cm run"):
        run_demo(DemoConfig(out=tmp_path / "d"), ran.append)
    assert ran == []


def test_e5_plan_converts_once_then_trains_on_it_with_the_library_defaults(tmp_path: Path) -> None:
    cfg = DemoConfig(out=tmp_path / "d", encoder="e5")
    steps = plan(cfg)
    names = [s.name for s in steps]
    convert = steps[names.index("convert the e5 encoder")]
    assert convert.action is not None and convert.done == tmp_path / "d" / "e5" / "config.json"
    assert names.index("convert the e5 encoder") < names.index("train-teacher")
    teacher = steps[names.index("train-teacher")]
    assert teacher.argv[teacher.argv.index("--encoder") + 1] == str(tmp_path / "d" / "e5")
    assert "--train-layers" not in teacher.argv and "--lr" not in teacher.argv  # pretrained: defaults apply
    tiny = {s.name: s for s in plan(DemoConfig(out=tmp_path / "t"))}
    assert all(s.action is None for s in tiny.values())
    assert tiny["train-teacher"].argv[tiny["train-teacher"].argv.index("--train-layers") + 1] == "all"


def test_unknown_demo_encoder_and_a_run_with_another_encoder_are_refused(tmp_path: Path) -> None:
    import json

    from cl2cm.demo.pipeline import run_demo

    with pytest.raises(UserError, match="--encoder 'bert'"):
        run_demo(DemoConfig(out=tmp_path / "x", encoder="bert"), lambda argv: None)
    out = tmp_path / "d"
    out.mkdir()
    settings = {k: getattr(DemoConfig(out=out), k) for k in ("train", "val", "test", "lang", "noise", "dim",
                                                            "teacher_epochs", "student_epochs", "lr", "seed")}
    (out / "demo.json").write_text(json.dumps(settings))  # an older tiny run (no "encoder" key)
    with pytest.raises(UserError, match="differs in: encoder"):
        run_demo(DemoConfig(out=out, encoder="e5"), lambda argv: None)


def test_demo_two_languages_trains_one_student_for_both(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                        restore_threads: None) -> None:
    out = tmp_path / "demo"
    main(["demo", "--out", str(out), "--lang", "de", "--lang", "fr", *TINY])
    printed = capsys.readouterr().out
    results = json.loads((out / "results.json").read_text())
    for key in RESULT_KEYS:
        assert list(results[key]) == ["de", "fr", "mean"]
        assert results[key]["mean"]["SumR"] == pytest.approx(
            (results[key]["de"]["SumR"] + results[key]["fr"]["SumR"]) / 2)
    for d in ("teacher", "student", "student-no-transfer"):
        manifest = json.loads((out / d / "manifest.json").read_text())
        assert manifest["model"]["languages"] == ["de", "fr"], d
    val = json.loads((out / "student" / "manifest.json").read_text())["extra"]["val"]
    assert val["val_sumr"] == pytest.approx((val["val_sumr_de"] + val["val_sumr_fr"]) / 2)  # the mean selects
    assert json.loads((out / "student" / "config.json").read_text())["languages"] == ["de", "fr"]
    commands = (out / "commands.sh").read_text()
    assert "--to de --to fr" in commands and "--captions" in commands
    for row in ("CL2CM de", "CL2CM fr", "CL2CM mean", "teacher (tgt→en) fr"):
        assert row in printed
    # search takes a query in either of the student's languages
    test = {lang: [json.loads(x) for x in (out / "world" / f"test.{lang}.jsonl").read_text().splitlines()]
            for lang in ("de", "fr")}
    for lang in ("de", "fr"):
        code = None
        try:
            main(["search", "--model", str(out / "student"), "--features", str(out / "features" / "test"),
                  test[lang][0]["text"], "--k", "3", "--device", "cpu"])
        except SystemExit as exc:
            code = exc.code
        assert code in (None, 0)
        listed = [line.split("│")[2].strip() for line in capsys.readouterr().out.splitlines()
                  if line.startswith("│")]
        assert len(listed) == 3 and set(listed) <= {c["image"] for c in test[lang]}

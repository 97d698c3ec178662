"""`cl2cm demo --out`: every stage through the real CLI on a tiny world; results.json; resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from cl2cm.cli import main
from cl2cm.demo.pipeline import RESULT_KEYS, DemoConfig, prepare_demo
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
    # the demo trains with one thread (--threads 1): the script's commands must too, or their sums differ
    assert "export OMP_NUM_THREADS=1" in [line.split("  #")[0] for line in commands]
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


def test_the_demo_is_the_pipeline_over_its_world(tmp_path: Path) -> None:
    """prepare_demo writes OUT/pipeline.toml, whose stages train on the world's files with the tiny flags."""
    from cl2cm.pipeline.plan import plan

    out = tmp_path / "d"
    ran: list[list[str]] = []

    def fake_world(argv: list[str]) -> None:  # the world exists already: only its manifest is looked at
        ran.append(argv)
        for name in ("lexicon.json", "train_images.txt", "val_images.txt", "test_images.txt", "train.en.jsonl",
                     "val.en.jsonl", "val.de.jsonl", "test.en.jsonl", "test.de.jsonl"):
            (out / "world" / name).parent.mkdir(parents=True, exist_ok=True)
            (out / "world" / name).write_text('{"languages": ["de", "fr"]}')
        for d in ("images/train", "images/val", "images/test", "encoder"):
            (out / "world" / d).mkdir(parents=True, exist_ok=True)

    config, before = prepare_demo(DemoConfig(out=out), fake_world)
    assert ran and ran[0][:3] == ["demo", "--generate", str(out / "world")] and before[0].startswith("cl2cm demo")
    assert config.path == out / "pipeline.toml" and config.no_transfer_baseline
    stages = {s.name: s for s in plan(config, out)}
    teacher = stages["train-teacher"]
    assert teacher.resumable_training and teacher.done == out / "teacher" / "manifest.json"
    assert teacher.argv[teacher.argv.index("--encoder") + 1] == str(out / "world" / "encoder")
    assert teacher.argv[teacher.argv.index("--train-layers") + 1] == "all"
    assert "--no-transfer" in stages["distill-no-transfer"].argv


@pytest.mark.parametrize(("flags", "message"), [(["--lang", "cs"], "--lang 'cs'"),
                                                 (["--teacher-epochs", "0"], "teacher_epochs 0")])
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


def test_e5_config_trains_with_the_library_defaults() -> None:
    from cl2cm.pipeline.config import tomllib
    from cl2cm.pipeline.template import demo_config

    common = {"langs": ["de"], "noise": 0.15, "dim": 128, "lr": 2e-3, "teacher_epochs": 5, "student_epochs": 8,
              "seed": 0, "device": "auto", "threads": 1}
    e5 = tomllib.loads(demo_config("world", encoder="e5", train_flags=False, **common))
    assert e5["train_teacher"]["encoder"] == "e5"
    assert "train_layers" not in e5["train_teacher"] and "lr" not in e5["distill"]  # pretrained: defaults apply
    tiny = tomllib.loads(demo_config("world", encoder="world/encoder", train_flags=True, **common))
    assert tiny["train_teacher"]["train_layers"] == tiny["distill"]["train_layers"] == "all"


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
        assert results[key]["mean"]["SumR"] == pytest.approx(  # sections and mean: 2 decimals
            (results[key]["de"]["SumR"] + results[key]["fr"]["SumR"]) / 2, abs=0.005)
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

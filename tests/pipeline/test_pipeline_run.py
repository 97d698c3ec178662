"""`cl2cm pipeline CONFIG` on a tiny generated world: same results as the demo, --dry-run commands that
reproduce them, resume after a kill during distill, a changed stage refused, --redo-from."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from cl2cm.cli import main
from cl2cm.testhook import paused
from serve.test_browser import driver  # noqa: F401 - the headless Chromium fixture (tests/serve)

SIZES = ["--train", "40", "--val", "12", "--test", "12"]
TEACHER_EPOCHS, STUDENT_EPOCHS = 1, 2
DEMO = [*SIZES, "--teacher-epochs", str(TEACHER_EPOCHS), "--student-epochs", str(STUDENT_EPOCHS)]


def world_config(world: Path, *, extra: str = "") -> str:
    """The demo's settings for `world`, written by hand as a user would (absolute paths)."""
    w = world.as_posix()
    return f"""
languages = ["de"]
seed = 0
threads = 1
no_transfer_baseline = true

[data.train]
images = "{w}/train_images.txt"
root = "{w}/images/train"
captions = "{w}/train.en.jsonl"

[data.val]
images = "{w}/val_images.txt"
root = "{w}/images/val"
captions = "{w}/val.en.jsonl"
target_captions = {{ de = "{w}/val.de.jsonl" }}

[data.test]
images = "{w}/test_images.txt"
root = "{w}/images/test"
captions = "{w}/test.en.jsonl"
target_captions = {{ de = "{w}/test.de.jsonl" }}

[translate]
backend = "lexicon"
model = "{w}/lexicon.json"
noise = 0.15

[extract_features]
model = "{w}/tiny-vit.json"
pretrained = "none"
tokens = true
workers = 0

[train_teacher]
encoder = "{w}/encoder"
dim = 128
epochs = {TEACHER_EPOCHS}
lr = 0.002
train_layers = "all"

[distill]
visual_input = "tokens"
epochs = {STUDENT_EPOCHS}
lr = 0.002
train_layers = "all"
{extra}"""


def run(argv: list[str]) -> None:
    try:
        main(argv)
    except SystemExit as exc:
        assert exc.code in (None, 0), argv


@pytest.fixture(scope="module")
def restore_threads():
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def done(tmp_path_factory: pytest.TempPathFactory, restore_threads: None) -> tuple[Path, Path, Path]:
    """(world, config, out): `cl2cm demo --generate W`, then `cl2cm pipeline` over a config pointing at W."""
    tmp = tmp_path_factory.mktemp("pipeline")
    world, config, out = tmp / "world", tmp / "my.toml", tmp / "out"
    run(["demo", "--generate", str(world), *SIZES, "--quiet"])
    config.write_text(world_config(world))
    run(["pipeline", str(config), "--out", str(out), "--quiet"])
    return world, config, out


def test_pipeline_over_a_generated_world_gives_the_demos_results(done: tuple[Path, Path, Path],
                                                                 tmp_path: Path) -> None:
    _, _, out = done
    results = json.loads((out / "results.json").read_text())
    assert list(results) == ["teacher", "student_no_transfer", "student"]
    assert results["student"]["queries"] == 60 and results["student"]["gallery"] == 12
    run(["demo", "--out", str(tmp_path / "demo"), *DEMO, "--quiet"])
    assert (tmp_path / "demo" / "results.json").read_bytes() == (out / "results.json").read_bytes()
    # one orchestration: the demo ran the pipeline over the config it wrote, which reruns as `cl2cm pipeline`
    assert (tmp_path / "demo" / "pipeline.toml").exists()
    assert json.loads((tmp_path / "demo" / "pipeline-state.json").read_text())["stages"].keys() == \
        json.loads((out / "pipeline-state.json").read_text())["stages"].keys()


def test_dry_run_prints_the_commands_that_reproduce_the_run(done: tuple[Path, Path, Path], tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    _, config, out = done
    other = tmp_path / "by-hand"
    capsys.readouterr()
    run(["pipeline", str(config), "--out", str(other), "--dry-run"])
    printed = capsys.readouterr().out
    assert not other.exists()  # a dry run writes nothing
    lines = [line for line in printed.splitlines() if line.startswith("cl2cm ")]
    assert [shlex.split(line)[1] for line in lines] == ["translate", *["extract-features"] * 3, "train-teacher",
                                                       "distill", "distill", *["eval"] * 3]
    run(["pipeline", str(config), "--out", str(out), "--dry-run"])
    assert capsys.readouterr().out == (out / "commands.sh").read_text()  # the same as the written script
    for line in lines:  # each as a user would paste it
        run(shlex.split(line)[1:] + ["--quiet"])
    for key in ("teacher", "student_no_transfer", "student"):
        assert (other / "eval" / f"{key}.json").read_bytes() == (out / "eval" / f"{key}.json").read_bytes()


def test_rerun_skips_every_stage_and_a_changed_stage_is_refused_until_redone(
        done: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    world, _, out = done
    mtime = (out / "student" / "model.safetensors").stat().st_mtime_ns
    config = tmp_path / "same.toml"
    config.write_text(world_config(world))
    capsys.readouterr()
    run(["pipeline", str(config), "--out", str(out)])
    printed = capsys.readouterr().out
    assert printed.count("done, skipped") == 10 and "cl2cm search --model" in printed
    assert (out / "student" / "model.safetensors").stat().st_mtime_ns == mtime
    assert f"report (open it in a browser): {out / 'report.html'}" in printed
    # the next commands it prints run as printed: a search with a test caption, the search page's server
    search = shlex.split(next(line for line in printed.splitlines() if line.strip().startswith("cl2cm search")))
    run(search[1:] + ["--device", "cpu"])
    hits = [line for line in capsys.readouterr().out.splitlines() if "test-" in line]
    assert len(hits) >= 5
    serve = shlex.split(next(line for line in printed.splitlines() if line.strip().startswith("cl2cm serve"))
                        .split("#")[0])
    from typer.main import get_command

    from cl2cm.cli import app

    ctx = get_command(app).commands["serve"].make_context("cl2cm serve", serve[2:])  # parses as printed
    assert ctx.params["model"] == out / "student" and ctx.params["root"] == world / "images" / "test"
    # the eval options changed: the eval stages are refused, naming the first, and nothing is run
    config.write_text(world_config(world, extra="\n[eval]\nties = \"optimistic\"\n"))
    before = (out / "results.json").read_bytes()
    with pytest.raises(SystemExit) as exc:
        main(["pipeline", str(config), "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.count("\n") == 1
    assert "stage eval-teacher was made from other options" in err and "--redo-from eval-teacher" in err
    assert (out / "results.json").read_bytes() == before
    # redoing from eval reruns only the evals
    run(["pipeline", str(config), "--out", str(out), "--redo-from", "eval", "--quiet"])
    assert (out / "student" / "model.safetensors").stat().st_mtime_ns == mtime
    assert json.loads((out / "eval" / "student.json").read_text())["queries"] == 60
    # and back: the original options are now the change, redone the same way
    config.write_text(world_config(world))
    run(["pipeline", str(config), "--out", str(out), "--redo-from", "eval", "--quiet"])
    assert (out / "results.json").read_bytes() == before


def test_a_pipeline_killed_during_distill_finishes_with_the_uninterrupted_model(
        done: tuple[Path, Path, Path], tmp_path: Path) -> None:
    _, config, ref = done
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "cl2cm", "pipeline", str(config), "--out", str(out), "--quiet"]
    env = {**os.environ, "CL2CM_TEST_PAUSE_AT": ""}
    # the n-th epoch checkpoint of this process: the teacher's, then the student's first
    with paused(cmd, f"epoch:{TEACHER_EPOCHS + 1}", env=env, timeout=900):
        pass
    assert (out / "teacher" / "manifest.json").exists()
    assert (out / "student" / "checkpoints" / "last.safetensors").exists()
    assert not (out / "student" / "manifest.json").exists()
    done_rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done_rerun.returncode == 0, done_rerun.stderr
    a = load_file(str(out / "student" / "model.safetensors"))
    b = load_file(str(ref / "student" / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert (out / "results.json").read_bytes() == (ref / "results.json").read_bytes()
    state = json.loads((out / "pipeline-state.json").read_text())["stages"]
    assert "--resume" not in state["distill"]["argv"]  # the resume flag is how it ran, not what it is


def test_ctrl_c_in_a_stage_stops_the_pipeline_there(done: tuple[Path, Path, Path], tmp_path: Path) -> None:
    """The parser turns a stage's Ctrl-C into a returned 130; the pipeline once ignored it and started the
    next stage on a teacher that was never finished ("no manifest.json", exit 2)."""
    import signal

    _, config, _ = done
    out = tmp_path / "interrupted"
    cmd = [sys.executable, "-m", "cl2cm", "pipeline", str(config), "--out", str(out), "--quiet"]
    with paused(cmd, "epoch:1", env={**os.environ, "CL2CM_TEST_PAUSE_AT": ""}, timeout=900) as proc:
        proc.send_signal(signal.SIGINT)  # delivered when it continues: inside the teacher's last epoch
        proc.send_signal(signal.SIGCONT)
        _, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err
    assert err.decode().strip().splitlines() == [
        "cl2cm: interrupted; rerun the same command to resume (training stages: add --resume)"]
    assert not (out / "teacher" / "manifest.json").exists() and not (out / "student").exists()


@pytest.mark.browser
def test_report_shows_every_models_top_images_and_loads_in_a_browser(done: tuple[Path, Path, Path],
                                                                      tmp_path: Path, driver) -> None:  # noqa: F811
    from selenium.webdriver.common.by import By

    _, _, out = done
    copied = tmp_path / "elsewhere" / "report.html"  # self-contained: it works away from the run folder
    copied.parent.mkdir()
    copied.write_bytes((out / "report.html").read_bytes())
    driver.get(copied.as_uri())
    queries = driver.find_elements(By.CSS_SELECTOR, ".query")
    assert len(queries) == 4
    for q in queries:
        models = q.find_elements(By.CSS_SELECTOR, ".model")
        assert [m.get_attribute("data-model") for m in models] == ["teacher", "student_no_transfer", "student"]
        for m in models:
            assert len(m.find_elements(By.CSS_SELECTOR, "figure img")) == 5
            assert "gold at rank" in m.text
    images = driver.find_elements(By.TAG_NAME, "img")
    assert len(images) >= 4 * 3 * 5 + 1 and driver.find_elements(By.CSS_SELECTOR, "img.plot")
    assert all(i.get_attribute("src").startswith("data:image/png;base64,") for i in images)
    broken = driver.execute_script("return [...document.images].filter(i => !(i.complete && i.naturalWidth > 0))"
                                   ".map(i => i.alt)")
    assert broken == []
    rows = driver.find_elements(By.CSS_SELECTOR, "table.results tr")
    assert len(rows) == 4 and "CL2CM student" in rows[-1].text
    driver.save_screenshot(str(tmp_path / "report.png"))


def test_report_marks_the_gold_image_where_a_model_finds_it(done: tuple[Path, Path, Path]) -> None:
    import re

    _, _, out = done
    page = (out / "report.html").read_text()
    for block in page.split("<div class=query>")[1:]:
        gold = re.search(r"<span class=rank>gold (\S+?)</span>", block).group(1)
        for column in block.split("<div class=model ")[1:]:
            rank = int(re.search(r"gold at rank (\d+)", column).group(1))
            shown = re.findall(r"<figure( class=gold)? data-id='([^']+)'", column)
            assert len(shown) == 5
            # the gold image is marked exactly where it is shown, and shown exactly when its rank is <= 5
            assert [i for i, (mark, item) in enumerate(shown, 1) if mark] == \
                [i for i, (_, item) in enumerate(shown, 1) if item == gold]
            assert (gold in [item for _, item in shown]) == (rank <= 5)


def test_without_cl2cm_on_path_the_script_and_the_next_commands_still_run(
        done: tuple[Path, Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As after `make demo`: `.venv/bin/cl2cm` called by its path, with no `cl2cm` on PATH."""
    _, config, out = done
    exe = Path(sys.executable).parent / "cl2cm"
    env = {**os.environ, "PATH": "/usr/bin:/bin"}
    dry = subprocess.run([str(exe), "pipeline", str(config), "--out", str(out), "--dry-run"], capture_output=True,
                         text=True, env=env, timeout=600)
    assert dry.returncode == 0, dry.stderr
    script = tmp_path / "commands.sh"
    script.write_text(dry.stdout.replace("\ncl2cm ", "\ncl2cm --version && exit 0 && cl2cm ", 1))
    ran = subprocess.run(["bash", str(script)], capture_output=True, text=True, env=env, timeout=600)
    assert ran.returncode == 0 and ran.stdout.startswith("cl2cm "), ran.stderr  # found through the PATH line
    from cl2cm.pipeline.shell import launcher

    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    monkeypatch.setattr(sys, "argv", [str(exe)])
    prog = launcher()  # what the next-step lines call it: the path it was started by
    assert prog != "cl2cm" and (Path.cwd() / prog).resolve() == exe.resolve()


def test_a_path_spelled_another_way_is_the_same_option(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stage recorded with absolute paths (the demo's `--out /abs/dir`) and planned again with relative ones
    from another working directory is unchanged; a real change of a value or a path is still one."""
    from cl2cm.pipeline.plan import Stage
    from cl2cm.pipeline.run import _changed

    (tmp_path / "run" / "mt").mkdir(parents=True)
    (tmp_path / "run" / "train.en.jsonl").write_text("{}\n")
    recorded = {"argv": ["translate", str(tmp_path / "run" / "train.en.jsonl"), "--to", "de", "--out",
                         str(tmp_path / "run" / "mt")], "inputs": {}}
    monkeypatch.chdir(tmp_path)

    def stage(*argv: str) -> Stage:
        return Stage("translate", list(argv), tmp_path / "run" / "mt" / "manifest.json", tmp_path / "run" / "mt")

    assert _changed(stage("translate", "run/train.en.jsonl", "--to", "de", "--out", "run/mt", "--quiet"),
                    recorded) is None
    (tmp_path / "de").mkdir()  # a folder named like a value: both sides read it the same way
    assert _changed(stage("translate", "run/train.en.jsonl", "--to", "de", "--out", "run/mt"), recorded) is None
    assert "now fr" in _changed(stage("translate", "run/train.en.jsonl", "--to", "fr", "--out", "run/mt"),
                                recorded)
    (tmp_path / "other").mkdir()
    assert "other options" in _changed(stage("translate", "run/train.en.jsonl", "--to", "de", "--out", "other"),
                                       recorded)


def test_a_run_recorded_from_another_folder_is_unchanged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Relative paths are recorded with the folder they were typed in: `runs/x` from the project folder and
    `../runs/x` from a folder below it are the same; a moved project (same relative spelling) is unchanged
    too, while a changed input file or another file under the same spelling is still refused."""
    from cl2cm.pipeline.plan import Stage
    from cl2cm.pipeline.run import _changed, _fingerprints

    project = tmp_path / "project"
    (project / "run" / "mt").mkdir(parents=True)
    (project / "sub").mkdir()
    captions = project / "run" / "train.en.jsonl"
    captions.write_text('{"id": "0"}\n')

    def stage(*argv: str) -> Stage:
        return Stage("translate", ["translate", *argv], project / "run" / "mt" / "manifest.json",
                     project / "run" / "mt", inputs=[Path(argv[0])])

    monkeypatch.chdir(project)
    first = stage("run/train.en.jsonl", "--out", "run/mt")
    recorded = {"argv": first.argv, "inputs": _fingerprints(first.inputs), "cwd": str(project)}
    monkeypatch.chdir(project / "sub")
    assert _changed(stage("../run/train.en.jsonl", "--out", "../run/mt"), recorded) is None
    assert _changed(stage(str(captions), "--out", str(project / "run" / "mt")), recorded) is None
    # without the recorded folder (a state written before it was recorded) `run/...` is read from here
    legacy = {k: v for k, v in recorded.items() if k != "cwd"}
    assert "other options" in _changed(stage("../run/train.en.jsonl", "--out", "../run/mt"), legacy)

    moved = tmp_path / "moved"
    project.rename(moved)
    monkeypatch.chdir(moved)
    assert _changed(stage("run/train.en.jsonl", "--out", "run/mt"), recorded) is None
    (moved / "run" / "train.en.jsonl").write_text('{"id": "1"}\n')
    assert "other inputs (run/train.en.jsonl changed since)" in _changed(
        stage("run/train.en.jsonl", "--out", "run/mt"), recorded)


@pytest.mark.parametrize("text", ["{", "[]", '{"stages": []}', '{"stages": {"translate": [1]}}',
                                  '{"stages": {"translate": "argv"}}'])
def test_a_hand_edited_state_file_is_one_line(tmp_path: Path, text: str) -> None:
    from cl2cm.errors import UserError
    from cl2cm.pipeline.run import STATE_FILE, read_state

    (tmp_path / STATE_FILE).write_text(text)
    with pytest.raises(UserError, match="is not a pipeline state file"):
        read_state(tmp_path)


def test_a_renamed_run_folder_is_the_same_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Paths inside the run's own folder are compared relative to it: `runs/mine` renamed to `runs/mine-v1`
    (or moved to scratch) is done, not refused; an input outside it that now names another file is not."""
    from cl2cm.pipeline.plan import Stage
    from cl2cm.pipeline.run import _changed, _fingerprints

    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.jsonl").write_text('{"id": "0"}\n')
    (tmp_path / "data" / "b.jsonl").write_text('{"id": "0"}\n')  # same bytes, another file
    (tmp_path / "runs" / "mine" / "mt").mkdir(parents=True)

    def stage(captions: str, run: str) -> Stage:
        return Stage("translate", ["translate", captions, "--to", "de", "--out", f"{run}/mt"],
                     tmp_path / run / "mt" / "manifest.json", tmp_path / run / "mt", inputs=[Path(captions)])

    first = stage("data/a.jsonl", "runs/mine")
    recorded = {"argv": first.argv, "inputs": _fingerprints(first.inputs), "cwd": str(tmp_path),
                "out": str((tmp_path / "runs" / "mine").resolve())}
    (tmp_path / "runs" / "mine").rename(tmp_path / "runs" / "mine-v1")
    assert _changed(stage("data/a.jsonl", "runs/mine-v1"), recorded, Path("runs/mine-v1")) is None
    (tmp_path / "scratch").mkdir()
    (tmp_path / "runs" / "mine-v1").rename(tmp_path / "scratch" / "x")
    assert _changed(stage("data/a.jsonl", "scratch/x"), recorded, Path("scratch/x")) is None
    why = _changed(stage("data/b.jsonl", "scratch/x"), recorded, Path("scratch/x"))
    assert why is not None and "now data/b.jsonl" in why

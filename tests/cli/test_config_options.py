"""Every command's options come from config fields (`cl2cm.config.option`), and the paths that only parse
(`--help`, `--version`, usage errors) never import torch or transformers."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import click
import pytest
import typer.main

from cl2cm.cli import app, main
from cl2cm.config import leaves, option
from cl2cm.config.demo import DEMO_ENCODER_NAMES, DemoConfig
from cl2cm.config.distill import INIT_TEXT_NAMES, VISUAL_HEAD_NAMES, DistillConfig
from cl2cm.config.pipeline import PipelineRunConfig
from cl2cm.config.query import INDEX_KIND_NAMES, TIE_RULE_NAMES, EvalConfig, SearchConfig, ServeConfig
from cl2cm.config.stages import BigfileConfig, ExtractConfig, ImportEmbeddingsConfig, TranslateConfig
from cl2cm.config.teacher import POOLING_NAMES, TrainTeacherConfig

COMMAND = typer.main.get_command(app)
CONFIG_OF = {"translate": TranslateConfig, "extract-features": ExtractConfig, "import-bigfile": BigfileConfig,
             "import-embeddings": ImportEmbeddingsConfig, "train-teacher": TrainTeacherConfig,
             "distill": DistillConfig, "demo": DemoConfig, "pipeline": PipelineRunConfig, "eval": EvalConfig,
             "search": SearchConfig, "serve": ServeConfig}
# What a command declares by hand: its inputs (files, directories) and --quiet. Nothing else.
INPUTS = {"translate": {"--out"}, "extract-features": {"--out"}, "import-bigfile": {"--out"},
          "import-embeddings": {"--out"}, "train-teacher": {"--src", "--tgt", "--out", "--val-src", "--val-tgt"},
          "distill": {"--teacher", "--features", "--src", "--tgt", "--out", "--val-features", "--val-captions"},
          "demo": set(), "pipeline": set(), "eval": set(), "search": set(), "serve": set()}


def _visible_options(command: str) -> dict[str, click.Parameter]:
    cmd = COMMAND.commands[command]  # type: ignore[attr-defined]
    return {p.opts[0]: p for p in cmd.params if p.param_type_name == "option" and not p.hidden}


# `verify` takes an artifact directory and --quiet: it has no settings.
NO_CONFIG = {"verify"}


def test_every_command_has_its_config() -> None:
    assert set(CONFIG_OF) | NO_CONFIG == set(COMMAND.commands)  # type: ignore[attr-defined]


@pytest.mark.parametrize("command", sorted(CONFIG_OF))
def test_each_field_is_a_flag_and_each_flag_a_field_or_an_input(command: str) -> None:
    options = _visible_options(command)
    fields = {f.metadata["flag"]: (owner, f) for owner, f in leaves(CONFIG_OF[command]) if f.metadata["flag"]}
    for flag, (_, f) in fields.items():
        assert flag in options, f"{command}: field {f.name} ({flag}) is no flag"
        assert options[flag].help == f.metadata["help"], flag
    extra = set(options) - set(fields) - INPUTS[command] - {"--quiet", "--help"}
    assert not extra, f"{command}: options written by hand that no config field declares: {extra}"
    assert INPUTS[command] <= set(options), command
    arguments = {p.name for p in COMMAND.commands[command].params if p.param_type_name == "argument"}  # type: ignore[attr-defined]
    for _, f in leaves(CONFIG_OF[command]):
        assert bool(f.metadata["argument"]) == (f.name in arguments), f"{command}: field {f.name}"


def test_library_only_fields_have_no_flag() -> None:
    with pytest.raises(ValueError):
        option(1, "x")
    assert "--kt-rows" not in _visible_options("distill") and "--lr" not in _visible_options("demo")


@pytest.mark.parametrize(("names", "module", "registry"), [
    (POOLING_NAMES, "cl2cm.models.text", "POOLINGS"),
    (VISUAL_HEAD_NAMES, "cl2cm.models.student", "VISUAL_HEADS"),
    (INIT_TEXT_NAMES, "cl2cm.models.student", "INIT_TEXT"),
    (TIE_RULE_NAMES, "cl2cm.retrieval.metrics", "TIE_RULES"),
    (INDEX_KIND_NAMES, "cl2cm.serve.index", "INDEX_KINDS"),
    (DEMO_ENCODER_NAMES, "cl2cm.demo.pipeline", "DEMO_ENCODERS"),
])
def test_the_configs_choices_are_the_registries_names(names: tuple[str, ...], module: str, registry: str) -> None:
    """The configs name the choices without importing torch; the registries (with torch) must agree."""
    import importlib

    assert tuple(getattr(importlib.import_module(module), registry)) == names


_PARSE_ONLY = """
import contextlib, io, json, sys
from cl2cm.cli import main
runs = json.loads(sys.argv[1])
for argv in runs:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            main(argv)
        except SystemExit:
            pass
print(json.dumps(sorted(m for m in ("torch", "transformers", "numpy", "open_clip") if m in sys.modules)))
"""


def test_help_version_and_usage_errors_import_neither_torch_nor_transformers(tmp_path: Path) -> None:
    runs = [["--help"], ["--version"], [], ["no-such-command"]]
    for command in sorted(CONFIG_OF):
        runs += [[command, "--help"], [command, "--no-such-flag"]]
    runs += [["translate"], ["search"], ["serve", "--model", "m"], ["search", "--k", "0", "q"],  # missing, range
             ["train-teacher", "--batch-size", "1"], ["distill", "--dropout", "2"], ["demo", "--captions", "9"]]
    src = Path(__file__).resolve().parents[2] / "src"
    done = subprocess.run([sys.executable, "-c", _PARSE_ONLY, json.dumps(runs)], capture_output=True, text=True,
                          timeout=120, env={"PATH": "", "PYTHONPATH": str(src)}, cwd=tmp_path)
    assert not any(tmp_path.iterdir())  # nothing ran
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert "torch" not in loaded and "transformers" not in loaded, loaded


def test_a_renamed_flag_still_works_with_one_warning_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:  # eval --k (now --recall-at) is read, then the missing input refused
        main(["eval", "--k", "1,5,10,x"])
    err = capsys.readouterr().err.splitlines()
    assert exc.value.code == 2
    assert err[0] == "cl2cm: warning: --k is deprecated (kept for one release): use --recall-at"
    assert err[1].startswith("cl2cm: error: --recall-at '1,5,10,x'") and len(err) == 2


def test_a_removed_flag_warns_that_it_does_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["import-bigfile", str(tmp_path / "missing"), "--out", str(tmp_path / "o"), "--seed", "3"])
    assert capsys.readouterr().err.splitlines()[0] == ("cl2cm: warning: --seed is deprecated (kept for one release): "
                                                       "it has no effect and will be removed")


def test_fields_keep_their_defaults_on_the_command_line() -> None:
    """What a flag left out means is the field's default (ks typed as 1,5,10 is the tuple (1, 5, 10))."""
    for command, config in CONFIG_OF.items():
        options = _visible_options(command)
        for _, f in leaves(config):
            if f.default is dataclasses.MISSING or f.metadata.get("cli") is not None:
                continue
            assert options[f.metadata["flag"]].default == f.default, (command, f.name)


@pytest.mark.parametrize(("command", "flag", "value", "says"), [
    ("train-teacher", "--lr", "inf", "it must be > 0 and finite."),
    ("train-teacher", "--warmup", "inf", "it must be >= 0 and finite."),
    ("train-teacher", "--temperature", "inf", "it must be > 0 and finite."),
    ("distill", "--weight-decay", "-inf", "it must be >= 0 and finite."),
    ("distill", "--head-lr", "inf", "it must be > 0 and finite."),
    ("train-teacher", "--dim", "99999999", "it must be >= 1 and <= 65536."),
    ("distill", "--hidden", "999999999", "it must be >= 1 and <= 65536."),
    ("train-teacher", "--ot-iters", "100000000", "it must be >= 1 and <= 10000."),
    ("demo", "--image-size", "100000", "it must be >= 32 and <= 2048."),
])
def test_infinite_or_absurd_numbers_are_refused_while_parsing(command: str, flag: str, value: str, says: str,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """An infinite learning rate trained a model of NaNs (exit 0); --dim 99999999 was an allocator traceback."""
    with pytest.raises(SystemExit) as e:
        main([command, flag, value])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"cl2cm: error: {command}: Invalid value for '{flag}': {value} is out of range: {says}")
    assert err.count("\n") == 1


def test_the_library_refuses_what_the_parser_refuses() -> None:
    """One validator: a config built in Python with an infinite value gets the same words."""
    from cl2cm.config import check_fields
    from cl2cm.config.train import TrainConfig
    from cl2cm.errors import ConfigError

    with pytest.raises(ConfigError, match="lr inf: must be > 0 and finite"):
        check_fields(TrainConfig(lr=float("inf")))


def test_an_integer_out_of_range_is_echoed_as_typed(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["eval", "--seed", "99999999999999999999"])
    assert "'--seed': 99999999999999999999 is out of range: it must be >= 0 and <= 9223372036854775807" in \
        capsys.readouterr().err

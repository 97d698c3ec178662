"""Usage mistakes on every command: one stderr line naming the command and the flag, exit 2, no traceback.

The parser's exceptions come from the installed typer (0.29 bundles its own copy of click), so the
checks run `cl2cm.cli.main` itself, never a test runner that would catch them, and the four commands
of issue 12 also run through the real entry point (`python -m cl2cm` in a subprocess).
"""

from __future__ import annotations

import os
import subprocess
import sys
import typing
from collections.abc import Callable
from pathlib import Path

import pytest
import typer

from cl2cm.cli import _USAGE_ERRORS, app
from cl2cm.cli.options import RangeCheck
from cl2cm.config import Range

Cli = Callable[[list[str]], tuple[int, str, str]]
COMMAND = typer.main.get_command(app)
COMMANDS = sorted(COMMAND.commands)
SRC = Path(__file__).resolve().parents[2] / "src"


def _assert_one_usage_line(code: int, err: str, *needles: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err and err.count("\n") == 1 and err.startswith("cl2cm: error: "), err
    for needle in needles:
        assert needle in err, err


def _numeric_options() -> list[tuple[str, str, object]]:
    """(command, flag, declared range) of every int/float option of every command, from the declarations."""
    found = []
    for command in app.registered_commands:
        hints = typing.get_type_hints(command.callback, include_extras=True)
        for name, hint in hints.items():
            if typing.get_origin(hint) is not typing.Annotated:
                continue
            base, info, *_ = typing.get_args(hint)
            if not ({int, float} & {base, *typing.get_args(base)}) or not isinstance(info, typer.models.OptionInfo):
                continue
            decls = [info.default, *info.param_decls]  # in `Annotated`, the first flag is the `default` slot
            flag = next((d for d in decls if isinstance(d, str) and d.startswith("--")), f"--{name.replace('_', '-')}")
            flag = flag.split("/")[0]
            found.append((command.name, flag, info.callback.range if isinstance(info.callback, RangeCheck) else None))
    return found


NUMERIC = _numeric_options()


def _numeric_option(name: str) -> str | None:
    return next((flag for command, flag, _ in NUMERIC if command == name), None)


def _required(name: str) -> list[str]:
    return [p.opts[0] if p.param_type_name == "option" else p.name for p in COMMAND.commands[name].params
            if p.required]


def test_every_command_is_covered() -> None:
    # a new command joins the tables below automatically; this pins the ones issue 12 listed
    assert {"translate", "extract-features", "train-teacher", "distill", "eval", "search", "demo"} <= set(COMMANDS)


@pytest.mark.parametrize("name", [c for c in COMMANDS if _required(c)])
def test_missing_required_option(name: str, cli: Cli) -> None:
    code, _, err = cli([name])
    first = _required(name)[0].lstrip("-")
    _assert_one_usage_line(code, err, f"{name}: Missing", first, f"cl2cm {name} --help")


@pytest.mark.parametrize("name", COMMANDS)
def test_unknown_option(name: str, cli: Cli) -> None:
    code, _, err = cli([name, "--no-such-flag"])
    _assert_one_usage_line(code, err, f"{name}: No such option: --no-such-flag")


@pytest.mark.parametrize("name", COMMANDS)
def test_misspelt_option_suggests_the_right_one(name: str, cli: Cli) -> None:
    option = next(p.opts[0] for p in COMMAND.commands[name].params
                  if p.param_type_name == "option" and p.opts[0].startswith("--") and len(p.opts[0]) > 5)
    typo = option[:3] + option[4] + option[3] + option[5:]  # two letters swapped
    code, _, err = cli([name, typo, "1"])
    _assert_one_usage_line(code, err, typo, option)


@pytest.mark.parametrize("name", [c for c in COMMANDS if _numeric_option(c)])
def test_wrong_type(name: str, cli: Cli) -> None:
    option = _numeric_option(name)
    assert option is not None
    code, _, err = cli([name, option, "abc"])
    _assert_one_usage_line(code, err, f"{name}: Invalid value for '{option}'")


def test_every_numeric_option_declares_its_range() -> None:
    undeclared = [f"{command} {flag}" for command, flag, rng in NUMERIC if not isinstance(rng, Range)]
    assert not undeclared and len(NUMERIC) > 50, undeclared


def _outside(rng: Range) -> list[str]:
    """Values just outside a range, as a user would type them (and NaN, which no range holds)."""
    values = ["nan"]
    if rng.low is not None:
        values.append(rng.low if rng.low_open else rng.low - 1)
    if rng.high is not None:
        values.append(rng.high if rng.high_open else rng.high + 1)
    return [v if isinstance(v, str) else str(int(v)) if float(v).is_integer() else repr(v) for v in values]


@pytest.mark.parametrize(("name", "flag", "value"), [
    (command, flag, value) for command, flag, rng in NUMERIC if isinstance(rng, Range) for value in _outside(rng)
], ids=lambda v: str(v))
def test_out_of_range_values_are_refused_while_parsing(name: str, flag: str, value: str, cli: Cli,
                                                       tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The table is every numeric option of every command: `--dropout 2`, `--workers -2`, `--k 0`, ..."""
    monkeypatch.chdir(tmp_path)
    has_out = any("--out" in p.opts for p in COMMAND.commands[name].params)  # search, serve write nothing
    code, _, err = cli([name, flag, value, "--out", "o"] if has_out else [name, flag, value])
    if value == "nan" and "integer" in err:  # int options refuse nan as a type error, which is fine
        _assert_one_usage_line(code, err, flag)
        return
    _assert_one_usage_line(code, err, f"{name}: Invalid value for '{flag}'")
    assert "out of range" in err
    assert not any(tmp_path.iterdir())  # no OUT, no checkpoints/


@pytest.mark.parametrize("name", COMMANDS)
def test_misspelt_command_suggests_the_right_one(name: str, cli: Cli) -> None:
    typo = name[0] + name[2] + name[1] + name[3:]
    code, _, err = cli([typo])
    _assert_one_usage_line(code, err, f"No such command '{typo}'", f"Did you mean '{name}'")


def test_no_arguments_shows_the_help_and_exits_2(cli: Cli) -> None:
    code, out, err = cli([])
    assert code == 2 and "Traceback" not in out + err and "train-teacher" in out + err and "Usage" in out + err


def test_the_installed_parser_raises_what_main_catches() -> None:
    """Fails if a newer typer/click raises usage errors from a module `main` does not know about."""
    for argv in (["translate", "x.en"], ["eval", "--no-such-flag"], ["no-such-command"], ["search", "q", "--k", "x"]):
        with pytest.raises(Exception) as info:  # noqa: B017 -- whatever the parser raises
            COMMAND.main(args=argv, standalone_mode=False, prog_name="cl2cm")
        assert isinstance(info.value, _USAGE_ERRORS), (type(info.value).__module__, type(info.value))


@pytest.mark.parametrize("argv", [
    ["translate", "x.en", "--out", "o"],
    ["eval", "--no-such-flag"],
    ["no-such-command"],
    ["distill"],
    ["train-teacher", "--src", "a", "--tgt", "b", "--out", "c", "--epochs", "abc"],
], ids=lambda argv: " ".join(argv))
def test_real_entry_point(argv: list[str], tmp_path: Path) -> None:
    """`python -m cl2cm ...` in a subprocess: exactly what a user's shell runs."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-m", "cl2cm", *argv], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)
    _assert_one_usage_line(proc.returncode, proc.stderr)
    assert proc.stdout == "" and not any(tmp_path.iterdir())  # nothing written


def test_version(cli: Cli) -> None:
    from cl2cm import __version__

    code, out, err = cli(["--version"])
    assert code == 0 and out.strip() == f"cl2cm {__version__}" and err == ""


def test_hub_retry_warnings_stay_off_stderr(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """Offline, `--model org/name` printed the hub client's retry warnings above our one error line."""
    monkeypatch.delenv("HF_HUB_VERBOSITY", raising=False)
    assert cli(["--version"])[0] == 0
    assert os.environ["HF_HUB_VERBOSITY"] == "error"

"""Every field of the training configs is a flag of its command, or marked library-only; help is said once;
every option field an error names is the flag the CLI prints for it."""

from __future__ import annotations

import dataclasses

import click
import pytest
import typer.main

from cl2cm.cli import app
from cl2cm.cli.flags import flag_of
from cl2cm.models.text import TextEncoderConfig
from cl2cm.train.distill import DistillConfig, DistillOptions
from cl2cm.train.engine import TrainConfig, help_of, option
from cl2cm.train.teacher import TeacherOptions, TrainTeacherConfig


def _options(command: str) -> dict[str, click.Parameter]:
    group = typer.main.get_command(app)
    cmd = group.commands[command]  # type: ignore[attr-defined]
    return {name: p for p in cmd.params if p.param_type_name == "option" for name in p.opts}


# Every config whose fields carry their help and flag (`option`), per command. The nested `text` of
# TeacherOptions is no option: its own fields are flags.
_CONFIGS = {"train-teacher": (TrainConfig, TrainTeacherConfig, TeacherOptions),
            "distill": (TrainConfig, DistillConfig, DistillOptions)}
_NESTED = {"train", "options", "text"}


@pytest.mark.parametrize(("command", "config"), [(c, k) for c, ks in _CONFIGS.items() for k in ks])
def test_each_config_field_has_a_flag_or_is_library_only(command: str, config: type) -> None:
    """Help and flag are said once, in the field's metadata: the command's option shows that help."""
    options = _options(command)
    for f in dataclasses.fields(config):
        if f.name in _NESTED:
            continue
        meta = f.metadata
        assert meta.get("help"), f.name
        if meta["library_only"]:
            assert meta["flag"] is None, f.name
            continue
        assert meta["flag"] in options, f"{f.name}: {meta['flag']} is not a flag of {command}"
        opt = options[meta["flag"]]
        if meta["flag"] not in ("--seed", "--device"):  # the commands' shared options keep their own help
            assert opt.help == help_of(config, f.name), f.name
        assert opt.default == f.default, f"{f.name}: the flag's default differs from the config's"


def test_a_field_is_either_a_flag_or_library_only() -> None:
    with pytest.raises(ValueError):
        option(1, "x")
    with pytest.raises(ValueError):
        option(1, "x", flag="--x", library_only=True)


# Fields of the model/loss options that are no flag: the nested text config, settings only Python callers
# reach. No `ConfigError` names them.
_NOT_A_FLAG = {"train-teacher": {"text"}, "distill": {"kt_rows", "kt_columns"}}


@pytest.mark.parametrize(("command", "fields"), [
    ("train-teacher", [*dataclasses.fields(TeacherOptions), *dataclasses.fields(TextEncoderConfig)]),
    ("distill", dataclasses.fields(DistillOptions)),
])
def test_each_option_field_is_named_by_its_flag(command: str, fields: list[dataclasses.Field]) -> None:
    """The options' errors name fields (`ConfigError`); the CLI prints `flag_of(field)`, so it must be a flag."""
    options = _options(command)
    for f in fields:
        if f.name in _NOT_A_FLAG[command]:
            assert flag_of(f.name) not in options, f"{f.name} is a flag now: drop it from _NOT_A_FLAG"
            continue
        assert flag_of(f.name) in options, f"{command}: field {f.name} → {flag_of(f.name)} is not a flag"

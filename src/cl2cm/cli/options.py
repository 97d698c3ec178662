"""Command parameters built from config fields, as HfArgumentParser builds them from TrainingArguments.

A command declares its inputs (positional files, input directories) as ordinary Typer parameters and
each config it takes as one parameter annotated with the config class; `@configured` replaces that
parameter with one option per field (nested configs expanded in place: `TrainTeacherConfig` gives the
engine's, the stage's, the text encoder's and the teacher's flags) and hands the command the built config.
Flag, help, default and range come from the field (`cl2cm.config.option`); the range is checked while
parsing by the same `Range` the library's `check_fields` uses.
"""

from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import Callable
from dataclasses import MISSING, Field, fields, is_dataclass
from typing import Annotated, Any, get_type_hints

import typer

from cl2cm.config import Range, leaves, nested, number

_DEPRECATED = "_deprecated_"
CONFIGS: list[type] = []  # every config a command takes, in the order the commands are declared


class RangeCheck:
    """Typer callback refusing a value outside the field's `Range` while parsing (one line, exit 2)."""

    def __init__(self, rng: Range) -> None:
        self.range = rng

    def __call__(self, value: Any) -> Any:
        for v in value if isinstance(value, (list, tuple)) else [value]:
            why = self.range.refusal(v) if v is not None else None
            if why is not None:
                raise typer.BadParameter(f"{number(v)} is out of range: it {why}.")
        return value


RangeCheck.__annotations__ = {}  # typer reads a callback's type hints (`get_type_hints`): there are none


def _hint(owner: type, f: Field) -> Any:
    """The parameter's type: what the user types (`Cli.type`), else the field's."""
    cli = f.metadata.get("cli")
    return cli.type if cli is not None and cli.type is not None else get_type_hints(owner)[f.name]


def _hidden(prefix: str, flag: str) -> str:
    """The parameter name of a hidden (renamed or removed) flag."""
    return f"{_DEPRECATED}{prefix}_{flag.strip('-').replace('-', '_')}"


def _parameter(owner: type, f: Field) -> inspect.Parameter:
    meta = f.metadata
    cli = meta.get("cli")
    hint = _hint(owner, f)
    kwargs: dict[str, Any] = {"help": meta["help"]}
    if meta.get("range") is not None:
        kwargs["callback"] = RangeCheck(meta["range"])
    if cli is not None and cli.show_default is not None and not isinstance(cli.show_default, str):
        kwargs["show_default"] = cli.show_default
    if cli is not None and cli.metavar is not None:
        kwargs["metavar"] = cli.metavar
    elif hint is bool:
        kwargs["metavar"] = ""  # an on/off flag takes no value: no `<bool>` beside it
    if meta.get("argument"):
        info: Any = typer.Argument(**kwargs)
    else:
        decls = [f"{meta['flag']}/{meta['off']}" if meta.get("off") else meta["flag"]]
        if meta.get("short"):
            decls.append(meta["short"])
        info = typer.Option(*decls, **kwargs)
    default = inspect.Parameter.empty if f.default is MISSING else f.default
    if cli is not None and cli.convert is not None and default is not inspect.Parameter.empty:
        # the default as typed ("1,5,10"), read by `convert` like a typed value; else None: the field's default
        default = cli.show_default if isinstance(cli.show_default, str) else None
    return inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=default,
                             annotation=Annotated[hint, info])


def _deprecated(owner: type, f: Field, old: str) -> inspect.Parameter:
    """A hidden option under the field's old flag: still accepted for one release, with a warning."""
    callback = RangeCheck(f.metadata["range"]) if f.metadata.get("range") is not None else None
    return inspect.Parameter(_hidden(f.name, old), inspect.Parameter.KEYWORD_ONLY, default=None,
                             annotation=Annotated[_hint(owner, f) | None, typer.Option(old, hidden=True,
                                                                                       callback=callback)])


def warn_deprecated(old: str, new: str | None) -> None:
    """One line on stderr; the command goes on."""
    what = f"use {new}" if new else "it has no effect and will be removed"
    print(f"cl2cm: warning: {old} is deprecated (kept for one release): {what}", file=sys.stderr)


def build(config: type, values: dict[str, Any]) -> Any:
    """The config from parsed values (popped from `values`), nested configs included."""
    kwargs: dict[str, Any] = {}
    for f in fields(config):
        sub = nested(f)
        if sub is not None:
            kwargs[f.name] = build(sub, values)
        elif f.name in values and not f.metadata.get("library_only", True):
            value = values.pop(f.name)
            for old in f.metadata.get("deprecated", ()):
                given = values.pop(_hidden(f.name, old), None)
                if given is not None:
                    warn_deprecated(old, f.metadata["flag"])
                    value = given
            cli = f.metadata.get("cli")
            if cli is not None and cli.convert is not None:
                value = f.default if value is None else cli.convert(value)
            kwargs[f.name] = value
    return config(**kwargs)


def configured(func: Callable[..., Any] | None = None, *, removed: tuple[str, ...] = ()) -> Any:
    """Expand each parameter of `func` annotated with a config dataclass into the options of its fields.

    `removed` lists flags that no longer do anything: accepted for one release with a warning.
    """
    if func is None:
        return functools.partial(configured, removed=removed)
    hints = get_type_hints(func, include_extras=True)
    params: list[inspect.Parameter] = []
    configs: dict[str, type] = {}
    for p in inspect.signature(func).parameters.values():
        hint = hints.get(p.name, p.annotation)
        if isinstance(hint, type) and is_dataclass(hint):
            configs[p.name] = hint
            CONFIGS.append(hint)
            for owner, f in leaves(hint):
                params.append(_parameter(owner, f))
                params += [_deprecated(owner, f, old) for old in f.metadata.get("deprecated", ())]
        else:
            params.append(p.replace(annotation=hint, kind=inspect.Parameter.KEYWORD_ONLY))
    for old in removed:
        params.append(inspect.Parameter(_hidden("removed", old), inspect.Parameter.KEYWORD_ONLY,
                                        default=None, annotation=Annotated[str | None, typer.Option(old, hidden=True)]))
    names = [p.name for p in params]
    duplicated = {n for n in names if names.count(n) > 1}
    if duplicated:
        raise TypeError(f"{func.__name__}: parameters declared twice: {sorted(duplicated)}")

    @functools.wraps(func)
    def command(**values: Any) -> Any:
        for old in removed:
            if values.pop(_hidden("removed", old), None) is not None:
                warn_deprecated(old, None)
        built = {name: build(config, values) for name, config in configs.items()}
        return func(**values, **built)

    command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in params}
    del command.__wrapped__  # typer must read our signature, not the function's
    return command

"""Config fields that say everything about a setting once: default, help, flag, accepted values.

Every command's options are fields of a config dataclass declared with `option` (as transformers'
`TrainingArguments` fields are): `cl2cm.cli.options` builds the command's parameters from them, and
`check_fields` is the one range/choice validator, run by the CLI while parsing and by the library before
any work. The modules of this package import neither torch nor transformers (nor typer), so that
`cl2cm --help` and every usage error stay fast (tested).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from typing import Any

from cl2cm.errors import ConfigError

REQUIRED: Any = MISSING  # `option(REQUIRED, ...)`: a required flag (the dataclass field has no default)


@dataclass(frozen=True)
class Range:
    """The numbers a field accepts: `Range(0, 1, high_open=True)` is [0, 1). NaN and ±inf are in no range
    (an infinite learning rate, warm-up or temperature trains a model of NaNs).

    Open ends (`low_open`) cover the "strictly positive" settings (temperatures, learning rates).
    """

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def __str__(self) -> str:
        parts = []
        if self.low is not None:
            parts.append(f"{'>' if self.low_open else '>='} {number(self.low)}")
        if self.high is not None:
            parts.append(f"{'<' if self.high_open else '<='} {number(self.high)}")
        return " and ".join(parts)

    def contains(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            return False
        return not (self.high is not None and (value > self.high or (self.high_open and value == self.high)))


    def refusal(self, value: float) -> str | None:
        """Why `value` is outside (None: it is inside), as the end of a sentence."""
        if self.contains(value):
            return None
        return f"must be {self}" + (" and finite" if math.isinf(value) else "")


def number(value: float) -> str:
    """`2` not `2.0`, `1e-05` for small floats, an integer as typed: how a range or a value reads in a message."""
    if isinstance(value, int):
        return str(value)
    return str(int(value)) if float(value).is_integer() and abs(value) < 2**64 else f"{value:g}"


POSITIVE = Range(0, low_open=True)  # > 0: temperatures, learning rates, sizes
AT_LEAST_1 = Range(1)  # counts: epochs, batch sizes, chunk sizes, beams
NON_NEGATIVE = Range(0)  # weights of optional loss terms (0 = off), workers
FRACTION = Range(0, 1, high_open=True)  # dropout and noise probabilities: [0, 1)
SEED_RANGE = Range(0, 2**63 - 1)
WIDTH = Range(1, 2**16)  # joint dimensions and head widths: beyond it the weights alone outgrow memory
DEVICE_HELP = "auto | cpu | cuda (auto: CUDA when present)."
SEED_HELP = "Random seed: the same seed gives the same artifact."


@dataclass(frozen=True)
class Cli:
    """How the command line spells a field whose Python type is not what a user types.

    `type` is the parameter's type on the command line (e.g. `str` for `ks`, typed "1,5,10"),
    `convert` turns the parsed value into the field's value, `show_default` what `--help` shows.
    """

    type: Any = None
    convert: Callable[[Any], Any] | None = None
    show_default: str | bool | None = None
    metavar: str | None = None


def option(default: Any, help: str, *, flag: str | None = None, short: str | None = None,
           off: str | None = None, range: Range | None = None, choices: Sequence[str] | None = None,
           library_only: bool = False, argument: bool = False, cli: Cli | None = None,
           deprecated: Sequence[str] = (), default_factory: Callable[[], Any] | None = None) -> Any:
    """A config field with everything the CLI and the validator need, said once.

    `flag` (or `argument=True`: a positional input) names it on the command line, `short` adds a one-letter
    alias, `off` the negative of an on/off flag (``--no-transfer``); `range`/`choices` are the values it
    accepts (checked by `check_fields`); `deprecated` lists old flag names still accepted for one release;
    `library_only` marks a setting only Python callers reach (no flag).
    """
    if (flag is None and not argument) == (not library_only):
        raise ValueError("a config field has a flag (or is an argument) or is library-only")
    meta = {"help": help, "flag": flag, "short": short, "off": off, "range": range,
            "choices": tuple(choices) if choices is not None else None, "library_only": library_only,
            "argument": argument, "cli": cli, "deprecated": tuple(deprecated)}
    if default_factory is not None:
        return field(default_factory=default_factory, metadata=meta)
    return field(default=default, metadata=meta)


def help_of(config: type, name: str) -> str:
    """The help text of a config field (for the CLI's option)."""
    return config.__dataclass_fields__[name].metadata["help"]


def check_value(f: dataclasses.Field, value: Any) -> str | None:
    """Why `value` is no value of field `f` (None: it is one). The one check of ranges and choices."""
    meta = f.metadata
    rng, choices = meta.get("range"), meta.get("choices")
    if value is None:
        return None
    values = value if isinstance(value, (list, tuple)) else [value]
    for v in values:
        why = rng.refusal(v) if rng is not None and isinstance(v, (int, float)) else None
        if why is not None:
            return why
        if choices is not None and v not in choices:
            return f"expected one of {', '.join(choices)}"
    return None


def check_fields(config: Any) -> None:
    """Raise a `ConfigError` naming the first field (nested configs included) whose value is refused."""
    for f in fields(config):
        value = getattr(config, f.name)
        if is_dataclass(value) and not isinstance(value, type):
            check_fields(value)
            continue
        why = check_value(f, value)
        if why is not None:
            shown = "{value!r}" if isinstance(value, str) else "{value}"
            raise ConfigError(f"{{{f.name}}} {shown}: {why}", value=value)


def nested(f: dataclasses.Field) -> type | None:
    """The config dataclass a field holds (its flags are the outer config's), else None."""
    factory = f.default_factory
    return factory if factory is not MISSING and isinstance(factory, type) and is_dataclass(factory) else None


def leaves(config: type) -> Iterator[tuple[type, dataclasses.Field]]:
    """(owner class, field) of every flag of `config`: the nested configs' flags first, the last declared
    first (a stage's model `options`, then the engine's `train`), then the config's own, in their order."""
    for f in reversed(fields(config)):
        sub = nested(f)
        if sub is not None:
            yield from leaves(sub)
    for f in fields(config):
        if nested(f) is None and not f.metadata.get("library_only", True):
            yield config, f

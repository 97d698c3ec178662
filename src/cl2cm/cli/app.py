"""The Typer app and the options every command shares.

Commands live in one small module each (`cl2cm.cli.<command>`) and only parse: they call one library
function and print its summary. User mistakes surface as `UserError` and become one stderr line + exit 2
in `cl2cm.cli.main`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import typer
from rich.console import Console

app = typer.Typer(
    name="cl2cm",
    help=(
        "Cross-lingual cross-modal retrieval without target-language annotations (CL2CM, AAAI 2024).\n\n"
        "Stages: translate → extract-features → train-teacher → distill → eval (and search). "
        "Every stage reads and writes on-disk artifacts, so stages run separately and resume after a kill.\n\n"
        "Quick start: cl2cm demo --out runs/demo"
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode="rich",
)

console = Console(stderr=False)
err_console = Console(stderr=True)


@dataclass(frozen=True)
class Range:
    """The values a numeric option accepts, declared where the option is (`typer.Option(callback=Range(...))`).

    Checked while parsing, so `--dropout 2` or `--workers -2` is one line naming the flag and exit 2
    before any model is loaded or any output directory exists. Open ends (`low_open`) cover the
    "strictly positive" options (temperatures, learning rates) that typer's own min/max cannot express.
    """

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def __str__(self) -> str:
        parts = []
        if self.low is not None:
            parts.append(f"{'>' if self.low_open else '>='} {_number(self.low)}")
        if self.high is not None:
            parts.append(f"{'<' if self.high_open else '<='} {_number(self.high)}")
        return " and ".join(parts)

    def contains(self, value: float) -> bool:
        if value != value:  # NaN is in no range
            return False
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            return False
        return not (self.high is not None and (value > self.high or (self.high_open and value == self.high)))

    def __call__(self, value: float | None) -> float | None:  # typer passes the parsed value
        if value is not None and not self.contains(value):
            raise typer.BadParameter(f"{_number(value)} is out of range: it must be {self}.")
        return value


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 2**64 else f"{value:g}"


POSITIVE = Range(0, low_open=True)  # > 0: temperatures, learning rates, sizes
AT_LEAST_1 = Range(1)  # counts: epochs, batch sizes, chunk sizes, beams
NON_NEGATIVE = Range(0)  # weights of optional loss terms (0 = off), workers, seeds
FRACTION = Range(0, 1, high_open=True)  # dropout and noise probabilities: [0, 1)


DeviceOpt = Annotated[str, typer.Option("--device", help="auto | cpu | cuda (auto: CUDA when present).")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Random seed: the same seed gives the same artifact.",
                                      callback=Range(0, 2**63 - 1))]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars or tables, only errors.")]



def _print_version(value: bool) -> None:
    if value:
        from cl2cm import __version__

        console.print(f"cl2cm {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                                help="Print the version and exit.")] = False) -> None:
    """Options of `cl2cm` itself (before the command)."""

"""The Typer app and the options every command shares.

Commands live in one small module each (`cl2cm.cli.<command>`) and only parse: they call one library
function and print its summary. User mistakes surface as `UserError` and become one stderr line + exit 2
in `cl2cm.cli.main`.
"""

from __future__ import annotations

from pathlib import Path
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


QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars or tables, only errors.",
                                        metavar="")]
OutOpt = Annotated[Path, typer.Option("--out", "-o", help="Output model directory.")]
StoreOutOpt = Annotated[Path, typer.Option("--out", "-o", help="Output store directory.")]


def _print_version(value: bool) -> None:
    if value:
        from cl2cm._version import __version__

        console.print(f"cl2cm {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                                help="Print the version and exit.")] = False) -> None:
    """Options of `cl2cm` itself (before the command)."""

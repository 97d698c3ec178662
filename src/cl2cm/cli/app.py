"""The Typer app and the options every command shares.

Commands live in one small module each (`cl2cm.cli.<command>`) and only parse: they call one library
function and print its summary. User mistakes surface as `UserError` and become one stderr line + exit 2
in `cl2cm.cli.main`.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator
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


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Run a short command's imports and work without the cyclic garbage collector, then freeze.

    Importing torch and transformers and building a model create ~10^6 long-lived objects; the collector
    ran ~1,050 times over them (six full passes) and found little to free: 0.8-1.2 s of a 5-7 s `cl2cm
    eval` on the demo (2026-12-07, load ~5.5). Reference counting still frees memory meanwhile (encoding
    5,000 captions left no cyclic garbage); `gc.freeze()` keeps later collections, and the one at exit,
    from walking those objects again (without it the command took ~1.3 s longer). A caller that already
    disabled the collector keeps it disabled.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()

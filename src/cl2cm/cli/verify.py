"""`cl2cm verify DIR`: check every byte of an artifact against the checksums it was written with, and the
values its readers refuse."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cl2cm.cli.app import QuietOpt, app, console


@app.command("verify")
def verify_cmd(
    directory: Annotated[Path, typer.Argument(help="An artifact directory (anything with a manifest.json).",
                                              show_default=False)],
    quiet: QuietOpt = False,
) -> None:
    """Check an artifact in full: each data file against its manifest's checksum, every safetensors file
    (checkpoints too) against the digest in its own header, and the values every reader refuses (NaN or
    infinity in any floating tensor, a duplicate id in a store's ids.txt). Damage is one line and exit 2;
    files with no recorded checksum are counted in the ok line.

    Example:

        cl2cm verify runs/demo/features/test
    """
    from cl2cm.artifacts.verify import verify_artifact  # torch only when it runs (--help stays fast)

    report = verify_artifact(directory)
    if quiet:
        return
    values = "values finite" + (", no all-zero row, ids unique" if (directory / "ids.txt").is_file() else "")
    if report.has_digests:
        line = (f"ok: {directory}: {report.recorded} files match their checksums ({report.self_checked} tensor "
                f"files also self-checked; {values})")
    else:
        line = (f"ok: {directory}: no checksums recorded (written before cl2cm recorded them); "
                f"{report.tensor_files} tensor files readable, {values}")
    if report.unchecked:
        shown = ", ".join(report.unchecked[:3]) + (", ..." if len(report.unchecked) > 3 else "")
        line += f"; {len(report.unchecked)} file(s) with no recorded checksum, bytes not verified ({shown})"
    console.print(line, highlight=False, soft_wrap=True)

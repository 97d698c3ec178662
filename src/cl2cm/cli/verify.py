"""`cl2cm verify DIR`: check every byte of an artifact against the checksums it was written with."""

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
    (checkpoints too) against the digest in its own header. Damage is one line and exit 2.

    Example:

        cl2cm verify runs/demo/features/test
    """
    from cl2cm.artifacts.verify import verify_artifact  # torch only when it runs (--help stays fast)

    recorded, tensor_files, has_digests = verify_artifact(directory)
    if quiet:
        return
    if has_digests:
        console.print(f"ok: {directory}: {recorded} files match their checksums ({tensor_files} tensor files "
                      "also self-checked)", highlight=False, soft_wrap=True)
    else:
        console.print(f"ok: {directory}: no checksums recorded (written before cl2cm recorded them); "
                      f"{tensor_files} tensor files readable", highlight=False, soft_wrap=True)

"""`cl2cm search`: parse flags, call `cl2cm.retrieval.search.search`, print the hits (and an HTML sheet)."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cl2cm.artifacts.io import check_output_path
from cl2cm.cli.app import AT_LEAST_1, DeviceOpt, QuietOpt, SeedOpt, app, console
from cl2cm.errors import UserError
from cl2cm.retrieval.report import write_contact_sheet
from cl2cm.retrieval.search import search
from cl2cm.runtime import seed_everything


@app.command("search")
def search_cmd(
    queries: Annotated[list[str], typer.Argument(help="One or more query texts, in any of the model's languages (its manifest's "
                                                 "model.languages; one multilingual student answers them all).",
                                                 show_default=False)],
    model: Annotated[Path, typer.Option("--model", help="Student model directory.")],
    features: Annotated[Path, typer.Option("--features", help="Feature store of the visual items.")],
    k: Annotated[int, typer.Option("--k", callback=AT_LEAST_1, help="How many items to list per query.")] = 10,
    root: Annotated[Path | None, typer.Option("--root", help="Image folder for the contact sheet "
                                              "(ids are paths under it).")] = None,
    html: Annotated[Path | None, typer.Option("--html", help="Write an HTML contact sheet of the hits "
                                              "(needs --root).")] = None,
    embed_images: Annotated[bool, typer.Option("--embed-images", help="Inline thumbnails as base64 "
                                               "instead of relative paths.")] = False,
    batch_size: Annotated[int, typer.Option("--batch-size", callback=AT_LEAST_1, help="Captions per encoder batch.")] = 256,
    device: DeviceOpt = "auto",
    seed: SeedOpt = 0,
    quiet: QuietOpt = False,
) -> None:
    """Top-K visual items for free-text queries, scored by a student model.

    Example:

        cl2cm search --model runs/student --features runs/feats/test "ein Hund rennt über die Wiese" --k 10 \\
            --root flickr30k-images --html hits.html
    """
    if html is not None and root is None:
        raise UserError("--html needs --root (the image folder the thumbnails come from)")
    check_output_path(html, "--html")
    seed_everything(seed)
    with console.status("encoding", spinner="dots") if not quiet else nullcontext():
        results = search(model, features, queries, k=k, device=device, batch_size=batch_size)
    if html is not None:
        if len(results) > 1:
            pages = [html.with_name(f"{html.stem}-{i}{html.suffix}") for i in range(len(results))]
        else:
            pages = [html]
        for page, res in zip(pages, results, strict=True):
            write_contact_sheet(page, res.query, res.hits, root, embed=embed_images)
    if quiet:
        return
    for res in results:
        table = Table(title=res.query)
        table.add_column("#", justify="right")
        table.add_column("visual id")
        table.add_column("score", justify="right")
        for rank, (item, score) in enumerate(res.hits, 1):
            table.add_row(str(rank), item, f"{score:.4f}")
        console.print(table)
    if html is not None:
        console.print(f"contact sheet → {', '.join(map(str, pages))}")

"""`cl2cm search`: parse flags, call `cl2cm.retrieval.search.search`, print the hits (and an HTML sheet)."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Annotated

import typer
from rich.table import Table

from cl2cm.artifacts.io import check_output_path
from cl2cm.cli.app import QuietOpt, app, console, paused_gc
from cl2cm.cli.options import configured
from cl2cm.config.query import SearchConfig
from cl2cm.errors import UserError


@app.command("search")
@configured
def search_cmd(
    queries: Annotated[list[str], typer.Argument(help="One or more query texts, in any of the model's languages "
                                                 "(its manifest's model.languages; one multilingual student "
                                                 "answers them all).", show_default=False)],
    *,
    config: SearchConfig,
    quiet: QuietOpt = False,
) -> None:
    """Top-K visual items for free-text queries, scored by a student model.

    Example:

        cl2cm search --model runs/student --features runs/feats/test "ein Hund rennt über die Wiese" --k 10 --root flickr30k-images --html hits.html
    """
    c = config
    if c.html is not None and c.root is None:
        raise UserError("--html needs --root (the image folder the thumbnails come from)")
    check_output_path(c.html, "--html")
    with paused_gc():  # torch's import and the model: collector passes that free nothing (as in eval)
        from cl2cm.retrieval.report import write_contact_sheets
        from cl2cm.retrieval.search import search
        from cl2cm.runtime import seed_everything

        seed_everything(c.seed)
        with console.status("encoding", spinner="dots") if not quiet else nullcontext():
            results = search(c.model, c.features, queries, k=c.k, device=c.device, batch_size=c.batch_size,
                             lang=c.lang, strict_languages=c.strict_languages)
    pages = (write_contact_sheets(c.html, results, c.root, embed=c.embed_images)
             if c.html is not None and c.root is not None else [])
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
    if pages:
        console.print(f"contact sheet → {', '.join(map(str, pages))}")

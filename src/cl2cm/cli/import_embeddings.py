"""`cl2cm import-embeddings`: any tool's embeddings (.npy / .safetensors + an id list) → an embedding store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cl2cm.cli.app import QuietOpt, StoreOutOpt, app, console
from cl2cm.cli.options import configured
from cl2cm.config.stages import ImportEmbeddingsConfig


@app.command("import-embeddings")
@configured
def import_embeddings_cmd(
    source: Annotated[Path, typer.Argument(help="The embeddings: an [N, D] float matrix in an .npy file "
                                                "(never unpickled) or a .safetensors file.", show_default=False)],
    *,
    out: StoreOutOpt,
    config: ImportEmbeddingsConfig,
    quiet: QuietOpt = False,
) -> None:
    """Import embeddings made by any other tool, to evaluate them with cl2cm's exact engine.

    Example:

        cl2cm import-embeddings q.npy --ids q_ids.txt --images q_images.txt --out emb/q

        cl2cm import-embeddings g.safetensors --ids g_ids.txt --out emb/g

        cl2cm eval --query-emb emb/q --gallery-emb emb/g

    Writes OUT/features.safetensors, ids.txt, images.txt (with --images)
    and manifest.json (kind embeddings): the layout docs/formats.md
    describes for stores written by hand. Rows are kept as given unless
    --normalize. The same command on a finished store: "already complete".
    """

    from cl2cm.artifacts.import_embeddings import import_embeddings  # numpy/safetensors only when it runs

    options = dict(vars(config))
    res = import_embeddings(source, options.pop("ids"), out, **options)
    if not quiet:
        role = "queries (with images.txt)" if res.queries else "gallery"
        console.print(f"import-embeddings → {res.out}: {res.status}; {res.rows:,} rows × {res.dim} ({role})")

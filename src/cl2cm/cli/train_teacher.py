"""`cl2cm train-teacher`: its inputs, the call to `cl2cm.train.teacher.train_teacher`, a summary table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cl2cm.cli.app import OutOpt, QuietOpt, app
from cl2cm.cli.options import configured
from cl2cm.cli.progress import progress_for
from cl2cm.cli.tables import languages_row, print_fit_summary
from cl2cm.config.teacher import TrainTeacherConfig


@app.command("train-teacher")
@configured
def train_teacher_cmd(
    *,
    src: Annotated[Path, typer.Option("--src", help="English training captions (any caption format).")],
    tgt: Annotated[list[Path], typer.Option("--tgt", help="Their translations, paired with --src by caption id; "
                                            "repeat for several languages (one file each): one teacher for all "
                                            "(see --language-sampling).")],
    out: OutOpt,
    val_src: Annotated[Path | None, typer.Option("--val-src", help="English validation captions.")] = None,
    val_tgt: Annotated[list[Path] | None, typer.Option("--val-tgt", help="Human target-language validation "
                                                       "captions (queries of target→English retrieval); repeat "
                                                       "per language: the mean selects the best epoch.")] = None,
    config: TrainTeacherConfig,
    quiet: QuietOpt = False,
) -> None:
    """Train the cross-lingual teacher (CL2CM stage 1) on English ↔ translated caption pairs.

    Example:

        cl2cm train-teacher --src train.en --tgt train.de --val-src val.en --val-tgt val.de --out runs/teacher-de

        cl2cm train-teacher --src train.en --tgt train.de --tgt train.fr --val-src val.en --val-tgt val.de --val-tgt val.fr --out runs/teacher-defr

        cl2cm train-teacher --src train.en --tgt train.de --encoder xlm-roberta-base --pooling attention --ot-weight 0.2 --out runs/t

    Multi-GPU: torchrun --nproc_per_node 4 -m cl2cm train-teacher ... (same flags; --batch-size is global).
    After a kill, rerun the same command with --resume.
    """
    from cl2cm.train.teacher import train_teacher  # torch only when the command runs

    with progress_for(quiet) as progress:
        res = train_teacher(src, tgt, out, config, val_src=val_src, val_tgt=val_tgt or None, progress=progress)
    if quiet:
        return
    print_fit_summary(
        f"train-teacher → {res.out_dir}",
        [("pairs", f"{res.pairs:,}"), ("validation pairs", f"{res.val_pairs:,}"),
         ("fine-tuned encoder layers", res.trained_layers),
         *languages_row(res.languages, res.pairs_per_language),
         ("trainable / all parameters", f"{res.trainable_params:,} / {res.total_params:,}")],
        res.fit, metric_name="val R@1+5+10 (tgt→en)", last_keys=("val_r1", "val_r5", "val_r10"))

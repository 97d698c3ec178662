"""`cl2cm distill`: its inputs, the call to `cl2cm.train.distill.distill`, a summary table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cl2cm.cli.app import OutOpt, QuietOpt, app
from cl2cm.cli.options import configured
from cl2cm.cli.progress import progress_for
from cl2cm.cli.tables import languages_row, print_fit_summary
from cl2cm.config.distill import DistillConfig


@app.command("distill")
@configured
def distill_cmd(
    *,
    teacher: Annotated[Path, typer.Option("--teacher", help="Teacher model directory (train-teacher --out).")],
    features: Annotated[Path, typer.Option("--features", help="Feature store of the training images "
                                           "(extract-features --out).")],
    src: Annotated[Path, typer.Option("--src", help="English training captions (any caption format).")],
    tgt: Annotated[list[Path], typer.Option("--tgt", help="Their translations (the pseudo pairs), paired by id; "
                                            "repeat for several languages (one file each): one student for "
                                            "all.")],
    out: OutOpt,
    val_features: Annotated[Path | None, typer.Option("--val-features", help="Feature store of the "
                                                      "validation images (same visual model).")] = None,
    val_captions: Annotated[list[Path] | None, typer.Option("--val-captions", help="Human target-language "
                                                            "captions of the validation images; repeat per "
                                                            "language: the mean SumR selects the best "
                                                            "epoch.")] = None,
    config: DistillConfig,
    quiet: QuietOpt = False,
) -> None:
    """Train the cross-modal student (CL2CM stage 2) with knowledge transferred from the frozen teacher.

    Example:

        cl2cm distill --teacher runs/teacher-de --features runs/feats/train --src train.en.jsonl --tgt train.de.jsonl --val-features runs/feats/val --val-captions val.de.jsonl --out runs/student-de

        cl2cm distill --teacher runs/teacher-de --features runs/feats/train --src train.en.jsonl --tgt train.de.jsonl --no-transfer --out runs/baseline-de

    The second is the ablation: the same run without the transfer term.

    Multi-GPU: torchrun --nproc_per_node 4 -m cl2cm distill ... (same flags; --batch-size is global).
    After a kill, rerun the same command with --resume.
    """
    from cl2cm.train.distill import distill  # torch only when the command runs

    with progress_for(quiet) as progress:
        res = distill(teacher, features, src, tgt, out, config, val_features=val_features,
                      val_captions=val_captions or None, progress=progress)
    if quiet:
        return
    print_fit_summary(
        f"distill → {res.out_dir}",
        [("pairs / images", f"{res.pairs:,} / {res.images:,}"),
         ("visual input / head", f"{res.visual_input} / {res.head}"),
         ("knowledge transfer", "on" if res.transfer else "off (baseline)"),
         ("fine-tuned encoder layers", res.trained_layers),
         *languages_row(res.languages, res.pairs_per_language),
         ("trainable parameters", f"{res.trainable_params:,}")],
        res.fit, metric_name=f"val SumR ({res.val_captions:,} captions)", last_keys=("val_t2v_r1", "val_v2t_r1"))

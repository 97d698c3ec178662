"""`cl2cm distill`: parse flags, call `cl2cm.train.distill.distill`, print a summary table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from cl2cm.cli.app import AT_LEAST_1, FRACTION, NON_NEGATIVE, POSITIVE, DeviceOpt, QuietOpt, SeedOpt, app
from cl2cm.cli.engine_options import (
    AccumOpt,
    AmpOpt,
    BatchSizeOpt,
    EpochsOpt,
    FormatOpt,
    GradClipOpt,
    LanguageSamplingOpt,
    LogEveryOpt,
    LrOpt,
    MaxPairsOpt,
    MaxStepsOpt,
    OutOpt,
    PatienceOpt,
    ResumeOpt,
    ScheduleOpt,
    WarmupOpt,
    WeightDecayOpt,
    WorkersOpt,
    config_option,
    print_fit_summary,
    train_config,
)
from cl2cm.cli.progress import progress_for
from cl2cm.train.distill import DistillConfig, DistillOptions, distill
from cl2cm.train.engine import TrainConfig

_D = DistillOptions()
_T = TrainConfig()


def _opt(name: str, *decls: str, **kwargs: Any) -> Any:
    """The option of a `DistillOptions` field (flag and help from its metadata)."""
    return config_option(DistillOptions, name, *decls, **kwargs)


@app.command("distill")
def distill_cmd(
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
    caption_format: FormatOpt = None,
    head: Annotated[str, _opt("head")] = _D.head,
    visual_input: Annotated[str, _opt("visual_input")] = _D.visual_input,
    dim: Annotated[int | None, _opt("dim", callback=AT_LEAST_1)] = _D.dim,
    hidden: Annotated[int, _opt("hidden", callback=AT_LEAST_1)] = _D.hidden,
    dropout: Annotated[float, _opt("dropout", callback=FRACTION)] = _D.dropout,
    init_text: Annotated[str, _opt("init_text")] = _D.init_text,
    train_layers: Annotated[str | None, _opt("train_layers")] = _D.train_layers,
    temperature: Annotated[float, _opt("temperature", callback=POSITIVE)] = _D.temperature,
    vt_weight: Annotated[float, _opt("vt_weight", callback=NON_NEGATIVE)] = _D.vt_weight,
    en_weight: Annotated[float, _opt("en_weight", callback=NON_NEGATIVE)] = _D.en_weight,
    transfer: Annotated[bool, _opt("transfer", "--transfer/--no-transfer")] = _D.transfer,
    kt_weight: Annotated[float, _opt("kt_weight", callback=NON_NEGATIVE)] = _D.kt_weight,
    kt_temperature: Annotated[float, _opt("kt_temperature", callback=POSITIVE)] = _D.kt_temperature,
    kt_teacher_temperature: Annotated[float | None, _opt("kt_teacher_temperature", callback=POSITIVE)
                                      ] = _D.kt_teacher_temperature,
    feat_weight: Annotated[float, _opt("feat_weight", callback=NON_NEGATIVE)] = _D.feat_weight,
    rel_weight: Annotated[float, _opt("rel_weight", callback=NON_NEGATIVE)] = _D.rel_weight,
    sampling: Annotated[str, _opt("sampling")] = _D.sampling,
    epochs: EpochsOpt = _T.epochs,
    batch_size: BatchSizeOpt = _T.batch_size,
    lr: LrOpt = _T.lr,
    weight_decay: WeightDecayOpt = _T.weight_decay,
    warmup: WarmupOpt = _T.warmup,
    schedule: ScheduleOpt = _T.schedule,
    grad_clip: GradClipOpt = _T.grad_clip,
    accum: AccumOpt = _T.accum,
    amp: AmpOpt = _T.amp,
    patience: PatienceOpt = _T.patience,
    max_steps: MaxStepsOpt = None,
    max_pairs: MaxPairsOpt = None,
    max_val: Annotated[int | None, config_option(DistillConfig, "max_val", callback=AT_LEAST_1)] = None,
    log_every: LogEveryOpt = _T.log_every,
    workers: WorkersOpt = _T.num_workers,
    language_sampling: LanguageSamplingOpt = _T.language_sampling,
    resume: ResumeOpt = False,
    device: DeviceOpt = "auto",
    seed: SeedOpt = 0,
    quiet: QuietOpt = False,
) -> None:
    """Train the cross-modal student (CL2CM stage 2) with knowledge transferred from the frozen teacher.

    Example:

        cl2cm distill --teacher runs/teacher-de --features runs/feats/train --src train.en.jsonl --tgt train.de.jsonl --val-features runs/feats/val --val-captions val.de.jsonl --out runs/student-de

        cl2cm distill ... --visual-input tokens --no-transfer --out runs/baseline-de   (the ablation)

    Multi-GPU: torchrun --nproc_per_node 4 -m cl2cm distill ... (same flags; --batch-size is global).
    After a kill, rerun the same command with --resume.
    """
    options = DistillOptions(head=head, visual_input=visual_input, dim=dim, hidden=hidden, dropout=dropout,
                             init_text=init_text, train_layers=train_layers, temperature=temperature,
                             vt_weight=vt_weight, en_weight=en_weight, transfer=transfer, kt_weight=kt_weight,
                             kt_temperature=kt_temperature, kt_teacher_temperature=kt_teacher_temperature,
                             feat_weight=feat_weight, rel_weight=rel_weight,
                             sampling=sampling)
    train = train_config(epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay, warmup=warmup,
                         schedule=schedule, grad_clip=grad_clip, accum=accum, amp=amp, patience=patience,
                         max_steps=max_steps, log_every=log_every, workers=workers, seed=seed, device=device,
                         language_sampling=language_sampling)
    config = DistillConfig(options=options, train=train, fmt=caption_format, max_pairs=max_pairs, max_val=max_val,
                           resume=resume)
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
         *([("languages", " ".join(res.languages))] if len(res.languages) > 1 else []),
         ("trainable parameters", f"{res.trainable_params:,}")],
        res.fit, metric_name=f"val SumR ({res.val_captions:,} captions)", last_keys=("val_t2v_r1", "val_v2t_r1"))

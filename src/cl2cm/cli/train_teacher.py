"""`cl2cm train-teacher`: parse flags, call `cl2cm.train.teacher.train_teacher`, print a summary table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from cl2cm.cli.app import (
    AT_LEAST_1,
    FRACTION,
    NON_NEGATIVE,
    POSITIVE,
    DeviceOpt,
    QuietOpt,
    Range,
    SeedOpt,
    app,
)
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
from cl2cm.models.text import DEFAULT_ENCODER, POOLINGS, TextEncoderConfig
from cl2cm.train.engine import TrainConfig
from cl2cm.train.teacher import TeacherOptions, TrainTeacherConfig, train_teacher


def _opt(name: str, *decls: str, **kwargs: Any) -> Any:
    """The option of a `TeacherOptions` field (flag and help from its metadata)."""
    return config_option(TeacherOptions, name, *decls, **kwargs)


@app.command("train-teacher")
def train_teacher_cmd(
    src: Annotated[Path, typer.Option("--src", help="English training captions (any caption format).")],
    tgt: Annotated[list[Path], typer.Option("--tgt", help="Their translations, paired with --src by caption id; "
                                            "repeat for several languages (one file each): one teacher for all "
                                            "(see --language-sampling).")],
    out: OutOpt,
    val_src: Annotated[Path | None, typer.Option("--val-src", help="English validation captions.")] = None,
    val_tgt: Annotated[list[Path] | None, typer.Option("--val-tgt", help="Human target-language validation "
                                                       "captions (queries of target→English retrieval); repeat "
                                                       "per language: the mean selects the best epoch.")] = None,
    caption_format: FormatOpt = None,
    encoder: Annotated[str, typer.Option("--encoder", help="HF encoder name or local directory "
                                         "(mBERT, XLM-R, ...).")] = DEFAULT_ENCODER,
    pooling: Annotated[str, typer.Option("--pooling", help=f"{' | '.join(POOLINGS)} (attention: NRCCR's "
                                         "1-layer attention head).")] = TextEncoderConfig.pooling,
    dim: Annotated[int, typer.Option("--dim", callback=AT_LEAST_1, help="Joint-space dimension.")] = TextEncoderConfig.dim,
    train_layers: Annotated[str, typer.Option("--train-layers", help="Encoder layers to fine-tune: auto "
                                              "(all but the bottom quarter: 3-11 on 12 layers, 0-1 on 2), a "
                                              "range 3-11, a list 0,2,5-7, all (+ embeddings) or none. The "
                                              "summary prints what it resolved to.")] = TextEncoderConfig.train_layers,
    freeze_word_embeddings: Annotated[bool, typer.Option(
        "--freeze-word-embeddings/--train-word-embeddings", help="With --train-layers all: keep the word "
        "embeddings frozen (most of a multilingual encoder's parameters).")] = TextEncoderConfig.freeze_word_embeddings,
    max_length: Annotated[int, typer.Option("--max-length", callback=Range(3), help="Tokens per caption.")] = TextEncoderConfig.max_length,
    dropout: Annotated[float, typer.Option("--dropout", callback=FRACTION, help="Dropout of the head.")] = TextEncoderConfig.dropout,
    shared: Annotated[bool, _opt("shared", "--shared-encoder/--separate-encoders")] = TeacherOptions.shared,
    temperature: Annotated[float, _opt("temperature", callback=POSITIVE)] = TeacherOptions.temperature,
    learnable_temperature: Annotated[bool, _opt("learnable_temperature")] = TeacherOptions.learnable_temperature,
    nce_weight: Annotated[float, _opt("nce_weight", callback=NON_NEGATIVE)] = TeacherOptions.nce_weight,
    triplet_weight: Annotated[float, _opt("triplet_weight", callback=NON_NEGATIVE)] = TeacherOptions.triplet_weight,
    margin: Annotated[float, _opt("margin", callback=NON_NEGATIVE)] = TeacherOptions.margin,
    ot_weight: Annotated[float, _opt("ot_weight", callback=NON_NEGATIVE)] = TeacherOptions.ot_weight,
    ot_eps: Annotated[float, _opt("ot_eps", callback=POSITIVE)] = TeacherOptions.ot_eps,
    ot_iters: Annotated[int, _opt("ot_iters", callback=AT_LEAST_1)] = TeacherOptions.ot_iters,
    epochs: EpochsOpt = TrainConfig.epochs,
    batch_size: BatchSizeOpt = TrainConfig.batch_size,
    lr: LrOpt = TrainConfig.lr,
    weight_decay: WeightDecayOpt = TrainConfig.weight_decay,
    warmup: WarmupOpt = TrainConfig.warmup,
    schedule: ScheduleOpt = TrainConfig.schedule,
    grad_clip: GradClipOpt = TrainConfig.grad_clip,
    accum: AccumOpt = TrainConfig.accum,
    amp: AmpOpt = TrainConfig.amp,
    patience: PatienceOpt = TrainConfig.patience,
    max_steps: MaxStepsOpt = TrainConfig.max_steps,
    max_pairs: MaxPairsOpt = None,
    max_val: Annotated[int | None, config_option(TrainTeacherConfig, "max_val", callback=AT_LEAST_1)] = None,
    log_every: LogEveryOpt = TrainConfig.log_every,
    workers: WorkersOpt = TrainConfig.num_workers,
    language_sampling: LanguageSamplingOpt = TrainConfig.language_sampling,
    resume: ResumeOpt = False,
    device: DeviceOpt = "auto",
    seed: SeedOpt = 0,
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
    options = TeacherOptions(
        text=TextEncoderConfig(encoder=encoder, pooling=pooling, dim=dim, train_layers=train_layers,
                               max_length=max_length, dropout=dropout,
                               freeze_word_embeddings=freeze_word_embeddings),
        shared=shared, temperature=temperature, learnable_temperature=learnable_temperature,
        nce_weight=nce_weight, triplet_weight=triplet_weight, margin=margin, ot_weight=ot_weight, ot_eps=ot_eps,
        ot_iters=ot_iters)
    train = train_config(epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay, warmup=warmup,
                         schedule=schedule, grad_clip=grad_clip, accum=accum, amp=amp, patience=patience,
                         max_steps=max_steps, log_every=log_every, workers=workers, seed=seed, device=device,
                         language_sampling=language_sampling)
    config = TrainTeacherConfig(options=options, train=train, fmt=caption_format, max_pairs=max_pairs,
                                max_val=max_val, resume=resume)
    with progress_for(quiet) as progress:
        res = train_teacher(src, tgt, out, config, val_src=val_src, val_tgt=val_tgt or None, progress=progress)
    if quiet:
        return
    print_fit_summary(
        f"train-teacher → {res.out_dir}",
        [("pairs", f"{res.pairs:,}"), ("validation pairs", f"{res.val_pairs:,}"),
         ("fine-tuned encoder layers", res.trained_layers),
         *([("languages", " ".join(res.languages))] if len(res.languages) > 1 else []),
         ("trainable / all parameters", f"{res.trainable_params:,} / {res.total_params:,}")],
        res.fit, metric_name="val R@1+5+10 (tgt→en)", last_keys=("val_r1", "val_r5", "val_r10"))

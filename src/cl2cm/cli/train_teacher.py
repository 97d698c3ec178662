"""`cl2cm train-teacher`: parse flags, call `cl2cm.train.teacher.train_teacher`, print a summary table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cl2cm.cli.app import DeviceOpt, QuietOpt, SeedOpt, app, console
from cl2cm.models.text import DEFAULT_ENCODER, POOLINGS, TextEncoderConfig
from cl2cm.train.engine import AMP_CHOICES, SCHEDULES, TrainConfig
from cl2cm.train.teacher import TeacherOptions, train_teacher


@app.command("train-teacher")
def train_teacher_cmd(
    src: Annotated[Path, typer.Option("--src", help="English training captions (any caption format).")],
    tgt: Annotated[Path, typer.Option("--tgt", help="Their translations, paired with --src by caption id.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output model directory.")],
    val_src: Annotated[Path | None, typer.Option("--val-src", help="English validation captions.")] = None,
    val_tgt: Annotated[Path | None, typer.Option("--val-tgt", help="Human target-language validation "
                                                 "captions (queries of target→English retrieval).")] = None,
    caption_format: Annotated[str | None, typer.Option("--format", help="Caption format of all inputs "
                                                       "(default: from the file names).")] = None,
    encoder: Annotated[str, typer.Option("--encoder", help="HF encoder name or local directory "
                                         "(mBERT, XLM-R, ...).")] = DEFAULT_ENCODER,
    pooling: Annotated[str, typer.Option("--pooling", help=f"{' | '.join(POOLINGS)} (attention: NRCCR's "
                                         "1-layer attention head).")] = "mean",
    dim: Annotated[int, typer.Option("--dim", help="Joint-space dimension.")] = 1536,
    train_layers: Annotated[str, typer.Option("--train-layers", help="Encoder layers to fine-tune: 3-11, "
                                              "0,2,5-7, all or none.")] = "3-11",
    max_length: Annotated[int, typer.Option("--max-length", help="Tokens per caption.")] = 64,
    dropout: Annotated[float, typer.Option("--dropout", help="Dropout of the head.")] = 0.1,
    shared: Annotated[bool, typer.Option("--shared-encoder/--separate-encoders", help="One encoder for "
                                         "both languages, or two towers.")] = True,
    temperature: Annotated[float, typer.Option("--temperature", help="InfoNCE temperature τ.")] = 0.07,
    learnable_temperature: Annotated[bool, typer.Option("--learnable-temperature", help="Learn τ "
                                                        "(CLIP-style).")] = False,
    nce_weight: Annotated[float, typer.Option("--nce-weight", help="Weight of sentence InfoNCE.")] = 1.0,
    triplet_weight: Annotated[float, typer.Option("--triplet-weight", help="Weight of the VSE++ "
                                                  "hardest-negative triplet loss (0 = off).")] = 0.0,
    margin: Annotated[float, typer.Option("--margin", help="Triplet margin.")] = 0.2,
    ot_weight: Annotated[float, typer.Option("--ot-weight", help="λ of word-level OT alignment "
                                             "(0 = off).")] = 0.1,
    ot_eps: Annotated[float, typer.Option("--ot-eps", help="Sinkhorn entropic regularisation ε.")] = 0.05,
    ot_iters: Annotated[int, typer.Option("--ot-iters", help="Sinkhorn iterations.")] = 50,
    epochs: Annotated[int, typer.Option("--epochs", help="Maximum epochs.")] = 10,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Global batch (all processes).")] = 128,
    lr: Annotated[float, typer.Option("--lr", help="Peak learning rate (AdamW).")] = 1e-4,
    weight_decay: Annotated[float, typer.Option("--weight-decay", help="AdamW weight decay.")] = 0.01,
    warmup: Annotated[float, typer.Option("--warmup", help="Warm-up: fraction of steps (<1) or steps.")] = 0.05,
    schedule: Annotated[str, typer.Option("--schedule", help=f"{' | '.join(SCHEDULES)}.")] = "cosine",
    grad_clip: Annotated[float, typer.Option("--grad-clip", help="Max gradient norm (0 = off).")] = 2.0,
    accum: Annotated[int, typer.Option("--accum", help="Gradient accumulation steps.")] = 1,
    amp: Annotated[str, typer.Option("--amp", help=f"{' | '.join(AMP_CHOICES)}.")] = "auto",
    patience: Annotated[int, typer.Option("--patience", help="Early stop after N epochs without "
                                          "improvement.")] = 10,
    max_steps: Annotated[int | None, typer.Option("--max-steps", help="Stop after N optimizer steps.")] = None,
    max_pairs: Annotated[int | None, typer.Option("--max-pairs", help="Use only the first N pairs.")] = None,
    max_val: Annotated[int | None, typer.Option("--max-val", help="Use only the first N val pairs.")] = None,
    log_every: Annotated[int, typer.Option("--log-every", help="Log the train loss every N steps.")] = 50,
    workers: Annotated[int, typer.Option("--workers", help="DataLoader worker processes.")] = 0,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from OUT/checkpoints/last.safetensors.")
                      ] = False,
    device: DeviceOpt = "auto",
    seed: SeedOpt = 0,
    quiet: QuietOpt = False,
) -> None:
    """Train the cross-lingual teacher (CL2CM stage 1) on English ↔ translated caption pairs.

    Example:

        cl2cm train-teacher --src train.en --tgt train.de --val-src val.en --val-tgt val.de --out runs/teacher-de

        cl2cm train-teacher --src train.en --tgt train.de --encoder xlm-roberta-base --pooling attention --ot-weight 0.2 --out runs/t

    Multi-GPU: torchrun --nproc_per_node 4 -m cl2cm train-teacher ... (same flags; --batch-size is global).
    After a kill, rerun the same command with --resume.
    """
    options = TeacherOptions(
        text=TextEncoderConfig(encoder=encoder, pooling=pooling, dim=dim, train_layers=train_layers,
                               max_length=max_length, dropout=dropout),
        shared=shared, temperature=temperature, learnable_temperature=learnable_temperature,
        nce_weight=nce_weight, triplet_weight=triplet_weight, margin=margin, ot_weight=ot_weight, ot_eps=ot_eps,
        ot_iters=ot_iters)
    train = TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay, warmup=warmup,
                        schedule=schedule, grad_clip=grad_clip, accum=accum, amp=amp, seed=seed, device=device,
                        patience=patience, max_steps=max_steps, log_every=log_every, num_workers=workers)
    res = train_teacher(src, tgt, out, val_src=val_src, val_tgt=val_tgt, options=options, train=train,
                        fmt=caption_format, max_pairs=max_pairs, max_val=max_val, resume=resume, quiet=quiet)
    if quiet:
        return
    f = res.fit
    table = Table(title=f"train-teacher → {res.out_dir}")
    table.add_column("")
    table.add_column("", justify="right")
    rows = [("pairs", f"{res.pairs:,}"), ("validation pairs", f"{res.val_pairs:,}"),
            ("trainable / all parameters", f"{res.trainable_params:,} / {res.total_params:,}"),
            ("epochs / steps", f"{f.epochs} / {f.steps}"), ("last train loss", _fmt(f.last_loss)),
            ("samples/s", f"{f.samples_per_s:,.0f}")]
    if f.resumed_from is not None:
        rows.append(("resumed after epoch", str(f.resumed_from)))
    if f.best_metric is not None:
        rows.append(("best val R@1+5+10 (tgt→en)", f"{f.best_metric:.1f} (epoch {f.best_epoch})"))
    for key in ("val_r1", "val_r5", "val_r10"):
        if key in f.last_val:
            rows.append((f"last {key}", f"{f.last_val[key]:.1f}"))
    if f.stopped_early:
        rows.append(("stopped early", "yes"))
    for k, v in rows:
        table.add_row(k, v)
    console.print(table)


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.4f}"

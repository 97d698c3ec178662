"""`cl2cm eval`: parse flags, call `cl2cm.retrieval.evaluate.run_eval`, print the metrics table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cl2cm.cli.app import AT_LEAST_1, DeviceOpt, QuietOpt, Range, SeedOpt, app, console
from cl2cm.cli.progress import progress_for
from cl2cm.errors import UserError
from cl2cm.retrieval.evaluate import EvalConfig, run_eval, several_languages
from cl2cm.retrieval.languages import LanguagesEvalResult
from cl2cm.retrieval.metrics import TIE_RULES
from cl2cm.runtime import seed_everything


def parse_ks(spec: str) -> list[int]:
    """`--k 1,5,10,50` → [1, 5, 10, 50]."""
    try:
        ks = [int(x) for x in spec.replace(" ", "").split(",") if x]
    except ValueError as exc:
        raise UserError(f"--k {spec!r}: expected comma-separated positive integers, e.g. 1,5,10") from exc
    if not ks or min(ks) < 1:
        raise UserError(f"--k {spec!r}: expected comma-separated positive integers, e.g. 1,5,10")
    return ks


@app.command("eval")
def eval_cmd(
    query_emb: Annotated[Path | None, typer.Option("--query-emb", help="Query embedding store (its "
                                                   "images.txt gives each query's visual id).")] = None,
    gallery_emb: Annotated[Path | None, typer.Option("--gallery-emb", help="Gallery embedding store.")] = None,
    model: Annotated[Path | None, typer.Option("--model", help="Student dir (with --features) or teacher "
                                               "dir (with --gallery-captions).")] = None,
    captions: Annotated[list[Path] | None, typer.Option("--captions", help="Target-language test captions "
                                                        "(the queries); repeat for several languages: one "
                                                        "section per language code and their mean.")] = None,
    features: Annotated[Path | None, typer.Option("--features", help="Feature store of the test visual "
                                                  "items (the gallery).")] = None,
    gallery_captions: Annotated[Path | None, typer.Option("--gallery-captions", help="English captions: "
                                                          "target→English text retrieval (teacher).")] = None,
    caption_format: Annotated[str | None, typer.Option("--format", help="Caption format of --captions "
                                                       "(default: from the file name).")] = None,
    fuse_translation: Annotated[list[Path] | None, typer.Option("--fuse-translation", help="MT English version "
                                                                "of each query (captions; with stores: an "
                                                                "embedding store): NRCCR's query fusion. With "
                                                                "several --captions: one each, same order, or "
                                                                "LANG=FILE.")] = None,
    fuse_weight: Annotated[float, typer.Option("--fuse-weight", callback=Range(0, 1), help="w in w·native + (1−w)·MT, min-max "
                                               "normalised per query.")] = 0.5,
    k: Annotated[str, typer.Option("--k", help="Recall cut-offs (1,5,10 always included).")] = "1,5,10",
    chunk: Annotated[int | None, typer.Option("--chunk", callback=AT_LEAST_1, help="Query rows per score block (default: a "
                                              "fixed memory budget).")] = None,
    half: Annotated[bool, typer.Option("--half", help="fp16 (CUDA) / bf16 (CPU) scores: faster, coarser; "
                                       "ties then follow --ties.")] = False,
    ties: Annotated[str, typer.Option("--ties", help=f"{' | '.join(TIE_RULES)}: whether a negative scoring "
                                      "exactly the positive's score ranks before it.")] = "pessimistic",
    batch_size: Annotated[int, typer.Option("--batch-size", callback=AT_LEAST_1, help="Captions per encoder batch.")] = 256,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write the metrics JSON here.")] = None,
    ranks: Annotated[Path | None, typer.Option("--ranks", help="Write every query's rank (JSONL).")] = None,
    plot: Annotated[Path | None, typer.Option("--plot", help="Recall@K curves, both directions (PNG; "
                                              "needs matplotlib).")] = None,
    save_embeddings: Annotated[Path | None, typer.Option("--save-embeddings", help="Write DIR/queries and "
                                                         "DIR/gallery embedding stores.")] = None,
    device: DeviceOpt = "auto",
    seed: SeedOpt = 0,
    quiet: QuietOpt = False,
) -> None:
    """Exact recall@K, MedR, MeanR, mAP and SumR in both directions (NRCCR's protocol).

    Examples:

        cl2cm eval --model runs/student --captions test_2016_flickr.de --features runs/feats/test --out m.json

        cl2cm eval --query-emb runs/emb/queries --gallery-emb runs/emb/gallery --ranks ranks.jsonl

        cl2cm eval --model runs/teacher --captions test_2016_flickr.de --gallery-captions test_2016_flickr.en

        cl2cm eval --model runs/student --captions test.de --captions test.fr --features runs/feats/test --out m.json

    t2v ranks each caption's visual item among the gallery; v2t ranks each item's best caption among all
    captions. Ranks are exact (counted, not sorted) in blocks of --chunk query rows on CPU or CUDA.
    """
    seed_everything(seed)
    cfg = EvalConfig(query_emb=query_emb, gallery_emb=gallery_emb, model=model, captions=_one_or_list(captions),
                     features=features, gallery_captions=gallery_captions, caption_format=caption_format,
                     fuse_translation=_one_or_list(fuse_translation), fuse_weight=fuse_weight, ks=parse_ks(k), chunk=chunk,
                     device=device, half=half, ties=ties, batch_size=batch_size, out=out, ranks=ranks, plot=plot,
                     save_embeddings=save_embeddings)
    with progress_for(quiet, transient=True) as progress:
        result = run_eval(cfg, progress=progress)
    if quiet or result.rank != 0:  # under torchrun one table, from rank 0
        return
    if several_languages(cfg):
        console.print(languages_table(result))
        return
    m = result.metrics
    table = Table(title=f"eval ({result.source}): {m['queries']:,} queries × {m['gallery']:,} items, "
                        f"ties {result.ranks.ties}")
    recall_keys = [key for key in m["t2v"] if key.startswith("R@")]
    for col in ["", *recall_keys, "MedR", "MeanR", "mAP"]:
        table.add_column(col, justify="right" if col else "left")
    for direction in ("t2v", "v2t"):
        d = m[direction]
        table.add_row(direction, *(f"{d[key]:.1f}" for key in recall_keys), f"{d['MedR']:.0f}",
                      f"{d['MeanR']:.1f}", f"{d['mAP']:.3f}")
    table.caption = f"SumR {m['SumR']:.1f}" + "".join(f" · {name} → {p}" for name, p in result.written.items())
    console.print(table)


def _one_or_list(paths: list[Path] | None) -> Path | list[Path] | None:
    """One file: today's single-language run (and JSON); several: the per-language run."""
    if not paths:
        return None
    return paths[0] if len(paths) == 1 else paths


def languages_table(result: LanguagesEvalResult) -> Table:
    """One row per language and one for the mean: R@1/5/10 both ways, MedR, SumR."""
    m = result.metrics
    mean = m["mean"]
    table = Table(title=f"eval ({result.source}): {len(mean['languages'])} languages, {mean['queries']:,} "
                        f"queries × {mean['gallery']:,} items")
    table.add_column("lang")
    table.add_column("queries", justify="right")
    for d in ("T→V", "V→T"):
        for k in ("R@1", "R@5", "R@10"):
            table.add_column(f"{d}\n{k}", justify="right")
    table.add_column("T→V\nMedR", justify="right")
    table.add_column("SumR", justify="right")
    for code in [*mean["languages"], "mean"]:
        row = m[code]
        table.add_row(code, f"{row['queries']:,}", *(f"{row[d][k]:.1f}" for d in ("t2v", "v2t")
                                                      for k in ("R@1", "R@5", "R@10")),
                      f"{row['t2v']['MedR']:.1f}", f"{row['SumR']:.1f}")
    table.caption = ("mean: unweighted over languages" +
                     "".join(f" · {name} → {p}" for name, p in result.written.items()))
    return table

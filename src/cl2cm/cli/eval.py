"""`cl2cm eval`: parse flags, call `cl2cm.retrieval.evaluate.run_eval`, print the metrics table."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table

from cl2cm.cli.app import QuietOpt, app, console, err_console, paused_gc
from cl2cm.cli.options import configured
from cl2cm.cli.progress import progress_for
from cl2cm.cli.tables import add_recall_columns, recall_cells
from cl2cm.config.query import EvalConfig

if TYPE_CHECKING:
    from cl2cm.retrieval.evaluate import EvalResult


@app.command("eval")
@configured
def eval_cmd(*, config: EvalConfig, quiet: QuietOpt = False) -> None:
    """Exact recall@K, MedR, MeanR, mAP and SumR in both directions (NRCCR's protocol).

    Examples:

        cl2cm eval --model runs/student --captions test_2016_flickr.de --features runs/feats/test --out m.json

        cl2cm eval --query-emb runs/emb/queries --gallery-emb runs/emb/gallery --ranks ranks.jsonl

        cl2cm eval --model runs/teacher --captions test_2016_flickr.de --gallery-captions test_2016_flickr.en

        cl2cm eval --model runs/student --captions test.de --captions test.fr --features runs/feats/test --out m.json

        cl2cm eval --query-emb runs/emb/queries --gallery-emb runs/emb/gallery --rank-kernel numba

    t2v ranks each caption's visual item among the gallery; v2t ranks each item's best caption among all
    captions. Ranks are exact (counted, not sorted) in blocks of --query-block query rows on CPU or CUDA;
    --rank-kernel numba (pip install numba) counts them in one compiled pass, the same ranks, faster on the CPU.
    """
    with paused_gc():  # imports, model and ranking: ~1 s less of collector passes on the demo
        from cl2cm.retrieval.evaluate import run_eval  # torch only when the command runs
        from cl2cm.runtime import seed_everything

        seed_everything(config.seed)
        with progress_for(quiet, transient=True) as progress:
            result = run_eval(config, progress=progress)
    if result.rank != 0:  # under torchrun one table, from rank 0
        return
    leak = result.leakage
    if leak is not None:  # even under --quiet: it says the numbers are not held-out ones
        err_console.print(f"warning: {leak['message']}", highlight=False, soft_wrap=True)
    if quiet:
        return
    if result.languages:
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
    table.caption = f"SumR {m['SumR']:.1f}" + _written(result)
    console.print(table)


def languages_table(result: EvalResult) -> Table:
    """One row per language and one for the mean: R@1/5/10 both ways, MedR, SumR."""
    m = result.metrics
    mean = m["mean"]
    table = Table(title=f"eval ({result.source}): {len(mean['languages'])} languages, {mean['queries']:,} "
                        f"queries × {mean['gallery']:,} items")
    table.add_column("lang")
    table.add_column("queries", justify="right")
    add_recall_columns(table)
    table.add_column("T→V\nMedR", justify="right")
    table.add_column("SumR", justify="right")
    for code in [*mean["languages"], "mean"]:
        row = m[code]
        table.add_row(code, f"{row['queries']:,}", *recall_cells(row), f"{row['t2v']['MedR']:.1f}",
                      f"{row['SumR']:.1f}")
    table.caption = "mean: unweighted over languages" + _written(result)
    return table


def _written(result: EvalResult) -> str:
    return "".join(f" · {name} → {p}" for name, p in result.written.items())

"""`cl2cm translate`: English captions → pseudo-parallel pairs (`OUT/<lang>.jsonl` + manifest)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from cl2cm.cli.app import QuietOpt, app, console
from cl2cm.cli.options import configured
from cl2cm.cli.progress import progress_for
from cl2cm.config.stages import TranslateConfig

if TYPE_CHECKING:
    from cl2cm.translation.runner import TranslateResult


@app.command("translate")
@configured
def translate_cmd(
    captions: Annotated[Path, typer.Argument(help="Caption corpus (JSONL, Multi30K <split>.en, NRCCR, TSV, "
                                                  "CSV/Parquet).", show_default=False)],
    *,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory.", show_default=False)],
    config: TranslateConfig,
    quiet: QuietOpt = False,
) -> None:
    """Machine-translate English captions into pseudo-parallel pairs, resumably.

    Example:

        cl2cm translate multi30k/train.en --to de --to fr --model facebook/nllb-200-distilled-600M --out runs/mt

    Writes OUT/<lang>.jsonl (id, image, lang, text = translation, source =
    English [, back]) and OUT/manifest.json (last). Each distinct sentence
    is translated once, longest first, in token-budget batches. Finished
    chunks survive any kill: rerun the same command to continue. Sources
    longer than the model's maximum keep their first tokens and are
    counted as truncated. --backend lexicon is the demo's word-by-word
    dictionary (--model WORLD/lexicon.json): it is not a general MT system.
    """
    from cl2cm.translation.runner import translate_corpus  # torch only when the command runs

    with progress_for(quiet) as progress:
        result = translate_corpus(captions, out, config, progress=progress)
    if not quiet:
        console.print(summary_table(result))


def summary_table(r: TranslateResult) -> Table:
    table = Table(title=f"translate → {r.out_dir} ({r.status})")
    for name in ("lang", "rows", "distinct", "truncated", "translated now", "time", "sent/s"):
        table.add_column(name, justify="left" if name == "lang" else "right")
    for s in r.languages:
        table.add_row(s.lang, f"{s.rows:,}", f"{s.distinct:,}", f"{s.truncated:,}", f"{s.translated:,}",
                      f"{s.seconds:.1f} s", f"{s.speed:,.0f}" if s.translated else "—")
    notes = [f"total {r.seconds:.1f} s"]
    if r.status == "shard done":
        notes.append(f"{r.missing_chunks} chunk(s) left to other shards; the last shard to finish merges")
    table.caption = "; ".join(notes)
    return table

"""`cl2cm translate`: English captions → pseudo-parallel pairs (`OUT/<lang>.jsonl` + manifest)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cl2cm.cli.app import AT_LEAST_1, DeviceOpt, QuietOpt, Range, SeedOpt, app, console
from cl2cm.cli.progress import progress_for
from cl2cm.translate.runner import TranslateConfig, TranslateResult, translate_corpus


@app.command("translate")
def translate_cmd(
    captions: Annotated[Path, typer.Argument(help="Caption corpus (JSONL, Multi30K <split>.en, NRCCR, TSV, "
                                                  "CSV/Parquet).", show_default=False)],
    to: Annotated[list[str], typer.Option("--to", help="Target language (repeatable): de, fr, cs, zh, uk, ...",
                                          show_default=False)],
    model: Annotated[str, typer.Option("--model", help="HF model name or local dir (hf, ct2); the lexicon "
                                                       "JSON file (lexicon).", show_default=False)],
    out: Annotated[Path, typer.Option("--out", help="Output directory.", show_default=False)],
    backend: Annotated[str, typer.Option("--backend", help="hf (transformers) | ct2 (CTranslate2, pip install "
                                                           "ctranslate2) | lexicon (demo dictionary: NOT a "
                                                           "general MT system).")] = "hf",
    source_lang: Annotated[str, typer.Option("--from", help="Source language of the captions.")] = "en",
    back_translate: Annotated[bool, typer.Option("--back-translate", help="Also write `back`: the translation "
                                                                          "translated back (needs --back-model).")
                              ] = False,
    back_model: Annotated[str | None, typer.Option("--back-model", help="Model translating the targets back "
                                                                        "into the source language.")] = None,
    beams: Annotated[int, typer.Option("--beams", callback=AT_LEAST_1, help="Beam size (1 = greedy, fastest).")] = 1,
    max_tokens: Annotated[int, typer.Option("--max-tokens", callback=AT_LEAST_1, help="Padded source tokens per batch.")] = 8192,
    max_batch: Annotated[int, typer.Option("--max-batch", callback=AT_LEAST_1, help="At most this many sentences per batch.")] = 512,
    chunk_size: Annotated[int, typer.Option("--chunk-size", callback=AT_LEAST_1, help="Distinct sentences per committed chunk "
                                                                 "(the unit of resume and sharding).")] = 2048,
    shard: Annotated[str | None, typer.Option("--shard", help="i/n: translate only shard i of n (0-based); "
                                                              "the last shard to finish merges.")] = None,
    noise: Annotated[float | None, typer.Option("--noise", callback=Range(0, 1), help="lexicon backend only: fraction of words "
                                                                "corrupted like MT errors (default 0.15).")
                     ] = None,
    fmt: Annotated[str | None, typer.Option("--format", help="Caption format (default: from the file name).")
                   ] = None,
    lang: Annotated[str | None, typer.Option("--lang", help="Language of the input captions, if the format "
                                                            "does not say.")] = None,
    images: Annotated[Path | None, typer.Option("--images", help="Multi30K image-name list (default: "
                                                                 "<split>.txt beside the captions).")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace output made by another model, input "
                                                                "or options.")] = False,
    device: DeviceOpt = "auto",
    seed: SeedOpt = 0,
    quiet: QuietOpt = False,
) -> None:
    """Machine-translate English captions into pseudo-parallel pairs, resumably.

    Example:

        cl2cm translate multi30k/train.en --to de --to fr
        --model facebook/nllb-200-distilled-600M --out runs/mt

    Writes OUT/<lang>.jsonl (id, image, lang, text = translation, source =
    English [, back]) and OUT/manifest.json (last). Each distinct sentence
    is translated once, longest first, in token-budget batches. Finished
    chunks survive any kill: rerun the same command to continue. Sources
    longer than the model's maximum keep their first tokens and are
    counted as truncated. --backend lexicon is the demo's word-by-word
    dictionary (--model WORLD/lexicon.json): it is not a general MT system.
    """
    cfg = TranslateConfig(
        targets=list(to), model=model, backend=backend, source_lang=source_lang, back_translate=back_translate,
        back_model=back_model, beams=beams, max_tokens=max_tokens, max_batch=max_batch, chunk_size=chunk_size,
        shard=shard, overwrite=overwrite, device=device, seed=seed, noise=noise, fmt=fmt, lang=lang,
        images=str(images) if images else None,
    )
    with progress_for(quiet) as progress:
        result = translate_corpus(captions, out, cfg, progress=progress)
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

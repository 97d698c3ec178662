"""Translate a caption corpus into pseudo-parallel pairs: fast, shardable, and never losing work.

Speed comes from scheduling, not from the engine: each distinct English sentence is translated once; the
distinct sentences are sorted by source length (longest first, so an out-of-memory shows at once) and cut
into batches by a padded-token budget (`--max-tokens`), so batches hold little padding and decoding stops
early. Safety comes from the artifact layer: the sorted order is cut into fixed chunks, each committed
atomically as it completes (`ChunkedRun`), so a rerun after any kill skips finished chunks; `--shard i/n`
runs take disjoint chunks; whoever finds every chunk done merges `<lang>.jsonl` files and writes the
manifest last. Memory does not grow with the corpus: it streams into an on-disk index
(`cl2cm.translation.corpus.CorpusIndex`) that does the deduplication, the global length order and the
input-order merge, so a run holds one window of records, one chunk of sentences or one output row at a time.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cl2cm.artifacts.captions import write_captions
from cl2cm.artifacts.chunks import ChunkJob, ChunkPlan
from cl2cm.artifacts.io import remove_stale_temps
from cl2cm.artifacts.lock import output_lock
from cl2cm.artifacts.manifest import (
    MANIFEST_NAME,
    Manifest,
    checksum_inputs,
    read_manifest,
    remove_manifest,
    write_manifest,
)
from cl2cm.config import check_fields
from cl2cm.config.stages import TranslateConfig  # noqa: F401  (the config's home)
from cl2cm.distributed import StageRanks, stage_ranks
from cl2cm.errors import UserError
from cl2cm.progress import Progress, reporter
from cl2cm.runtime import resolve_device, seed_everything
from cl2cm.translation.base import (
    LENGTH_EXTRA,
    LENGTH_RATIO,
    TRANSLATION_BACKENDS,
    Backend,
    BackendOptions,
    load_backend,
    model_identity,
)
from cl2cm.translation.corpus import CorpusIndex

KIND = "translations"


@dataclass
class LangStats:
    lang: str
    rows: int
    distinct: int
    truncated: int
    translated: int = 0  # distinct sentences translated by this run (0 when resumed from finished chunks)
    seconds: float = 0.0
    file: str = ""

    @property
    def speed(self) -> float:
        return self.translated / self.seconds if self.seconds > 0 else 0.0


@dataclass
class TranslateResult:
    out_dir: Path
    status: str  # "complete", "already complete", "shard done"
    languages: list[LangStats] = field(default_factory=list)
    seconds: float = 0.0
    missing_chunks: int = 0


# ------------------------------------------------------------------------------------------------ batching
def token_batches(lengths: list[int], max_tokens: int, max_batch: int) -> Iterator[range]:
    """Consecutive batches whose padded size (rows × longest) stays within `max_tokens`.

    `lengths` should be sorted; a sentence longer than the budget still gets a batch of its own.
    """
    start, longest = 0, 0
    for i, n in enumerate(lengths):
        longest_with = max(longest, n)
        size = i - start
        if size and (size + 1 > max_batch or (size + 1) * longest_with > max_tokens):
            yield range(start, i)
            start, longest_with = i, n
        longest = longest_with
    if start < len(lengths):
        yield range(start, len(lengths))


def length_order(lengths: list[int]) -> list[int]:
    """Indices longest first, ties in first-seen order: deterministic, so chunks mean the same on rerun."""
    return sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))


def translate_sorted(backend: Backend, texts: list[str], lengths: list[int], src: str, tgt: str,
                     max_tokens: int, max_batch: int) -> list[str]:
    """Translate texts already sorted by `lengths`, batch by batch."""
    out: list[str] = []
    for b in token_batches(lengths, max_tokens, max_batch):
        out += backend.translate(texts[b.start: b.stop], src, tgt)
    return out


def translate_texts(backend: Backend, texts: list[str], src: str, tgt: str, *, max_tokens: int = 8192,
                    max_batch: int = 512) -> list[str]:
    """Dedupe, sort, batch, translate, and put back in input order (for callers without chunking)."""
    distinct = list(dict.fromkeys(texts))
    lengths = [min(n, backend.max_source_tokens) for n in backend.count_tokens(distinct, src, tgt)]
    order = length_order(lengths)
    done = translate_sorted(backend, [distinct[i] for i in order], [lengths[i] for i in order], src, tgt,
                            max_tokens, max_batch)
    by_text = {distinct[i]: t for i, t in zip(order, done, strict=True)}
    return [by_text[t] for t in texts]


# ----------------------------------------------------------------------------------------------- the stage
def _validate(cfg: TranslateConfig) -> None:
    if not cfg.targets:
        raise UserError("--to: give at least one target language, e.g. --to de")
    if len(set(cfg.targets)) != len(cfg.targets):
        raise UserError(f"--to: repeated language in {cfg.targets}")
    for t in cfg.targets:
        if not t or "/" in t or t.startswith(".") or t == cfg.source_lang:
            raise UserError(f"--to {t!r}: not a target language code (source is {cfg.source_lang!r})")
    if cfg.backend not in TRANSLATION_BACKENDS:
        raise UserError(f"--backend {cfg.backend!r}: expected one of {', '.join(TRANSLATION_BACKENDS)}")
    check_fields(cfg)
    if cfg.noise is not None and cfg.backend != "lexicon":
        raise UserError("--noise applies to --backend lexicon only")
    if cfg.back_translate and not cfg.back_model:
        raise UserError("--back-translate needs --back-model (a model translating the targets back into "
                        f"{cfg.source_lang!r})")


def _noise(cfg: TranslateConfig) -> float | None:
    from cl2cm.translation.lexicon import DEFAULT_NOISE

    if cfg.backend != "lexicon":
        return None
    return DEFAULT_NOISE if cfg.noise is None else cfg.noise


def _run_key(cfg: TranslateConfig, digest: str, n_distinct: int) -> dict[str, Any]:
    """What the output depends on; a rerun with another key is another run (refused without --overwrite)."""
    return {
        "kind": KIND, "backend": cfg.backend, "model": model_identity(cfg.model),
        "back_model": model_identity(cfg.back_model) if cfg.back_translate and cfg.back_model else None,
        "source_lang": cfg.source_lang, "targets": sorted(cfg.targets), "beams": cfg.beams,
        "length_policy": [LENGTH_RATIO, LENGTH_EXTRA], "noise": _noise(cfg),
        "seed": cfg.seed if cfg.backend == "lexicon" else None,
        "input": digest, "distinct": n_distinct,
    }


def _chunk_key(key: dict[str, Any], tgt: str, chunk_size: int) -> dict[str, Any]:
    """A language's parts: independent of the other --to languages; tied to the chunk size (chunk i's
    meaning depends on it), which the finished output is not."""
    return {**{k: v for k, v in key.items() if k != "targets"}, "lang": tgt, "chunk_size": chunk_size}


def _existing(out: Path, key: dict[str, Any], overwrite: bool) -> Manifest | None:
    """The manifest already in `out`; refuse one of another run unless --overwrite (read-only check)."""
    if not (out / MANIFEST_NAME).exists():
        return None
    try:
        old = read_manifest(out)
    except UserError:
        if not overwrite:
            raise
        return Manifest(kind="unreadable")
    if old.kind == KIND and old.extra.get("key") == key:
        return old
    if not overwrite:
        what = f"a {old.kind!r} artifact" if old.kind != KIND else f"translations made by {old.model.get('name')!r}"
        raise UserError(f"holds {what} from another model, input or options; pass --overwrite to replace it",
                        path=out)
    return old


def _uncommit(out: Path, old: Manifest) -> None:
    """--overwrite: remove the old manifest first (so a crash never leaves a 'complete' mix), then its files."""
    with output_lock(out):
        remove_manifest(out)
        for lang in old.extra.get("languages", {}) if old.kind == KIND else {}:
            (out / f"{lang}.jsonl").unlink(missing_ok=True)


@dataclass
class _Lang:
    """One target language's plan: its chunks (ranges of positions in the corpus index's length order of
    the distinct sentences) and its statistics."""

    tgt: str
    chunks: ChunkPlan
    stats: LangStats


def translate_corpus(captions: str | Path, out_dir: str | Path, cfg: TranslateConfig, *,
                     progress: Progress | None = None) -> TranslateResult:
    """The `cl2cm translate` stage: captions → `OUT/<lang>.jsonl` per target + `OUT/manifest.json`."""
    t0 = time.perf_counter()
    _validate(cfg)
    launch = stage_ranks(cfg.shard)  # --shard i/n, or torchrun's RANK of WORLD_SIZE
    device = launch.device(resolve_device(cfg.device))
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise UserError("exists and is not a directory", path=out)
    with CorpusIndex.scan(captions, source_lang=cfg.source_lang, fmt=cfg.fmt, lang=cfg.lang,
                          images=cfg.images) as corpus:
        return _translate_indexed(captions, corpus, out, cfg, launch, device, t0, progress)


def _translate_indexed(captions: str | Path, corpus: CorpusIndex, out: Path, cfg: TranslateConfig,
                       launch: StageRanks, device: Any, t0: float, progress: Progress | None) -> TranslateResult:
    key = _run_key(cfg, corpus.digest, corpus.distinct)
    seed_everything(cfg.seed)
    old = _existing(out, key, cfg.overwrite)
    if old is not None and old.extra.get("key") == key:
        stats = [LangStats(lang, **{k: v for k, v in info.items() if k in ("rows", "distinct", "truncated", "file")})
                 for lang, info in old.extra["languages"].items()]
        with suppress(UserError), output_lock(out):  # a live writer: it cleans up itself
            _cleanup(out, cfg.targets)
            remove_stale_temps(out)  # the lock is ours: any temp file is a killed merge's leftover
        return TranslateResult(out, "already complete", stats, time.perf_counter() - t0)

    # Load and check everything that can fail on user input before touching the output directory.
    backend, back = _load_backends(cfg, device, out)
    if old is not None and launch.is_main:  # torchrun: rank 0, before the other ranks open the parts
        _uncommit(out, old)
    with ChunkJob(out, launch.shard, collective=launch.collective) as job:
        langs = [_plan_language(job, backend, cfg, key, tgt, corpus) for tgt in cfg.targets]
        job.planned()
        bar = reporter(progress)
        for lang in langs:
            _translate_chunks(lang, backend, back, cfg, corpus, bar)
        stats = [lang.stats for lang in langs]
        if not job.claim_merge():
            return TranslateResult(out, "shard done", stats, time.perf_counter() - t0, job.missing())
        if (out / MANIFEST_NAME).exists() and read_manifest(out).extra.get("key") == key:
            return TranslateResult(out, "already complete", stats, time.perf_counter() - t0)
        remove_stale_temps(out)  # we hold OUT's lock: temp files here are the leftovers of a killed merge
        _merge(out, captions, cfg, key, corpus, langs)
    _cleanup(out, cfg.targets)
    return TranslateResult(out, "complete", stats, time.perf_counter() - t0)


def _load_backends(cfg: TranslateConfig, device: Any, out: Path) -> tuple[Backend, Backend | None]:
    """The forward (and back-translation) backends, with every language pair checked."""
    opts = BackendOptions(device=device, beams=cfg.beams, seed=cfg.seed, noise=cfg.noise,
                          work_dir=str(out / ".parts"))
    backend = load_backend(cfg.backend, cfg.model, opts)
    back = load_backend(cfg.backend, cfg.back_model, opts) if cfg.back_translate and cfg.back_model else None
    for tgt in cfg.targets:
        backend.check_pair(cfg.source_lang, tgt)
        if back is not None:
            back.check_pair(tgt, cfg.source_lang)
    return backend, back


def _plan_language(job: ChunkJob, backend: Backend, cfg: TranslateConfig, key: dict[str, Any], tgt: str,
                   corpus: CorpusIndex) -> _Lang:
    truncated = corpus.plan(tgt, lambda texts: backend.count_tokens(texts, cfg.source_lang, tgt),
                            backend.max_source_tokens)
    chunks = job.plan(tgt, _chunk_key(key, tgt, cfg.chunk_size), corpus.distinct, cfg.chunk_size,
                      overwrite=cfg.overwrite)
    stats = LangStats(tgt, rows=corpus.records, distinct=corpus.distinct, truncated=truncated, file=f"{tgt}.jsonl")
    return _Lang(tgt, chunks, stats)


def _translate_chunks(lang: _Lang, backend: Backend, back: Backend | None, cfg: TranslateConfig,
                      corpus: CorpusIndex, bar: Progress) -> None:
    """This shard's pending chunks of one language, each committed as soon as it is translated."""
    task = bar.task(f"{cfg.source_lang}→{lang.tgt}", total=lang.chunks.todo_items, unit="sent")
    for c in lang.chunks.todo:
        t_chunk = time.perf_counter()
        sentences = corpus.sentences(lang.tgt, lang.chunks.ranges[c])
        texts = [text for text, _, _ in sentences]
        done = translate_sorted(backend, texts, [n for _, _, n in sentences], cfg.source_lang, lang.tgt,
                                cfg.max_tokens, cfg.max_batch)
        backs = (translate_texts(back, done, lang.tgt, cfg.source_lang, max_tokens=cfg.max_tokens,
                                 max_batch=cfg.max_batch) if back is not None else None)
        rows = []
        for k, (text, raw, _) in enumerate(sentences):
            row: dict[str, Any] = {"src": text, "text": done[k]}
            if backs is not None:
                row["back"] = backs[k]
            if raw > backend.max_source_tokens:
                row["truncated"] = True
            rows.append(row)
        lang.chunks.run.write_rows(c, rows)
        lang.stats.translated += len(sentences)
        lang.stats.seconds += time.perf_counter() - t_chunk
        task.advance(len(sentences))
    task.close()


def _merge(out: Path, captions: str | Path, cfg: TranslateConfig, key: dict[str, Any], corpus: CorpusIndex,
           langs: list[_Lang]) -> None:
    """Every chunk is committed: write `<lang>.jsonl` in the input's order, then the manifest, last. The
    chunks go into the corpus index one at a time and the rows stream out of it: memory holds one chunk."""
    languages = {}
    for lang in langs:
        run = lang.chunks.run
        have = 0
        for c in range(len(lang.chunks.ranges)):
            have = corpus.add_translations(lang.tgt, run.read_rows(c))
        if have != corpus.distinct:
            raise UserError(f"parts of {lang.tgt!r} hold {have} of {corpus.distinct} sentences; "
                            "rerun with --overwrite", path=run.dir)
        write_captions(out / lang.stats.file, (_output_row(cap_id, image, text, lang.tgt, part, run.dir)
                                               for cap_id, image, text, part in corpus.joined(lang.tgt)))
        languages[lang.tgt] = {k: v for k, v in asdict(lang.stats).items()
                               if k in ("rows", "distinct", "truncated", "file")}
    inputs = {"captions": captions, **({"images": cfg.images} if cfg.images else {})}
    write_manifest(out, Manifest(
        kind=KIND, rows=corpus.records,
        model={**model_identity(cfg.model), "backend": cfg.backend,
               "back_model": cfg.back_model if cfg.back_translate else None},
        inputs=checksum_inputs(inputs),
        extra={"key": key, "source_lang": cfg.source_lang, "languages": languages,
               "options": {"beams": cfg.beams, "max_tokens": cfg.max_tokens, "chunk_size": cfg.chunk_size,
                           "noise": _noise(cfg), "seed": cfg.seed,
                           "length_policy": f"max_new_tokens = min(max, ceil({LENGTH_RATIO}*n)+{LENGTH_EXTRA})",
                           "truncation": "sources longer than the model maximum keep their first tokens"}}))


def _output_row(cap_id: str, image: str, text: str, tgt: str, part: dict[str, Any] | None,
                parts_dir: Path) -> dict[str, Any]:
    if part is None:
        raise UserError(f"parts of {tgt!r} lack the translation of {cap_id!r}; rerun with --overwrite",
                        path=parts_dir)
    row: dict[str, Any] = {"id": cap_id, "image": image, "lang": tgt, "text": part["text"], "source": text}
    if "back" in part:
        row["back"] = part["back"]
    if part.get("truncated"):
        row["truncated"] = True
    return row


def _cleanup(out: Path, targets: list[str]) -> None:
    """Drop the parts once the manifest is committed (also after a kill between the two)."""
    parts = out / ".parts"
    if not parts.exists():
        return
    for tgt in targets:
        shutil.rmtree(parts / tgt, ignore_errors=True)
    shutil.rmtree(parts / "ct2-model", ignore_errors=True)
    for d in parts.glob(".shard-*"):
        if d.is_dir() and not any(d.iterdir()):
            d.rmdir()
    if not any(parts.iterdir()):
        parts.rmdir()

"""`extract-features`: the loop that turns images (or frame folders) into a frozen-feature store.

Work is cut into fixed chunks of the listing; each encoded chunk is committed to the parts directory
(cl2cm.artifacts.chunks) and a rerun skips committed chunks, so a kill loses at most one chunk and the
merged store is the same as an uninterrupted run's. Shards own disjoint chunks; whoever finds every
chunk committed merges. Undecodable inputs are recorded per chunk and end up in skipped.jsonl.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from cl2cm.artifacts.chunks import ChunkedRun, ChunkJob, ChunkPlan
from cl2cm.artifacts.io import (
    atomic_open,
    remove_stale_temps,
    removed_if_left_empty,
    sha256_file,
)
from cl2cm.artifacts.manifest import MANIFEST_NAME, Manifest, read_manifest, remove_manifest
from cl2cm.artifacts.store import save_store_from_parts
from cl2cm.config import check_fields
from cl2cm.config.stages import DEFAULT_MAX_PIXELS, DEFAULT_WORKERS, ExtractConfig, default_workers  # noqa: F401
from cl2cm.distributed import stage_ranks
from cl2cm.errors import UserError
from cl2cm.features.append import GROW_DIR, append_features, listing_hash
from cl2cm.features.datasets import (
    DECODE_MODES,
    ImageDataset,
    Item,
    collate,
    detect_input_kind,
    list_images,
    list_videos,
)
from cl2cm.features.encoders import ENCODER_BACKENDS, VisualEncoder, load_encoder
from cl2cm.features.loader import make_loader
from cl2cm.progress import Progress, reporter
from cl2cm.runtime import resolve_device, seed_everything

PARTS_NAME = "features"
SKIPS_NAME = "features-skipped"
SKIPPED_FILE = "skipped.jsonl"




@dataclass
class ExtractResult:
    """What a run did; `merged` is False while other shards still have chunks to do."""

    out: Path
    items: int
    encoded: int = 0
    skipped: int = 0
    rows: int | None = None
    store_skipped: int | None = None
    chunks_total: int = 0
    chunks_run: int = 0
    chunks_reused: int = 0
    chunks_waiting: int = 0
    merged: bool = False
    seconds: float = 0.0
    loop_seconds: float = 0.0
    dim: int = 0
    shapes: dict[str, list[int]] = field(default_factory=dict)
    status: str = "complete"  # "already complete": the same command found its finished store (nothing done)
    added: int = 0  # --append: rows added to / dropped from the store, and its version after the run
    removed: int = 0
    version: int | None = None

    @property
    def images_per_s(self) -> float:
        """Throughput of the decode + encode loop (model loading and merging excluded)."""
        return (self.encoded + self.skipped) / self.loop_seconds if self.loop_seconds > 0 else 0.0


def _validate(cfg: ExtractConfig) -> None:
    check_fields(cfg)
    if cfg.decode not in DECODE_MODES:
        raise UserError(f"--decode {cfg.decode!r}: expected one of {', '.join(DECODE_MODES)}")
    if cfg.backend not in ENCODER_BACKENDS:
        raise UserError(f"--backend {cfg.backend!r}: expected one of {', '.join(ENCODER_BACKENDS)}")


def _list(source: Path, cfg: ExtractConfig) -> list[Item]:
    if cfg.frames is not None:
        return list_videos(source, root=cfg.root)
    return list_images(source, root=cfg.root, kind=cfg.input_kind)


def extract_features(source: str | Path, out: str | Path, cfg: ExtractConfig | None = None, *,
                     on_chunk: Callable[[int], None] | None = None,
                     progress: Progress | None = None, items: list[Item] | None = None) -> ExtractResult:
    """Extract (this shard's part of) a feature store into `out`; merge when every chunk is done.

    `on_chunk(index)` is called after each committed chunk (tests that interrupt a run). `items` replaces
    the listing of `source` (`--append` extracts only the new ones). With `cfg.append` a finished store in
    `out` is grown instead of refused (`cl2cm.features.append`).
    """
    t0 = time.perf_counter()
    cfg = cfg or ExtractConfig()
    _validate(cfg)
    source, out = Path(source), Path(out)
    items = _list(source, cfg) if items is None else items
    if cfg.append and cfg.overwrite:
        raise UserError("--append and --overwrite: pick one (grow the store, or extract it again)")
    if cfg.append and cfg.shard is not None:
        raise UserError("--append: not with --shard (the new items are few; extract them in one process)")
    if cfg.append and ((out / MANIFEST_NAME).exists() or (out / GROW_DIR / "merged" / MANIFEST_NAME).exists()) \
            and not (out / ".parts" / PARTS_NAME).exists():
        return append_features(source, out, cfg, items, extract=extract_features, result_type=ExtractResult,
                               progress=progress)
    launch = stage_ranks(cfg.shard)  # --shard i/n, or torchrun's RANK of WORLD_SIZE
    shard = launch.shard
    device = launch.device(resolve_device(cfg.device))
    seed_everything(cfg.seed)
    if out.exists() and not out.is_dir():
        raise UserError("exists and is not a directory", path=out)
    with removed_if_left_empty(out), ChunkJob(out, shard, collective=launch.collective) as job:
        encoder = load_encoder(cfg.model, cfg.pretrained, backend=cfg.backend, device=device, tokens=cfg.tokens,
                               seed=cfg.seed, allow_pickle=cfg.allow_pickle)
        listing = listing_hash(items)
        key = {"model": encoder.info, "preprocessing": encoder.preprocessing, "listing": listing,
               "items": len(items), "chunk_size": cfg.chunk_size, "tokens": cfg.tokens, "frames": cfg.frames,
               "normalize": cfg.normalize, "max_pixels": cfg.max_pixels}
        if cfg.decode != "draft":  # absent for the default: stores written before --decode still resume
            key["decode"] = cfg.decode
        if (out / MANIFEST_NAME).exists() and not (out / ".parts" / PARTS_NAME).exists() and not cfg.overwrite:
            finished = _finished(out, key)
            if finished is None:
                raise UserError("already holds a finished store of another model, input or options; pass "
                                "--overwrite to replace it", path=out)
            if not job.sharded or (job.collective and job.is_main):
                remove_stale_temps(out)  # we hold the lock: any temp file here is a killed run's leftover
            return ExtractResult(out=out, items=len(items), rows=finished.rows, merged=True, dim=encoder.dim,
                                 status="already complete", seconds=time.perf_counter() - t0,
                                 store_skipped=int(finished.extra.get("skipped", 0)),
                                 shapes={"features": list(finished.extra.get("shape", []))})
        plan = job.plan(PARTS_NAME, key, len(items), cfg.chunk_size, overwrite=cfg.overwrite)
        skips = ChunkedRun(out, SKIPS_NAME, key, overwrite=cfg.overwrite)
        job.planned()  # torchrun: the other ranks open the parts rank 0 has (re)set
        result = ExtractResult(out=out, items=len(items), chunks_total=len(plan.ranges),
                               chunks_reused=len(plan.ranges[shard[0]::shard[1]]) - len(plan.todo), dim=encoder.dim)
        if plan.todo:
            t_loop = time.perf_counter()
            _encode_chunks(cfg, encoder, items, plan, skips, result, device, on_chunk, reporter(progress))
            result.loop_seconds = time.perf_counter() - t_loop
        result.chunks_waiting = job.missing()
        if job.claim_merge():
            if plan.run.dir.exists():  # else another shard merged already
                remove_stale_temps(out)  # the lock is ours: temp files here are a killed merge's leftovers
                _merge(source, out, cfg, encoder, items, plan, skips, result)
            result.merged = True
    result.seconds = time.perf_counter() - t0
    return result


def _finished(out: Path, key: dict) -> Manifest | None:
    """The finished store's manifest when the same command (same model, listing, options) made it."""
    try:
        manifest = read_manifest(out, kind="features")
    except UserError:
        return None
    same = manifest.extra.get("key") == json.loads(json.dumps(key, sort_keys=True, default=str))
    return manifest if same else None


def _encode_chunks(cfg: ExtractConfig, encoder: VisualEncoder, items: list[Item], plan: ChunkPlan,
                   skips: ChunkedRun, result: ExtractResult, device: torch.device,
                   on_chunk: Callable[[int], None] | None, bar: Progress) -> None:
    """One loader over this shard's pending chunks; a chunk is committed once its last batch is encoded."""
    ranges, pending, run = plan.ranges, plan.todo, plan.run
    dataset = ImageDataset(items, encoder.transform, target=encoder.image_size, max_pixels=cfg.max_pixels,
                           decode=cfg.decode,
                           frames=cfg.frames)
    loader = make_loader(dataset, [ranges[c] for c in pending], batch_size=cfg.batch_size,
                         workers=cfg.workers, device=device)
    chunk_of = {i: c for c in pending for i in ranges[c]}
    buf: dict[int, dict[str, list]] = {c: {"index": [], "features": [], "tokens": [], "mask": [], "skipped": [],
                                           "seen": [0]} for c in pending}
    task = bar.task("extract-features", total=plan.todo_items, unit="img")
    for batch in loader:
        first = batch["index"][0].item() if len(batch["index"]) else batch["failed"][0][0]
        c = chunk_of[first]
        b = buf[c]
        for i, reason in batch["failed"]:
            path = str(items[i].paths[0])
            if cfg.strict:
                raise UserError(f"--strict: {reason}", path=path)
            b["skipped"].append({"id": items[i].id, "path": path, "reason": reason})
        n_batch = len(batch["index"]) + len(batch["failed"])
        if batch["pixels"] is not None:
            feats, tokens, mask = _encode(encoder, batch["pixels"], batch["count"], cfg.normalize)
            b["index"].append(batch["index"])
            b["features"].append(feats)
            if tokens is not None:
                b["tokens"].append(tokens)
            if mask is not None:
                b["mask"].append(mask)
        b["seen"][0] += n_batch
        result.encoded += len(batch["index"])
        result.skipped += len(batch["failed"])
        task.advance(n_batch)
        if b["seen"][0] == len(ranges[c]):
            _commit(run, skips, c, buf.pop(c), encoder, cfg)
            result.chunks_run += 1
            if on_chunk is not None:
                on_chunk(c)
    task.close()


def _encode(encoder: VisualEncoder, pixels: torch.Tensor, count: torch.Tensor, normalize: bool
            ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """Pooled (L2-normalised unless --no-normalize) and token features, fp16 on CPU."""
    video = pixels.dim() == 5
    flat = pixels.flatten(0, 1) if video else pixels
    pooled, tokens = encoder.encode(flat)
    if normalize:
        pooled = F.normalize(pooled, dim=-1)
    mask = None
    if video:
        b, k = pixels.shape[:2]
        pooled = pooled.view(b, k, -1)
        tokens = tokens.view(b, k, *tokens.shape[1:]) if tokens is not None else None
        mask = torch.arange(k).unsqueeze(0) < count.unsqueeze(1)
        pooled = pooled * mask.to(pooled.device).unsqueeze(-1)
        if tokens is not None:
            tokens = tokens * mask.to(tokens.device).view(b, k, 1, 1)
    return (pooled.half().cpu(), tokens.half().cpu() if tokens is not None else None, mask)


def encode_image_files(encoder: VisualEncoder, paths: list[str | Path], *, normalize: bool = True,
                       max_pixels: int = DEFAULT_MAX_PIXELS, batch_size: int = 64
                       ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Image files → (pooled [N, D], patch tokens [N, T, W] or None), fp16 as a store holds them.

    The same decoding, preprocessing and normalisation as `extract_features`, so the rows equal what an
    extraction of the same files stores. An unusable file is a UserError naming it (no row is dropped).
    """
    items = [Item(id=str(p), paths=(Path(p),)) for p in paths]
    dataset = ImageDataset(items, encoder.transform, target=encoder.image_size, max_pixels=max_pixels)
    pooled: list[torch.Tensor] = []
    tokens: list[torch.Tensor] = []
    for start in range(0, len(items), batch_size):
        batch = collate([dataset[i] for i in range(start, min(start + batch_size, len(items)))])
        for i, reason in batch["failed"]:
            raise UserError(f"unusable image ({reason})", path=items[i].paths[0])
        feats, tok, _ = _encode(encoder, batch["pixels"], batch["count"], normalize)
        pooled.append(feats)
        if tok is not None:
            tokens.append(tok)
    empty = torch.zeros(0, encoder.dim, dtype=torch.half)
    return (torch.cat(pooled) if pooled else empty), (torch.cat(tokens) if tokens else None)


def _commit(run: ChunkedRun, skips: ChunkedRun, c: int, b: dict[str, list], encoder: VisualEncoder,
            cfg: ExtractConfig) -> None:
    """Skips first, tensors last: the tensors file is what marks the chunk done."""
    skips.write_rows(c, b["skipped"])
    k = () if cfg.frames is None else (cfg.frames,)
    tensors = {
        "index": torch.cat(b["index"]) if b["index"] else torch.zeros(0, dtype=torch.long),
        "features": torch.cat(b["features"]) if b["features"] else torch.zeros(0, *k, encoder.dim, dtype=torch.half),
    }
    if cfg.tokens:
        tensors["tokens"] = (torch.cat(b["tokens"]) if b["tokens"] else
                             torch.zeros(0, *k, encoder.preprocessing.get("tokens", 0), encoder.token_width or 0,
                                         dtype=torch.half))
    if cfg.frames is not None:
        tensors["mask"] = torch.cat(b["mask"]) if b["mask"] else torch.zeros(0, cfg.frames, dtype=torch.bool)
    run.write_tensors(c, tensors)


def _merge(source: Path, out: Path, cfg: ExtractConfig, encoder: VisualEncoder, items: list[Item],
           plan: ChunkPlan, skips: ChunkedRun, result: ExtractResult) -> None:
    """Concatenate the chunks in listing order into the store; skipped.jsonl, then the manifest, last."""
    ranges, run = plan.ranges, plan.run
    # Only the row indices are read here; the feature tensors are streamed chunk by chunk into the store
    # (save_store_from_parts), so the merge's memory does not grow with the number of images.
    index = torch.cat([run.read_tensor(c, "index") for c in range(len(ranges))]).tolist()
    skipped: list[dict] = [row for c in range(len(ranges)) for row in skips.read_rows(c)]
    if not index:  # a store of nothing is never what the user meant (typically a wrong --root)
        first = skipped[0] if skipped else {"id": "?", "reason": "?"}
        run.cleanup()  # parts that only record skips: a rerun (a fixed --root, a mounted disk) starts afresh
        skips.cleanup()
        raise UserError(f"no usable image: all {len(items)} listed items were skipped (first: {first['id']}: "
                        f"{first['reason']}); check --root", path=source)
    remove_manifest(out)
    with atomic_open(out / SKIPPED_FILE) as fh:
        for row in skipped:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    kind = "frames" if cfg.frames is not None else (cfg.input_kind if cfg.input_kind != "auto"
                                                       else detect_input_kind(source))
    inputs = {str(source): sha256_file(source) if source.is_file() else
              "listing:" + run.key["listing"]}
    manifest = Manifest(kind="features", model=dict(encoder.info), inputs=inputs, extra={
        "normalized": cfg.normalize, "normalization": "L2 over the last dim of `features`" if cfg.normalize
        else "none", "tokens": "patch tokens after ln_post, not projected, not normalised" if cfg.tokens else None,
        "frames": cfg.frames, "input_kind": kind, "root": str(cfg.root) if cfg.root else None,
        "preprocessing": encoder.preprocessing, "count": len(index), "skipped": len(skipped),
        "listed": len(items), "max_pixels": cfg.max_pixels, "key": run.key, "encoder": encoder.source,
        "version": 1,  # +1 per `--append` that changes the rows (serve reloads on a new manifest)
    })
    names = ["features", *(["mask"] if cfg.frames is not None else []), *(["tokens"] if cfg.tokens else [])]
    result.shapes = save_store_from_parts(out, [run.tensors_path(c) for c in range(len(ranges))], names,
                                          [items[i].id for i in index], manifest)
    run.cleanup()
    skips.cleanup()
    result.rows, result.store_skipped = len(index), len(skipped)

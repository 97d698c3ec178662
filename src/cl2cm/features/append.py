"""`extract-features --append`: grow a finished store with the new files under its input, without re-reading
the old ones.

The listing is the truth. Items whose id is already in the store (or in its skipped.jsonl) are kept as
stored and never opened again; listed items with a new id are extracted; stored ids that are no longer
listed (their file was removed) are dropped, and the result counts them. A file changed in place keeps its
old row: pass --overwrite to extract everything again.

Steps, each resumable: (1) the new items are extracted into ``OUT/.grow/new`` by the ordinary chunked
extraction (a kill loses at most one chunk); (2) old rows minus the dropped ones + the new rows are written
as a complete store into ``OUT/.grow/merged`` (manifest last); (3) that store's files are renamed into OUT,
its manifest last, after OUT's manifest is removed, so a reader sees the old store, no store, or the new
one, never a mix. A rerun after a kill in (3) finishes the renames. The manifest's ``extra.version`` counts
the changes: 1 for a fresh extraction, +1 per append that added or dropped rows.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from cl2cm.artifacts.io import atomic_open, iter_lines, sha256_text
from cl2cm.artifacts.lock import output_lock
from cl2cm.artifacts.manifest import MANIFEST_NAME, Manifest, read_manifest, remove_manifest
from cl2cm.artifacts.store import load_store, save_store
from cl2cm.errors import UserError
from cl2cm.features.datasets import Item
from cl2cm.progress import Progress

GROW_DIR = ".grow"
SKIPPED_FILE = "skipped.jsonl"
STORE_FILES = ("features.safetensors", "ids.txt", "images.txt", SKIPPED_FILE)  # renamed in; manifest last


def listing_hash(items: list[Item]) -> str:
    """The fingerprint of a listing that a store's manifest key records (ids and their file paths)."""
    return sha256_text("\n".join(f"{it.id}\t{'|'.join(map(str, it.paths))}" for it in items))


def _skipped_rows(out: Path) -> list[dict]:
    path = out / SKIPPED_FILE
    return [json.loads(line) for line in iter_lines(path) if line.strip()] if path.exists() else []


def _commit(out: Path, merged: Path) -> None:
    """Rename the merged store's files into `out`: its manifest is removed first and replaced last."""
    remove_manifest(out)
    for name in STORE_FILES:
        if (merged / name).exists():
            os.replace(merged / name, out / name)
        elif name == "images.txt":
            (out / name).unlink(missing_ok=True)
    os.replace(merged / MANIFEST_NAME, out / MANIFEST_NAME)


def _check_same_options(manifest: Manifest, cfg: Any, out: Path) -> None:
    """The new rows must be made as the old ones were: same frames, tokens, normalisation, pixel limit."""
    key = manifest.extra.get("key") or {}
    for name, flag, want in (("frames", "--frames", cfg.frames), ("tokens", "--tokens", cfg.tokens),
                             ("normalize", "--normalize", cfg.normalize), ("max_pixels", "--max-pixels",
                                                                            cfg.max_pixels)):
        if name in key and key[name] != want:
            raise UserError(f"--append: {flag} {want!r}, but the store was extracted with {key[name]!r}; use "
                            "the store's options (or --overwrite to rebuild it)", path=out)
    decode = getattr(cfg, "decode", "draft")
    if key.get("decode", "draft") != decode:  # the key records --decode only when it is not the default
        raise UserError(f"--append: --decode {decode!r}, but the store was extracted with "
                        f"{key.get('decode', 'draft')!r}; use the store's options", path=out)
    if key and key.get("decode", "draft") != cfg.decode:  # the key holds --decode only when not the default
        raise UserError(f"--append: --decode {cfg.decode!r}, but the store was extracted with "
                        f"{key.get('decode', 'draft')!r}; use the store's options (or --overwrite to rebuild it)",
                        path=out)


def append_features(source: Path, out: Path, cfg: Any, items: list[Item], *, extract: Callable[..., Any],
                    result_type: Callable[..., Any], progress: Progress | None = None) -> Any:
    """Grow the finished store in `out` by the new items of `items` (the listing of `source`).

    `cfg` is the run's `ExtractConfig`; `extract` and `result_type` are `extract_features` and
    `ExtractResult`, passed in by that module (which imports this one)."""
    t0 = time.perf_counter()
    grow = out / GROW_DIR
    with output_lock(out):
        if (grow / "merged" / MANIFEST_NAME).exists():  # killed while renaming: finish it
            _commit(out, grow / "merged")
        manifest = read_manifest(out, kind="features")
        _check_same_options(manifest, cfg, out)
        store = load_store(out, kind="features", dtype=None)
        skipped = _skipped_rows(out)
        listed = {it.id for it in items}
        known = set(store.ids) | {row["id"] for row in skipped}
        new = [it for it in items if it.id not in known]
        keep = [i for i, item in enumerate(store.ids) if item in listed]
        removed = len(store) - len(keep)
        result = result_type(out=out, items=len(items), rows=len(store), merged=True, dim=store.dim,
                               store_skipped=len(skipped), shapes={"features": list(store.features.shape)})
        if not new and not removed:
            shutil.rmtree(grow, ignore_errors=True)
            result.status = "up to date"
            result.seconds = time.perf_counter() - t0
            return result
        feats, mask, extra = store.features[keep], None if store.mask is None else store.mask[keep], \
            {name: t[keep] for name, t in store.extra.items()}
        ids = [store.ids[i] for i in keep]
        new_skipped: list[dict] = []
        if new:
            sub_cfg = replace(cfg, append=False, overwrite=False, shard=None)
            sub = extract(source, grow / "new", sub_cfg, progress=progress, items=new)
            added = load_store(grow / "new", kind="features", dtype=None)
            if added.manifest is None or added.manifest.model != manifest.model:
                raise UserError(f"--append: the new rows would come from visual model "
                                f"{added.manifest.model if added.manifest else None!r}, the store holds "
                                f"{manifest.model!r}; use the store's --model/--pretrained", path=out)
            feats = torch.cat([feats, added.features.to(feats.dtype)])
            mask = None if mask is None or added.mask is None else torch.cat([mask, added.mask])
            extra = {name: torch.cat([t, added.extra[name].to(t.dtype)]) for name, t in extra.items()}
            ids += added.ids
            new_skipped = _skipped_rows(grow / "new")
            result.encoded, result.skipped = sub.encoded, sub.skipped
            result.chunks_run, result.chunks_reused, result.chunks_total = (sub.chunks_run, sub.chunks_reused,
                                                                            sub.chunks_total)
            result.loop_seconds = sub.loop_seconds
        all_skipped = [row for row in skipped if row["id"] in listed] + new_skipped
        extra_info = dict(manifest.extra)
        for name in ("dim", "shape", "dtype"):  # recomputed for the new rows by save_store
            extra_info.pop(name, None)
        key = dict(extra_info.get("key") or {})
        key.update(listing=listing_hash(items), items=len(items))
        extra_info.update(version=int(manifest.extra.get("version", 1)) + 1, key=key, count=len(ids),
                          skipped=len(all_skipped), listed=len(items),
                          last_append={"added": len(ids) - len(keep), "removed": removed,
                                       "skipped": len(new_skipped)})
        merged = grow / "merged"
        shutil.rmtree(merged, ignore_errors=True)  # a merge killed before its manifest: redo it
        merged.mkdir(parents=True)
        with atomic_open(merged / SKIPPED_FILE) as fh:
            for row in all_skipped:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        save_store(merged, feats, ids, Manifest(kind="features", model=manifest.model, inputs=manifest.inputs,
                                                extra=extra_info), mask=mask, extra=extra)  # manifest last
        _commit(out, merged)
        shutil.rmtree(grow, ignore_errors=True)
    result.rows, result.store_skipped = len(ids), len(all_skipped)
    result.shapes = {"features": list(feats.shape)}
    result.added, result.removed, result.version = len(ids) - len(keep), removed, extra_info["version"]
    result.status = "appended"
    result.seconds = time.perf_counter() - t0
    return result

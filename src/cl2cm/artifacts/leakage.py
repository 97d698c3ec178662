"""Test-set leakage guard: what a model was trained on, recorded at training time and checked at eval.

Scoring a model on images it was trained on inflates every recall, and it happens silently (a gallery
store that is, or shares images with, the training store; Multilingual-CLIP's XTD numbers were affected).
`distill` records its training store in the student's directory: the store manifest's checksum and row
count in `manifest.json` (`extra.training_store`), and in `training-items.safetensors` the sorted 64-bit
hashes of its ids and, where the store knows its image root, of its image paths (root/id, resolved).
Hashes keep the file small (8 bytes an image) and membership exact up to a 2^-64 collision.

`eval` (and `cl2cm.evaluate`) compares its gallery store with that record and reports an overlap in the
metrics (`"leakage"`), which the CLI prints as one warning line. A model without the record (a teacher,
an older student) is not checked.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import torch

from cl2cm.artifacts.io import sha256_text
from cl2cm.artifacts.manifest import MANIFEST_NAME, checksum_inputs, read_manifest
from cl2cm.artifacts.store import EmbeddingStore, load_safetensors, save_safetensors

TRAINING_ITEMS = "training-items.safetensors"
IDS_FILE = "ids.txt"  # the store's row ids (`cl2cm.artifacts.store`)


def _hash64(values: list[str]) -> torch.Tensor:
    """Sorted unique signed 64-bit blake2b hashes of the strings."""
    ints = {int.from_bytes(hashlib.blake2b(v.encode("utf-8"), digest_size=8).digest(), "big", signed=True)
            for v in values}
    return torch.tensor(sorted(ints), dtype=torch.int64)


def _image_paths(store: EmbeddingStore) -> list[str] | None:
    """The resolved image path of every row, where the store's manifest names its image root."""
    extra = store.manifest.extra if store.manifest is not None else {}
    root = extra.get("root")
    if not root:
        return None
    base = Path(root).resolve()
    return [str(base / i) for i in store.ids]


def store_items(store: EmbeddingStore) -> dict[str, torch.Tensor]:
    """{"ids": hashes[, "images": hashes]} of a store's rows."""
    items = {"ids": _hash64(list(store.ids))}
    paths = _image_paths(store)
    if paths is not None:
        items["images"] = _hash64(paths)
    return items


def store_checksum(path: str | Path) -> str:
    """sha256 over the store's manifest and ids (its identity: two stores with the same manifest text, as
    `save_store` can write within one second, still differ by their ids)."""
    return sha256_text("".join(checksum_inputs([Path(path) / MANIFEST_NAME, Path(path) / IDS_FILE]).values()))


def training_record(store: EmbeddingStore, path: str | Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """(the manifest entry, the tensors of `TRAINING_ITEMS`) describing a training store."""
    items = store_items(store)
    entry = {"checksum": store_checksum(path), "rows": len(store.ids), "file": TRAINING_ITEMS,
             "keys": sorted(items)}
    return entry, items


def write_training_items(directory: str | Path, items: dict[str, torch.Tensor]) -> None:
    """Write `TRAINING_ITEMS` into a model directory (before its manifest: the manifest commits it)."""
    save_safetensors(Path(directory) / TRAINING_ITEMS, items)


def check_overlap(model_dir: str | Path | None, gallery: EmbeddingStore, gallery_path: str | Path
                  ) -> dict[str, Any] | None:
    """The gallery's overlap with the model's training store, or None (no overlap, or nothing recorded).

    The result names how it was found ("store": the very training store, by checksum; "ids"; "images"),
    how many gallery rows overlap, and a one-line message.
    """
    if model_dir is None or not (Path(model_dir) / MANIFEST_NAME).exists():
        return None
    record = read_manifest(model_dir).extra.get("training_store")
    if not record:
        return None
    n = len(gallery.ids)
    if record.get("checksum") == store_checksum(gallery_path):
        found = {"by": "store", "overlap": n}
    else:
        path = Path(model_dir) / record.get("file", TRAINING_ITEMS)
        if not path.exists():
            return None
        trained = load_safetensors(path)
        found = {}
        for key, hashes in store_items(gallery).items():
            if key in trained:
                hit = int(torch.isin(hashes, trained[key]).sum())
                if hit and hit > found.get("overlap", 0):
                    found = {"by": key, "overlap": hit}
        if not found:
            return None
    how = {"store": "is the model's training store (same checksum)",
           "ids": f"shares {found['overlap']:,} of {n:,} image ids with the model's training store",
           "images": f"shares {found['overlap']:,} of {n:,} image files with the model's training store"}
    return {**found, "gallery": n, "training_rows": record.get("rows"),
            "message": f"test-set leakage: the gallery {gallery_path} {how[found['by']]}; its recall is not a "
                       "held-out result"}

"""The artifact layer every stage reads and writes: captions, embedding stores, manifests, atomic writes.

The names below are loaded on first use (PEP 562), so that importing one light module of the package
(`cl2cm.artifacts.manifest`, as `cl2cm --help` does) does not import torch through the store.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Caption": "captions", "pair_by_id": "captions", "read_captions": "captions", "write_captions": "captions",
    "ChunkedRun": "chunks", "parse_shard": "chunks",
    "atomic_open": "io", "atomic_write_json": "io", "atomic_write_text": "io", "sha256_file": "io",
    "output_lock": "lock",
    "Manifest": "manifest", "checksum_inputs": "manifest", "read_manifest": "manifest", "write_manifest": "manifest",
    "EmbeddingStore": "store", "load_safetensors": "store", "load_store": "store", "save_safetensors": "store",
    "save_store": "store",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'cl2cm.artifacts' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"cl2cm.artifacts.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value

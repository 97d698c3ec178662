"""The artifact layer every stage reads and writes: captions, embedding stores, manifests, atomic writes."""

from cl2cm.artifacts.captions import Caption, pair_by_id, read_captions, write_captions
from cl2cm.artifacts.chunks import ChunkedRun, parse_shard
from cl2cm.artifacts.io import atomic_open, atomic_write_json, atomic_write_text, sha256_file
from cl2cm.artifacts.lock import output_lock
from cl2cm.artifacts.manifest import Manifest, checksum_inputs, read_manifest, write_manifest
from cl2cm.artifacts.store import EmbeddingStore, load_safetensors, load_store, save_safetensors, save_store

__all__ = [
    "Caption", "ChunkedRun", "EmbeddingStore", "Manifest", "atomic_open", "atomic_write_json",
    "atomic_write_text", "checksum_inputs", "load_safetensors", "load_store", "output_lock", "pair_by_id",
    "parse_shard", "read_captions", "read_manifest", "save_safetensors", "save_store", "sha256_file",
    "write_captions", "write_manifest",
]

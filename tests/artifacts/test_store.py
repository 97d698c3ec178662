"""Embedding stores, manifests, atomic writes, locks and resumable chunks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from cl2cm.artifacts.chunks import ChunkedRun, chunk_ranges, my_chunks, parse_shard
from cl2cm.artifacts.io import atomic_open, atomic_write_text, read_lines, sha256_file
from cl2cm.artifacts.lock import LOCK_NAME, output_lock
from cl2cm.artifacts.manifest import Manifest, checksum_inputs, read_manifest, write_manifest
from cl2cm.artifacts.store import load_store, save_store
from cl2cm.errors import UserError


def _store(tmp_path: Path, n: int = 4, d: int = 8, **model: str) -> Path:
    feats = torch.randn(n, d)
    save_store(tmp_path / "s", feats.half(), [f"{i}.jpg" for i in range(n)],
               Manifest(kind="features", model=model or {"name": "tiny"}))
    return tmp_path / "s"


def test_store_roundtrip_and_manifest(tmp_path: Path) -> None:
    d = _store(tmp_path)
    store = load_store(d, kind="features", expect_dim=8, expect_model={"name": "tiny"})
    assert store.features.dtype == torch.float32 and store.features.shape == (4, 8)
    assert store.ids == ["0.jpg", "1.jpg", "2.jpg", "3.jpg"] and store.images is None
    m = json.loads((d / "manifest.json").read_text())
    assert m["kind"] == "features" and m["rows"] == 4 and m["extra"]["dim"] == 8
    assert m["schema_version"] == 1 and "command" in m and "cl2cm_version" in m


def test_store_mismatches_are_user_errors(tmp_path: Path) -> None:
    d = _store(tmp_path)
    with pytest.raises(UserError, match="dimension 8, the model expects 16"):
        load_store(d, expect_dim=16, flag="--features")
    with pytest.raises(UserError, match="made with name='tiny', expected 'ViT-B-32'"):
        load_store(d, expect_model={"name": "ViT-B-32"})
    with pytest.raises(UserError, match="is a 'features' artifact, expected embeddings"):
        load_store(d, kind="embeddings")


def test_truncated_safetensors_is_a_clear_error(tmp_path: Path) -> None:
    d = _store(tmp_path)
    data = (d / "features.safetensors").read_bytes()
    (d / "features.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match="corrupt or truncated safetensors"):
        load_store(d)


def test_unfinished_store_without_manifest_is_refused(tmp_path: Path) -> None:
    d = _store(tmp_path)
    (d / "manifest.json").unlink()
    with pytest.raises(UserError, match="no manifest.json"):
        load_store(d)


def test_row_count_mismatch_detected(tmp_path: Path) -> None:
    d = _store(tmp_path)
    (d / "ids.txt").write_text("0.jpg\n")
    with pytest.raises(UserError, match="ids.txt: checksum mismatch with manifest.json"):
        load_store(d)
    manifest = json.loads((d / "manifest.json").read_text())
    del manifest["files"]  # as an artifact written before checksums: the row count still catches it
    (d / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(UserError, match="inconsistent store"):
        load_store(d)


def test_manifest_schema_version_checked(tmp_path: Path) -> None:
    write_manifest(tmp_path, Manifest(kind="x"))
    data = json.loads((tmp_path / "manifest.json").read_text())
    data["schema_version"] = 99
    (tmp_path / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(UserError, match="schema version 99"):
        read_manifest(tmp_path)


def test_checksums_identify_content(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("hello")
    (tmp_path / "b.txt").write_text("hello")
    sums = checksum_inputs([tmp_path / "a.txt", tmp_path / "b.txt"])
    assert len(set(sums.values())) == 1 and sha256_file(tmp_path / "a.txt") == next(iter(sums.values()))


def test_atomic_write_keeps_old_file_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "f.txt"
    atomic_write_text(target, "old\n")
    with pytest.raises(RuntimeError), atomic_open(target) as fh:
        fh.write("new partial")
        raise RuntimeError("disk full")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]  # no temp file left behind


def test_atomic_write_survives_sigkill(tmp_path: Path) -> None:
    target = tmp_path / "f.txt"
    atomic_write_text(target, "old\n")
    code = (
        "import os, signal\n"
        "from cl2cm.artifacts.io import atomic_open\n"
        f"with atomic_open({str(target)!r}) as fh:\n"
        "    fh.write('x' * 100000); fh.flush(); os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], check=False)
    assert proc.returncode == -9
    assert target.read_text() == "old\n"


def test_read_lines_rejects_invalid_utf8_with_line(tmp_path: Path) -> None:
    (tmp_path / "ids.txt").write_bytes(b"a\nb\n\xff\n")
    with pytest.raises(UserError, match=r"ids.txt:3: invalid UTF-8"):
        read_lines(tmp_path / "ids.txt")


def test_lock_refuses_second_run_and_takes_over_stale(tmp_path: Path) -> None:
    with output_lock(tmp_path / "out"), pytest.raises(UserError, match="in use by another cl2cm run"), \
            output_lock(tmp_path / "out"):
        pass
    assert not (tmp_path / "out" / LOCK_NAME).exists()
    # A lock left by a dead process on this host is stale.
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    import socket

    (tmp_path / "out" / LOCK_NAME).write_text(json.dumps({"pid": int(dead.stdout), "host": socket.gethostname()}))
    with output_lock(tmp_path / "out") as lock:
        assert json.loads(lock.read_text())["pid"] == os.getpid()


def test_lock_on_unwritable_dir_is_user_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    def read_only(*args: object, **kwargs: object) -> int:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(os, "open", read_only)  # root ignores chmod, so simulate a read-only filesystem
    with pytest.raises(UserError, match="cannot write to output directory"), output_lock(tmp_path / "out"):
        pass


def test_chunked_run_resume_and_key_mismatch(tmp_path: Path) -> None:
    run = ChunkedRun(tmp_path, "de", {"model": "a", "input": "x"})
    run.write_rows(0, [{"id": "a#0", "text": "eins"}])
    run.write_tensors(2, {"f": torch.ones(2, 3)})
    again = ChunkedRun(tmp_path, "de", {"model": "a", "input": "x"})
    assert again.done() == {0, 2}
    assert again.read_rows(0) == [{"id": "a#0", "text": "eins"}]
    assert torch.equal(again.read_tensors(2)["f"], torch.ones(2, 3))
    with pytest.raises(UserError, match="different run .*model"):
        ChunkedRun(tmp_path, "de", {"model": "b", "input": "x"})
    fresh = ChunkedRun(tmp_path, "de", {"model": "b", "input": "x"}, overwrite=True)
    assert fresh.done() == set()
    fresh.cleanup()
    assert not (tmp_path / ".parts").exists()


def test_shards_partition_chunks() -> None:
    assert parse_shard("1/3") == (1, 3) and parse_shard(None) == (0, 1)
    for bad in ("3/3", "a/b", "1/0", "-1/2"):
        with pytest.raises(UserError, match="--shard"):
            parse_shard(bad)
    owned = [my_chunks(10, (i, 3)) for i in range(3)]
    assert sorted(c for o in owned for c in o) == list(range(10))
    assert [len(r) for r in chunk_ranges(10, 4)] == [4, 4, 2]


def test_the_same_tensors_and_metadata_give_the_same_bytes(tmp_path: Path) -> None:
    """safetensors' writer orders metadata keys at random (a Rust HashMap): a model's file (format + digest)
    came out two ways, about one save in two. Twelve saves must now be one file, loadable and self-checking."""
    from safetensors import safe_open

    from cl2cm.artifacts.store import load_safetensors, save_safetensors

    tensors = {"w": torch.arange(6.0).reshape(2, 3), "h": torch.ones(4, dtype=torch.bfloat16)}
    path = tmp_path / "m.safetensors"
    seen = set()
    for _ in range(12):
        save_safetensors(path, tensors, metadata={"format": "pt", "zé": "ü", "a": "1"})
        seen.add(path.read_bytes())
    assert len(seen) == 1
    assert all(torch.equal(load_safetensors(path)[k], v) for k, v in tensors.items())
    raw = path.read_bytes()
    header = json.loads(raw[8:8 + int.from_bytes(raw[:8], "little")])
    assert list(header["__metadata__"]) == sorted(header["__metadata__"])  # the file's own order
    with safe_open(str(path), "pt") as fh:
        assert fh.metadata()["zé"] == "ü"

"""Disk full, file too large, read-only output: one clear line, the previous artifact intact, nothing torn.

Each case first puts a finished artifact (a copy of the stage's reference run) in OUT, then reruns the
stage over it (`--overwrite`, or a fresh training run) under the fault:

* ``enospc``: OUT is a real tmpfs with room for the old artifact plus 4 pages (`mount -t tmpfs -o
  size=...`), so the rerun's writes fail with ENOSPC part-way; afterwards the tmpfs is grown ("the user frees space") and the same command completes.
* ``efbig``: the subprocess runs under `RLIMIT_FSIZE` with SIGXFSZ ignored, so a large write fails with
  EFBIG (portable: no mount needed).
* ``erofs``: the tmpfs is remounted read-only (root ignores chmod, so no permission trick would do).

Asserted every time: exit status 1 or 2 and one stderr line ``cl2cm: error: ...`` (no traceback); OUT
either still holds the old artifact, byte for byte, under its manifest, or has no manifest (every reader
then refuses it with 'no manifest'); no temporary file beside the artifact files; no lock left behind.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import resource
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from hardening_helpers import STAGES, World, cl2cm, run_main

from cl2cm.artifacts.captions import read_captions
from cl2cm.artifacts.manifest import read_manifest
from cl2cm.artifacts.store import load_store
from cl2cm.errors import UserError
from cl2cm.models import load_model

ARTIFACT_FILES = {
    "translate": ("de.jsonl",),
    "extract-features": ("features.safetensors", "ids.txt", "skipped.jsonl"),
    "train-teacher": ("model.safetensors", "config.json", "tokenizer.json"),
    "distill": ("model.safetensors", "config.json", "tokenizer.json"),
}
# How the rerun replaces the finished artifact. translate keeps a complete output made with the same options
# (a no-op rerun), so its rerun asks for other options; the others recompute the very same artifact.
OVERWRITE = {"translate": ["--noise", "0.3", "--overwrite"], "extract-features": ["--overwrite"],
             "train-teacher": [], "distill": []}
# RLIMIT_FSIZE per stage: below the size of a file the rerun must write (the merged store is 7.7 kB).
EFBIG_LIMIT = {"translate": 8192, "extract-features": 4096, "train-teacher": 8192, "distill": 8192}
SPARE_PAGES = 4  # free tmpfs pages beyond the old artifact: the rerun runs out of space part-way


def tmpfs_size(src: Path) -> str:
    """Room for a copy of `src` (tmpfs counts whole pages per file and directory) plus a few spare pages."""
    pages = sum(-(-p.stat().st_size // 4096) if p.is_file() else 1 for p in src.rglob("*")) + 1
    return f"{(pages + SPARE_PAGES) * 4}k"


@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    path.mkdir(parents=True, exist_ok=True)
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
    if res.returncode:
        message = f"cannot mount a tmpfs here: {res.stderr.decode().strip()}"
        if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes"):
            pytest.fail(f"{message}; CI runs as root and must exercise the disk faults")  # never a silent skip
        pytest.skip(message)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def remount(path: Path, opts: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{opts}", str(path)], check=True)


def snapshot(stage: str, out: Path) -> dict[str, bytes]:
    return {name: (out / name).read_bytes() for name in (*ARTIFACT_FILES[stage], "manifest.json")}


def read_back(stage: str, out: Path) -> None:
    """Open OUT the way the next stage would (raises UserError if it is not a finished artifact)."""
    if stage == "translate":
        read_manifest(out, kind="translations")
        read_captions(out / "de.jsonl")
    elif stage == "extract-features":
        load_store(out, kind="features")
    else:
        load_model(out)


def assert_clean_failure(stage: str, out: Path, before: dict[str, bytes], code: int, err: str, needle: str) -> None:
    assert code in (1, 2), err
    assert "Traceback" not in err and err.count("\n") == 1 and err.startswith("cl2cm: error:"), err
    assert needle in err and str(out) in err, err  # names the file (or directory) at fault
    assert not list(out.glob("*.tmp")) and not (out / ".cl2cm.lock").exists()
    state = "old artifact kept" if (out / "manifest.json").exists() else "uncommitted (no manifest)"
    print(f"\nFAULT {stage} {needle!r}: exit {code}, {state}: {err.strip()[:160]}")
    if (out / "manifest.json").exists():  # still committed: must be the old artifact, untouched
        assert snapshot(stage, out) == before
        read_back(stage, out)
    else:  # un-committed: a reader refuses it instead of taking a torn file for a good one
        with pytest.raises(UserError, match="no manifest"):
            read_back(stage, out)


def _rerun_completes(stage: str, world: World, out: Path, argv: list[str]) -> None:
    """After the fault is gone, the same command finishes and gives the reference artifact."""
    assert run_main(argv) == 0
    read_back(stage, out)
    if stage == "translate":  # other options than the reference: a complete, readable, different artifact
        assert (out / "de.jsonl").read_bytes() != (world.ref / stage / "de.jsonl").read_bytes()
        assert len(read_captions(out / "de.jsonl")) == 120
        return
    ref = world.ref / stage
    for name in ARTIFACT_FILES[stage]:
        if name.endswith(".safetensors") and stage in ("train-teacher", "distill"):
            from safetensors.torch import load_file

            a, b = load_file(str(out / name)), load_file(str(ref / name))
            assert all(torch.equal(a[k], b[k]) for k in b) and a.keys() == b.keys()
        elif name == "tokenizer.json":  # its runtime truncation/padding state depends on the token cache
            a, b = (json.loads((d / name).read_text()) for d in (out, ref))
            assert {k: v for k, v in a.items() if k not in ("truncation", "padding")} == \
                {k: v for k, v in b.items() if k not in ("truncation", "padding")}
        else:
            assert (out / name).read_bytes() == (ref / name).read_bytes(), name


def _enospc(stage: str, world: World, tmp_path: Path) -> None:
    with tmpfs(tmp_path / "mnt", tmpfs_size(world.ref / stage)) as mnt:
        out = mnt / "out"
        shutil.copytree(world.ref / stage, out)
        before = snapshot(stage, out)
        argv = world.argv(stage, out) + OVERWRITE[stage]
        res = cl2cm(argv)
        assert_clean_failure(stage, out, before, res.returncode, res.stderr, "No space left on device")
        remount(mnt, "size=16m")
        _rerun_completes(stage, world, out, argv)


def _efbig(stage: str, world: World, tmp_path: Path) -> None:
    out = tmp_path / "out"
    shutil.copytree(world.ref / stage, out)
    before = snapshot(stage, out)
    limit = EFBIG_LIMIT[stage]

    def limit_writes() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    argv = world.argv(stage, out) + OVERWRITE[stage]
    res = cl2cm(argv, preexec=limit_writes)
    assert_clean_failure(stage, out, before, res.returncode, res.stderr, "File too large")
    _rerun_completes(stage, world, out, argv)


def _erofs(stage: str, world: World, tmp_path: Path) -> None:
    with tmpfs(tmp_path / "mnt", "16m") as mnt:
        out = mnt / "out"
        shutil.copytree(world.ref / stage, out)
        before = snapshot(stage, out)
        remount(mnt, "ro")
        argv = world.argv(stage, out) + OVERWRITE[stage]
        res = cl2cm(argv)
        assert_clean_failure(stage, out, before, res.returncode, res.stderr, "Read-only file system")
        assert (out / "manifest.json").exists()  # nothing could be touched
        remount(mnt, "rw")
        _rerun_completes(stage, world, out, argv)


FAULTS = {"enospc": _enospc, "efbig": _efbig, "erofs": _erofs}
# Default suite: every fault and every stage once; the rest of the matrix is slow.
DEFAULT = {("extract-features", "enospc"), ("translate", "efbig"), ("train-teacher", "enospc"),
           ("distill", "erofs")}


@pytest.mark.parametrize(("stage", "fault"), [
    pytest.param(s, f, marks=() if (s, f) in DEFAULT else pytest.mark.slow) for s in STAGES for f in FAULTS])
def test_fault_leaves_the_previous_artifact_or_none(stage: str, fault: str, world: World, tmp_path: Path) -> None:
    FAULTS[fault](stage, world, tmp_path)


def test_safetensors_disk_full_is_an_oserror_and_leaves_no_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    """The Rust safetensors writer reports ENOSPC as SafetensorError; it must reach the CLI as an OSError."""
    from safetensors import SafetensorError

    import cl2cm.artifacts.store as store

    def full_disk(tensors: dict, filename: str, metadata: object = None) -> None:
        Path(filename).write_bytes(b"\0" * 100)  # a torn temp file
        raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")

    (tmp_path / "x.safetensors").write_bytes(b"old")
    monkeypatch.setattr(store, "save_file", full_disk)
    with pytest.raises(OSError) as exc:
        store.save_safetensors(tmp_path / "x.safetensors", {"a": torch.zeros(3)})
    assert exc.value.errno == errno.ENOSPC and exc.value.filename == str(tmp_path / "x.safetensors")
    assert sorted(os.listdir(tmp_path)) == ["x.safetensors"] and (tmp_path / "x.safetensors").read_bytes() == b"old"


def test_a_disk_full_before_the_run_starts(world: World, tmp_path: Path) -> None:
    """No room even for the lock's owner line: one line naming OUT, exit 1, and no lock file left behind
    (a leftover lock once refused the immediate rerun); once space is freed the same command completes."""
    with tmpfs(tmp_path / "mnt", "64k") as mnt:
        out = mnt / "out"
        out.mkdir()
        with open(mnt / "filler", "wb", buffering=0) as fh, contextlib.suppress(OSError):  # fill every page
            while True:
                fh.write(b"\0" * 4096)
        argv = world.argv("translate", out) + OVERWRITE["translate"]
        res = cl2cm(argv)
        assert res.returncode == 1 and res.stderr.count("\n") == 1, res.stderr
        assert res.stderr.startswith(f"cl2cm: error: {out}: No space left on device"), res.stderr
        assert sorted(p.name for p in out.iterdir()) == []  # no lock, nothing half-written
        (mnt / "filler").unlink()
        remount(mnt, "size=16m")
        _rerun_completes("translate", world, out, argv)
        assert not (out / ".cl2cm.lock").exists()


def test_output_lock_never_outlives_a_failed_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The owner line cannot be written: an OSError naming the directory, the lock released and removed."""
    import builtins

    import cl2cm.artifacts.lock as lock_module

    def full(path: object, *args: object, **kwargs: object) -> object:
        if str(path).endswith(lock_module.LOCK_NAME):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return builtins.open(path, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(lock_module, "open", full, raising=False)
    with pytest.raises(OSError) as exc, lock_module.output_lock(tmp_path / "out"):
        pass
    assert exc.value.errno == errno.ENOSPC and exc.value.filename == str(tmp_path / "out")
    assert os.listdir(tmp_path / "out") == []
    monkeypatch.undo()
    with lock_module.output_lock(tmp_path / "out"):  # an immediate rerun is not refused
        pass

"""The commands as a user runs them: one-line errors with exit 2, a summary, resume after SIGKILL."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cl2cm.artifacts.store import load_store
from cl2cm.cli import main
from cl2cm.features.bigfile import write_bigfile
from cl2cm.testhook import paused


def cl2cm(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cl2cm", *args], capture_output=True, text=True, timeout=timeout)


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """The real entry point (`cl2cm.cli.main`) in-process: exit code, stdout, stderr."""
    with pytest.raises(SystemExit) as exc:
        main(list(args))
        raise SystemExit(0)
    out = capsys.readouterr()
    return int(exc.value.code or 0), out.out, out.err


def _one_line_error(code: int, err: str, needle: str) -> None:
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, err
    assert lines[0].startswith("cl2cm: error:") and needle in lines[0], err


def test_missing_input_exits_2_with_one_line(tmp_path: Path) -> None:
    proc = cl2cm("extract-features", str(tmp_path / "missing"), "--out", str(tmp_path / "o"), "--pretrained", "none")
    _one_line_error(proc.returncode, proc.stderr, "missing")


def test_user_mistakes_are_one_line_exit_2(tmp_path: Path, tiny_clip_config: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "x.jpg").write_bytes(b"x")
    out = str(tmp_path / "o")
    _one_line_error(*run_main(capsys, "extract-features", str(tmp_path), "--out", out, "--model", "ViT-Nope-99",
                              "--pretrained", "none")[::2], "--model")
    _one_line_error(*run_main(capsys, "extract-features", str(tmp_path), "--out", out, "--model",
                              str(tiny_clip_config), "--pretrained", "no-such-tag")[::2], "--pretrained")
    _one_line_error(*run_main(capsys, "extract-features", str(tmp_path), "--out", out, "--model",
                              str(tiny_clip_config), "--pretrained", "none", "--shard", "3/2")[::2], "--shard")
    _one_line_error(*run_main(capsys, "extract-features", str(tmp_path), "--out", out, "--model",
                              str(tiny_clip_config), "--pretrained", "none", "--strict")[::2], "--strict")
    _one_line_error(*run_main(capsys, "import-bigfile", str(tmp_path), "--out", out)[::2], "feature.bin")


def test_commands_print_a_summary(tmp_path: Path, tiny_clip_config: Path, capsys: pytest.CaptureFixture[str]
                                  ) -> None:
    write_bigfile(tmp_path / "bf", ["a", "b", "c"], np.eye(3, dtype=np.float32))
    code, stdout, _ = run_main(capsys, "import-bigfile", str(tmp_path / "bf"), "--out", str(tmp_path / "s"))
    assert code == 0 and "3×3" in stdout
    assert load_store(tmp_path / "s").ids == ["a", "b", "c"]
    (tmp_path / "imgs").mkdir()
    Image.new("RGB", (80, 60), (200, 10, 10)).save(tmp_path / "imgs" / "red.jpg")
    (tmp_path / "imgs" / "bad.png").write_bytes(b"")
    code, stdout, _ = run_main(capsys, "extract-features", str(tmp_path / "imgs"), "--out", str(tmp_path / "f"),
                               "--model", str(tiny_clip_config), "--pretrained", "none", "--workers", "0")
    assert code == 0 and "skipped.jsonl" in stdout and "1×64" in stdout


@pytest.mark.slow
def test_sigkill_mid_run_then_rerun_equals_clean_run(tmp_path: Path, tiny_clip_config: Path) -> None:
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    rng = np.random.default_rng(1)
    for i in range(48):
        Image.fromarray(rng.integers(0, 255, (96, 128, 3), dtype=np.uint8)).save(imgs / f"{i:03d}.jpg")
    args = ["extract-features", str(imgs), "--model", str(tiny_clip_config), "--pretrained", "none",
            "--chunk-size", "4", "--batch-size", "2", "--workers", "0", "--device", "cpu", "--quiet"]
    with paused([sys.executable, "-m", "cl2cm", *args, "--out", str(tmp_path / "a")], "features:2", timeout=90):
        pass  # stopped after 2 of its 12 chunks, then SIGKILLed
    assert len(list((tmp_path / "a" / ".parts" / "features").glob("chunk-*.safetensors"))) == 2
    assert not (tmp_path / "a" / "manifest.json").exists()
    assert cl2cm(*args, "--out", str(tmp_path / "a")).returncode == 0  # resumes (and takes over the stale lock)
    assert cl2cm(*args, "--out", str(tmp_path / "b")).returncode == 0
    a, b = load_store(tmp_path / "a", dtype=None), load_store(tmp_path / "b", dtype=None)
    assert a.ids == b.ids and len(a) == 48 and torch.equal(a.features, b.features)


def test_all_images_missing_is_an_error_not_an_empty_store(tmp_path: Path, tiny_clip_config: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "list.txt").write_text("a.jpg\nb.jpg\n")  # not under --root: nothing is found
    code, _, err = run_main(capsys, "extract-features", str(tmp_path / "list.txt"), "--root", str(tmp_path),
                            "--model", str(tiny_clip_config), "--pretrained", "none", "--workers", "0",
                            "--out", str(tmp_path / "out"), "--quiet")
    _one_line_error(code, err, "no usable image: all 2 listed items were skipped")
    assert not (tmp_path / "out").exists()  # parts that only record skips are not a run to resume
    (tmp_path / "imgs").mkdir()  # the user follows "check --root": the rerun starts afresh, no --overwrite
    for name in ("a.jpg", "b.jpg"):
        Image.new("RGB", (40, 30), (200, 10, 10)).save(tmp_path / "imgs" / name)
    code, _, err = run_main(capsys, "extract-features", str(tmp_path / "list.txt"), "--root", str(tmp_path / "imgs"),
                            "--model", str(tiny_clip_config), "--pretrained", "none", "--workers", "0",
                            "--out", str(tmp_path / "out"), "--quiet")
    assert code == 0, err
    assert len(load_store(tmp_path / "out")) == 2


def test_import_bigfile_refuses_nan_rows_and_duplicate_ids(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                                           ) -> None:
    feats = np.eye(3, dtype=np.float32)
    feats[1, 2] = np.inf
    write_bigfile(tmp_path / "nan", ["a", "b", "c"], feats)
    _one_line_error(*run_main(capsys, "import-bigfile", str(tmp_path / "nan"), "--out",
                              str(tmp_path / "s"))[::2], "row 1 (id 'b') holds NaN or infinity")
    write_bigfile(tmp_path / "dup", ["a", "b", "a"], np.eye(3, dtype=np.float32))
    _one_line_error(*run_main(capsys, "import-bigfile", str(tmp_path / "dup"), "--out",
                              str(tmp_path / "s"))[::2], "duplicate id 'a'")
    assert not (tmp_path / "s").exists()

"""Artifacts get the mode a plain `open()` gives under the umask (temp file + rename used to leave 0600)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from cl2cm.artifacts.io import atomic_write_text, current_umask, default_file_mode, temp_sibling

# Every stage through the real CLI in a child process with the umask set: the demo (translate,
# extract-features, train-teacher, distill, eval, commands.sh), then eval --plot and search --html.
_SCRIPT = r"""
import os, sys
os.umask(int(sys.argv[1], 8))
out = sys.argv[2]
from cl2cm.cli import main
def run(argv):
    try:
        main(argv)
    except SystemExit as exc:
        if exc.code:
            raise
run(["demo", "--out", out, "--train", "40", "--val", "12", "--test", "12", "--teacher-epochs", "1",
     "--student-epochs", "1", "--quiet"])
run(["eval", "--model", f"{out}/student", "--captions", f"{out}/world/test.de.jsonl", "--features",
     f"{out}/features/test", "--out", f"{out}/extra/m.json", "--plot", f"{out}/extra/recall.png", "--quiet"])
run(["search", "--model", f"{out}/student", "--features", f"{out}/features/test", "ein Hund", "--k", "3",
     "--root", f"{out}/world/images/test", "--html", f"{out}/extra/hits.html", "--quiet"])
"""


def _modes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): stat.S_IMODE(p.stat().st_mode) for p in [root, *root.rglob("*")]
            if not p.is_symlink()}


@pytest.mark.parametrize(("umask", "file_mode", "dir_mode", "exe_mode"),
                         [("022", 0o644, 0o755, 0o755),
                          # 0600 was also the old files' mode: this case guards directories and commands.sh
                          pytest.param("077", 0o600, 0o700, 0o700, marks=pytest.mark.slow)])
def test_every_stage_output_gets_the_umask_mode(tmp_path: Path, umask: str, file_mode: int, dir_mode: int,
                                                exe_mode: int) -> None:
    out = tmp_path / "demo"
    subprocess.run([sys.executable, "-c", _SCRIPT, umask, str(out)], check=True, capture_output=True,
                   timeout=600)
    modes = _modes(out)
    for name in ("results.json", "eval/student.json", "student/config.json", "student/model.safetensors",
                 "student/manifest.json", "teacher/model.safetensors", "mt/manifest.json",
                 "features/test/manifest.json", "extra/m.json", "extra/recall.png", "extra/hits.html",
                 "world/manifest.json"):
        assert name in modes, name
    assert any(n.endswith(".png") and n.startswith("world/images") for n in modes)
    wrong = {}
    for name, mode in modes.items():
        p = out / name if name != "." else out
        want = dir_mode if p.is_dir() else exe_mode if name == "commands.sh" else file_mode
        if mode != want:
            wrong[name] = oct(mode)
    assert wrong == {}, f"not the umask {umask} mode: {wrong}"
    # commands.sh runs as printed: it is executable by its owner under both umasks.
    assert modes["commands.sh"] & stat.S_IXUSR


def test_atomic_writes_follow_the_umask_in_process(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        assert current_umask() == 0o027
        assert default_file_mode() == 0o640 and default_file_mode(executable=True) == 0o750
        atomic_write_text(tmp_path / "a.txt", "x")
        atomic_write_text(tmp_path / "run.sh", "#!/bin/sh\n", executable=True)
        tmp = temp_sibling(tmp_path / "b.bin")  # what safetensors/PIL/matplotlib writers are given
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o640
    assert stat.S_IMODE((tmp_path / "run.sh").stat().st_mode) == 0o750
    assert stat.S_IMODE(tmp.stat().st_mode) == 0o640
    assert current_umask() == old  # reading it changed nothing

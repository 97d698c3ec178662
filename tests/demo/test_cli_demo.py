"""`cl2cm demo --generate`: exit 0 with a committed world; user mistakes are one line and exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cl2cm.artifacts.manifest import read_manifest
from cl2cm.cli import app, main


def test_generate_writes_a_world_and_its_manifest(tmp_path: Path) -> None:
    out = tmp_path / "world"
    res = CliRunner().invoke(app, ["demo", "--generate", str(out), "--train", "6", "--val", "3", "--test", "4",
                                   "--seed", "2", "--device", "cpu"])
    assert res.exit_code == 0, res.output
    assert "demo world" in res.output and "test" in res.output
    manifest = read_manifest(out, kind="demo-world")
    assert manifest.extra["sizes"] == {"train": 6, "val": 3, "test": 4} and manifest.extra["seed"] == 2
    assert len((out / "test_images.txt").read_text().splitlines()) == 4
    assert (out / "val.fr.jsonl").exists() and (out / "encoder" / "model.safetensors").exists()
    assert not list(out.glob(".cl2cm.lock"))  # the output lock is released

    quiet = CliRunner().invoke(app, ["demo", "--generate", str(out), "--train", "6", "--val", "3", "--test", "4",
                                     "--seed", "2", "--quiet"])
    assert quiet.exit_code == 0 and quiet.output.strip() == ""  # complete world reused, nothing printed


@pytest.mark.parametrize(("argv", "needle"), [
    (["demo", "--out", "{tmp}/d", "--lang", "cs"], "--lang 'cs'"),
    (["demo", "--generate", "{tmp}/w", "--train", "0"], "'--train': 0 is out of range"),
    (["demo", "--generate", "{tmp}/w", "--captions-per-image", "9"], "'--captions-per-image': 9 is out of range"),
    (["demo", "--generate", "{tmp}/w", "--device", "tpu"], "--device"),
    # these shape only --generate's world: with --out they are refused, not silently ignored (issue 25.8)
    (["demo", "--out", "{tmp}/d", "--captions-per-image", "3"], "--captions-per-image: only with --generate"),
    (["demo", "--out", "{tmp}/d", "--image-size", "96"], "--image-size: only with --generate"),
    (["demo", "--out", "{tmp}/d", "--overwrite"], "--overwrite: only with --generate"),
])
def test_user_mistakes_are_one_line_and_exit_2(argv: list[str], needle: str, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main([a.replace("{tmp}", str(tmp_path)) for a in argv])
    err = capsys.readouterr().err
    assert exc.value.code == 2
    assert err.count("\n") == 1 and err.startswith("cl2cm: error:") and needle in err
    assert not (tmp_path / "w" / "manifest.json").exists() and not (tmp_path / "d").exists()

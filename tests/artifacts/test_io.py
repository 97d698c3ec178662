"""`cl2cm.artifacts.io.removed_if_left_empty`: what a failed run leaves of an output it created."""

from __future__ import annotations

from pathlib import Path

import pytest

from cl2cm.artifacts.io import removed_if_left_empty
from cl2cm.errors import UserError


def _fail(out: Path, exc: BaseException, *, write: tuple[str, ...], existed: bool = False,
          resumable: str | None = "ckpt/last") -> None:
    if existed:
        out.mkdir()
    with pytest.raises(type(exc)), removed_if_left_empty(out, resumable=resumable):
        out.mkdir(exist_ok=True)
        for name in write:
            (out / name).parent.mkdir(parents=True, exist_ok=True)
            (out / name).write_text("x")
        raise exc


def test_a_user_mistake_before_the_first_checkpoint_removes_the_fresh_output(tmp_path: Path) -> None:
    _fail(tmp_path / "a", UserError("bad"), write=("ckpt/tokens.safetensors",))
    assert not (tmp_path / "a").exists()


@pytest.mark.parametrize(("exc", "write", "existed", "resumable"), [
    (UserError("bad"), ("ckpt/tokens.safetensors", "ckpt/last"), False, "ckpt/last"),  # resumable: kept
    (KeyboardInterrupt(), ("ckpt/tokens.safetensors",), False, "ckpt/last"),  # an interruption: kept
    (OSError(28, "No space left on device"), ("ckpt/tokens.safetensors",), False, "ckpt/last"),
    (UserError("bad"), ("ckpt/tokens.safetensors",), True, "ckpt/last"),  # the user's folder: never removed
    (UserError("bad"), ("ckpt/tokens.safetensors",), False, None),  # no marker: only an empty folder goes
])
def test_anything_else_keeps_what_was_written(tmp_path: Path, exc: BaseException, write: tuple[str, ...],
                                             existed: bool, resumable: str | None) -> None:
    _fail(tmp_path / "a", exc, write=write, existed=existed, resumable=resumable)
    assert all((tmp_path / "a" / name).exists() for name in write)


def test_an_empty_fresh_output_goes_on_any_failure(tmp_path: Path) -> None:
    _fail(tmp_path / "a", KeyboardInterrupt(), write=())
    assert not (tmp_path / "a").exists()

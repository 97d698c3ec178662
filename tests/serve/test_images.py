"""Image ids resolve only inside the root (realpath), and what is served is always a re-encoded thumbnail."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from PIL import Image

from cl2cm.serve.images import ThumbnailCache, make_thumbnail, resolve_in_root
from cl2cm.serve.query import BadRequest


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    Image.new("RGB", (600, 300), (200, 10, 10)).save(root / "big.jpg")
    Image.new("RGBA", (40, 40), (0, 0, 255, 128)).save(root / "sub" / "alpha.png")
    (root / "notes.txt").write_text("not an image")
    (tmp_path / "secret.png").write_bytes((root / "big.jpg").read_bytes())
    os.symlink(tmp_path / "secret.png", root / "escape.png")
    os.symlink(root / "big.jpg", root / "inside.jpg")
    os.symlink(tmp_path / "missing.png", root / "dangling.png")
    return root


def test_ids_resolve_inside_the_root(tree: Path) -> None:
    assert resolve_in_root(tree, "big.jpg") == tree.resolve() / "big.jpg"
    assert resolve_in_root(tree, "big") == tree.resolve() / "big.jpg"  # ids may omit the extension
    assert resolve_in_root(tree, "sub/alpha.png") == tree.resolve() / "sub" / "alpha.png"
    assert resolve_in_root(tree, "inside.jpg") == tree.resolve() / "big.jpg"  # a symlink within the root


@pytest.mark.parametrize(("item", "status"), [
    ("../secret.png", 403),  # an existing file, one level up
    ("sub/../../secret.png", 403),
    ("escape.png", 403),  # a symlink out of the root
    ("dangling.png", 404),
    ("missing.png", 404),
    ("sub", 404),  # a directory is not an image
    ("", 404),
    ("big.jpg\x00.png", 404),
])
def test_traversal_and_missing_are_refused(tree: Path, item: str, status: int) -> None:
    with pytest.raises(BadRequest) as exc:
        resolve_in_root(tree, item)
    assert exc.value.status == status


def test_absolute_ids_are_refused(tree: Path) -> None:
    with pytest.raises(BadRequest) as exc:
        resolve_in_root(tree, str(tree.parent / "secret.png"))
    assert exc.value.status == 403
    with pytest.raises(BadRequest) as exc:
        resolve_in_root(tree, "/etc/passwd")
    assert exc.value.status == 403


def test_thumbnails_are_small_reencoded_images(tree: Path) -> None:
    data, mime = make_thumbnail(tree / "big.jpg", side=128)
    assert mime == "image/jpeg"
    with Image.open(io.BytesIO(data)) as img:
        assert img.size == (128, 64)
    data, mime = make_thumbnail(tree / "sub" / "alpha.png", side=128)
    assert mime == "image/png"  # transparency kept; a small image is not enlarged
    with Image.open(io.BytesIO(data)) as img:
        assert img.size == (40, 40) and img.mode == "RGBA"
    with pytest.raises(BadRequest) as exc:
        make_thumbnail(tree / "notes.txt")
    assert exc.value.status == 415


def test_cache_is_bounded_and_returns_the_same_bytes(tree: Path) -> None:
    cache = ThumbnailCache(tree, side=64, size=1)
    first = cache.get("big.jpg")
    assert cache.get("big.jpg") is first
    cache.get("sub/alpha.png")
    assert cache.get("big.jpg") is not first and cache.get("big.jpg")[0] == first[0]

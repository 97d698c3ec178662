"""Listing and decoding: ids as captions refer to them, every PIL mode to proper RGB, the size guard."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cl2cm.errors import UserError
from cl2cm.features.datasets import list_images, list_videos, natural_key, open_image, to_rgb, uniform_indices


def test_alpha_is_composited_on_white_not_dropped() -> None:
    rgba = Image.new("RGBA", (4, 4), (0, 0, 0, 0))  # fully transparent black
    rgba.putpixel((0, 0), (255, 0, 0, 255))
    out = np.asarray(to_rgb(rgba))
    assert out[1, 1].tolist() == [255, 255, 255]  # convert("RGB") would give black here
    assert out[0, 0].tolist() == [255, 0, 0]
    la = Image.new("LA", (2, 2), (0, 0))
    assert np.asarray(to_rgb(la))[0, 0].tolist() == [255, 255, 255]


def test_palette_transparency_cmyk_and_16bit_gray() -> None:
    pal = Image.new("P", (2, 2), 0)
    pal.putpalette([0, 0, 0, 10, 200, 30] + [0] * 762)
    pal.putpixel((1, 1), 1)
    pal.info["transparency"] = 0
    out = np.asarray(to_rgb(pal))
    assert out[0, 0].tolist() == [255, 255, 255] and out[1, 1].tolist() == [10, 200, 30]
    cmyk = Image.new("CMYK", (2, 2), (0, 255, 255, 0))  # pure red in CMYK
    assert np.asarray(to_rgb(cmyk))[0, 0].tolist() == [255, 0, 0]
    g16 = Image.new("I;16", (2, 2), 32768)
    assert 120 <= np.asarray(to_rgb(g16))[0, 0, 0] <= 135  # mid gray, not clipped to white


def test_size_guard_and_jpeg_draft(tmp_path: Path) -> None:
    big = tmp_path / "big.jpg"
    Image.new("RGB", (2000, 1600), (9, 9, 9)).save(big)
    with pytest.raises(ValueError, match="max-pixels"):
        open_image(_png(tmp_path), target=64, max_pixels=1_000_000)  # PNG: no reduced decode
    img = open_image(big, target=64, max_pixels=1_000_000)  # decoded at 1/8 scale: 250x200 fits
    assert img.size == (250, 200) and img.mode == "RGB"
    with pytest.raises(ValueError, match="empty"):
        (tmp_path / "z.jpg").write_bytes(b"")
        open_image(tmp_path / "z.jpg", target=64, max_pixels=10**8)


def _png(tmp_path: Path) -> Path:
    p = tmp_path / "big.png"
    Image.new("RGB", (1200, 1000)).save(p)
    return p


def test_folder_listing_is_recursive_sorted_with_relative_ids(tmp_path: Path) -> None:
    for rel in ("b/2.jpg", "a.png", "b/10.JPG", "notes.txt"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    assert [it.id for it in list_images(tmp_path)] == ["a.png", "b/10.JPG", "b/2.jpg"]
    with pytest.raises(UserError, match="no images"):
        list_images(_empty(tmp_path))


def _empty(tmp_path: Path) -> Path:
    d = tmp_path / "empty"
    d.mkdir()
    return d


def test_multi30k_list_and_caption_corpus_give_the_same_ids(multi30k_slice: Path, tmp_path: Path) -> None:
    multi30k = multi30k_slice
    names = (multi30k / "test_2016_flickr.txt").read_text().split()
    from_list = list_images(multi30k / "test_2016_flickr.txt", root=tmp_path)
    assert [it.id for it in from_list] == names
    assert from_list[0].paths == (tmp_path / names[0],)
    from_corpus = list_images(multi30k / "test_2016_flickr.de", root=tmp_path)
    assert [it.id for it in from_corpus] == names  # distinct `image` fields, in corpus order


def test_videos_and_uniform_sampling(tmp_path: Path) -> None:
    assert uniform_indices(10, 4) == [1, 3, 6, 8]
    assert uniform_indices(3, 5) == [0, 1, 2]
    assert sorted(["f10", "f2", "f1"], key=natural_key) == ["f1", "f2", "f10"]
    (tmp_path / "v1").mkdir()
    for name in ("f10.jpg", "f2.jpg"):
        (tmp_path / "v1" / name).write_bytes(b"x")
    (tmp_path / "v0").mkdir()
    vids = list_videos(tmp_path)
    assert [v.id for v in vids] == ["v0", "v1"]
    assert [p.name for p in vids[1].paths] == ["f2.jpg", "f10.jpg"]


def test_a_thin_strip_is_refused_before_the_resize_blows_it_up(tmp_path: Path) -> None:
    """The encoders resize the shorter side to the model's input: 200000x1 would become 12.8M x 64 pixels."""
    from cl2cm.features.datasets import size_refusal

    Image.new("RGB", (200000, 1)).save(tmp_path / "thin.png")
    with pytest.raises(ValueError, match=r"image too elongated \(200000x1: 819200000 px once its shorter side is "
                                         r"resized to 64; --max-pixels 89478485\)"):
        open_image(tmp_path / "thin.png", target=64, max_pixels=89_478_485)
    assert size_refusal(4000, 1000, target=224, max_pixels=89_478_485) is None  # a panorama is fine
    assert size_refusal(10_000, 10_000, target=224, max_pixels=89_478_485).startswith("image too large")

"""--decode draft vs exact: the reduced-size JPEG decode stays within a measured tolerance of the full decode.

Real-size JPEGs (500×375 and 640×480, photo-like: smooth colour fields + fine grain), encoded through the
real loading path (`ImageDataset` + `load_encoder`) by a ViT at 64 px (draft decodes at 1/4 or 1/8) and at
224 px (640×480 decodes at 1/2; 500×375 cannot shrink and must be bit-identical). The bounds are the
measured values with a margin (docs/features.md); a draft that broke colours or geometry fails them.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from cl2cm.errors import UserError
from cl2cm.features.datasets import ImageDataset, list_images
from cl2cm.features.encoders import load_encoder
from cl2cm.models.tiny import tiny_open_clip_config

REPO = Path(__file__).resolve().parents[2]


@functools.cache
def _bench_features():
    """benchmarks/bench_features.py, whose photo-like JPEGs the bounds below were measured on."""
    spec = importlib.util.spec_from_file_location("bench_features", REPO / "benchmarks" / "bench_features.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench


def photos(folder: Path, n: int, size: tuple[int, int], seed: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    _bench_features().make_jpegs(folder, n, size, seed)
    return folder


def decode_cosines(model: Path, folder: Path) -> tuple[np.ndarray, np.ndarray, bool]:
    """Per image: cosine of draft vs exact preprocessed pixels (mean-centred) and of the model's features;
    and whether the two decodes gave identical pixels."""
    torch.manual_seed(0)
    enc = load_encoder(str(model), "none", device=torch.device("cpu"))
    items = list_images(folder)
    out = {}
    for mode in ("draft", "exact"):
        ds = ImageDataset(items, enc.transform, target=enc.image_size, max_pixels=10**9, decode=mode)
        px = torch.stack([ds[i][1] for i in range(len(items))])
        with torch.no_grad():
            feats = enc.encode(px)[0].float()
        out[mode] = (px.float().flatten(1), feats)
    pix = torch.nn.functional.cosine_similarity(out["draft"][0] - out["draft"][0].mean(1, keepdim=True),
                                                out["exact"][0] - out["exact"][0].mean(1, keepdim=True))
    feat = torch.nn.functional.cosine_similarity(out["draft"][1], out["exact"][1])
    return pix.numpy(), feat.numpy(), torch.equal(out["draft"][0], out["exact"][0])


@pytest.mark.parametrize("size", [(500, 375), (640, 480)])
def test_draft_within_tolerance_at_64px(tmp_path: Path, size: tuple[int, int]) -> None:
    model = tiny_open_clip_config(tmp_path / "tiny-vit.json")
    pix, feat, same = decode_cosines(model, photos(tmp_path / "jpg", 12, size, seed=size[0]))
    print(f"64 px {size}: pixel cosine min {pix.min():.5f} mean {pix.mean():.5f}; feature cosine min "
          f"{feat.min():.5f} mean {feat.mean():.5f}")
    assert not same  # draft really decoded at a reduced scale here (different pixels)
    assert pix.min() > 0.998 and feat.min() > 0.9995


def test_draft_at_224px(tmp_path: Path) -> None:
    model = tiny_open_clip_config(tmp_path / "vit224.json", image_size=224, patch_size=32)
    assert decode_cosines(model, photos(tmp_path / "a", 6, (500, 375), seed=1))[2]  # 375/2 < 224: identical
    pix, feat, same = decode_cosines(model, photos(tmp_path / "b", 6, (640, 480), seed=2))
    print(f"224 px 640x480: pixel cosine min {pix.min():.5f} mean {pix.mean():.5f}; feature cosine min "
          f"{feat.min():.5f} mean {feat.mean():.5f}")
    assert not same and pix.min() > 0.998 and feat.min() > 0.9995


def test_unknown_decode_mode(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="--decode 'fast'"):
        ImageDataset([], lambda im: im, target=64, max_pixels=1, decode="fast")

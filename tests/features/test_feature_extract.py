"""The extraction loop: broken inputs skipped, rows in ids order, resume/shards equal one clean run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import open_clip
import pytest
import torch
from PIL import Image

from cl2cm.artifacts.store import load_store, save_safetensors
from cl2cm.errors import UserError
from cl2cm.features.extract import ExtractConfig, extract_features

GOOD = ["a/0.jpg", "a/1.jpg", "b/2.jpg", "b/3.jpg", "c/4.jpg", "c/5.jpg", "rgba.png", "palette.png", "cmyk.jpg",
        "gray.png", "gray16.png"]
BROKEN = {"zero.jpg": "empty", "text.jpg": "not an image", "trunc.jpg": "truncated", "huge.png": "too large"}


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Realistic JPEGs plus every awkward mode and every kind of broken file."""
    root = tmp_path_factory.mktemp("imgs")
    rng = np.random.default_rng(0)
    for i, rel in enumerate(GOOD[:6]):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        h, w = (120, 160) if i % 2 else (150, 100)
        Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(root / rel, quality=90)
    Image.fromarray(rng.integers(0, 255, (70, 90, 4), dtype=np.uint8), "RGBA").save(root / "rgba.png")
    Image.fromarray(rng.integers(0, 255, (80, 80, 3), dtype=np.uint8)).quantize(16).save(root / "palette.png",
                                                                                          transparency=0)
    Image.fromarray(rng.integers(0, 255, (80, 96, 3), dtype=np.uint8)).convert("CMYK").save(root / "cmyk.jpg")
    Image.fromarray(rng.integers(0, 255, (64, 64), dtype=np.uint8)).save(root / "gray.png")
    Image.new("I;16", (70, 70), 40000).save(root / "gray16.png")
    (root / "zero.jpg").write_bytes(b"")
    (root / "text.jpg").write_text("not a jpeg")
    data = (root / "a/0.jpg").read_bytes()
    (root / "trunc.jpg").write_bytes(data[: len(data) // 2])
    Image.new("RGB", (1100, 1000)).save(root / "huge.png")
    return root


def cfg(src: Path, out: Path, model: Path, **kw: object) -> tuple[Path, Path, ExtractConfig]:
    """`extract_features` arguments: the input, the output, the config."""
    base = dict(model=str(model), pretrained="none", batch_size=4, workers=0, chunk_size=4,
                max_pixels=1_000_000, device="cpu")
    base.update(kw)
    return src, out, ExtractConfig(**base)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def reference(images: Path, tiny_clip_config: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One uninterrupted, unsharded run: what every other way of running must reproduce."""
    out = tmp_path_factory.mktemp("ref")
    res = extract_features(*cfg(images, out, tiny_clip_config, tokens=True))
    assert res.merged and res.rows == len(GOOD) and res.store_skipped == len(BROKEN)
    return out


def test_store_contents_skips_and_manifest(reference: Path) -> None:
    store = load_store(reference, kind="features", dtype=None)
    assert store.ids == sorted(GOOD)  # listing order, broken files left out
    assert store.features.dtype == torch.float16 and store.features.shape == (len(GOOD), 64)
    norms = store.features.float().norm(dim=-1)
    assert torch.allclose(norms, torch.ones_like(norms), atol=2e-3)  # L2-normalised, as documented
    assert store.extra["tokens"].shape == (len(GOOD), 16, 64)  # 64 px / patch 16 = 4x4 patch tokens
    skipped = [json.loads(x) for x in (reference / "skipped.jsonl").read_text().splitlines()]
    assert {s["id"]: s["reason"] for s in skipped}.keys() == BROKEN.keys()
    for s in skipped:
        assert BROKEN[s["id"]] in s["reason"], s
    m = store.manifest
    assert m.extra["normalized"] is True and m.extra["skipped"] == 4 and m.extra["count"] == len(GOOD)
    assert m.model["name"] == "tiny-vit" and m.model["pretrained"] == "none" and m.extra["dim"] == 64
    assert not (reference / ".parts").exists()


def test_rows_match_open_clip_reference_path(reference: Path, images: Path, tiny_clip_config: Path) -> None:
    """Our uint8 + on-device normalisation path equals open_clip's own preprocess + encode_image."""
    open_clip.add_model_config(tiny_clip_config)
    torch.manual_seed(0)
    model, _, preprocess = open_clip.create_model_and_transforms("tiny-vit", pretrained=None)
    store = load_store(reference, kind="features")
    for name in ("gray.png", "rgba.png"):
        img = Image.open(images / name).convert("RGBA")
        bg = Image.new("RGB", img.size, (255, 255, 255))
        bg.paste(img, mask=img.getchannel("A"))
        with torch.no_grad():
            want = torch.nn.functional.normalize(model.encode_image(preprocess(bg)[None]), dim=-1)[0]
        assert torch.allclose(store.features[store.ids.index(name)], want, atol=3e-3)


def test_same_vector_regardless_of_batch_size_and_workers(reference: Path, images: Path, tiny_clip_config: Path,
                                                          tmp_path: Path) -> None:
    extract_features(*cfg(images, tmp_path, tiny_clip_config, tokens=True, batch_size=3, workers=2,
                         chunk_size=100))
    a, b = load_store(reference, kind="features"), load_store(tmp_path, kind="features")
    assert a.ids == b.ids
    assert torch.allclose(a.features, b.features, atol=2e-3)
    assert torch.allclose(a.extra["tokens"].float(), b.extra["tokens"].float(), atol=2e-2)


def _same_store(a_dir: Path, b_dir: Path) -> None:
    a, b = load_store(a_dir, kind="features", dtype=None), load_store(b_dir, kind="features", dtype=None)
    assert a.ids == b.ids
    assert torch.equal(a.features, b.features) and torch.equal(a.extra["tokens"], b.extra["tokens"])
    assert (a_dir / "skipped.jsonl").read_text() == (b_dir / "skipped.jsonl").read_text()


def test_resume_after_interruption_equals_uninterrupted(reference: Path, images: Path, tiny_clip_config: Path,
                                                        tmp_path: Path) -> None:
    class Killed(Exception):
        pass

    def die_after_two(c: int) -> None:
        if c == 1:
            raise Killed

    with pytest.raises(Killed):
        extract_features(*cfg(images, tmp_path, tiny_clip_config, tokens=True), on_chunk=die_after_two)
    assert not (tmp_path / "manifest.json").exists()  # no half artifact
    res = extract_features(*cfg(images, tmp_path, tiny_clip_config, tokens=True))
    assert res.chunks_reused == 2 and res.chunks_run == res.chunks_total - 2
    _same_store(reference, tmp_path)


def test_shards_merge_equal_unsharded(reference: Path, images: Path, tiny_clip_config: Path,
                                      tmp_path: Path) -> None:
    r0 = extract_features(*cfg(images, tmp_path, tiny_clip_config, tokens=True, shard="0/2"))
    assert not r0.merged and r0.chunks_waiting > 0 and not (tmp_path / "manifest.json").exists()
    r1 = extract_features(*cfg(images, tmp_path, tiny_clip_config, tokens=True, shard="1/2"))
    assert r1.merged
    _same_store(reference, tmp_path)


def test_changed_options_refused_then_overwrite(images: Path, tiny_clip_config: Path, tmp_path: Path) -> None:
    extract_features(*cfg(images, tmp_path, tiny_clip_config, shard="0/2"))
    with pytest.raises(UserError, match="different run"):
        extract_features(*cfg(images, tmp_path, tiny_clip_config, shard="1/2", normalize=False))
    extract_features(*cfg(images, tmp_path, tiny_clip_config, normalize=False, overwrite=True))
    with pytest.raises(UserError, match="finished store"):
        extract_features(*cfg(images, tmp_path, tiny_clip_config))
    store = load_store(tmp_path, kind="features")
    assert store.manifest.extra["normalized"] is False and not torch.allclose(
        store.features.norm(dim=-1), torch.ones(len(store)), atol=1e-2)


def test_strict_fails_and_missing_list_entries_are_skipped(images: Path, tiny_clip_config: Path,
                                                           tmp_path: Path) -> None:
    with pytest.raises(UserError, match="--strict"):
        extract_features(*cfg(images, tmp_path / "s", tiny_clip_config, strict=True))
    lst = tmp_path / "list.txt"
    lst.write_text("a/0.jpg\nnope.jpg\na/0.jpg\n")
    extract_features(*cfg(lst, tmp_path / "l", tiny_clip_config, root=images))
    assert load_store(tmp_path / "l").ids == ["a/0.jpg"]  # duplicate listed once
    assert json.loads((tmp_path / "l" / "skipped.jsonl").read_text())["reason"] == "missing file"


def test_safetensors_checkpoint_and_pickle_refusal(images: Path, tiny_clip_config: Path, tmp_path: Path) -> None:
    open_clip.add_model_config(tiny_clip_config)
    torch.manual_seed(7)
    model = open_clip.create_model("tiny-vit", pretrained=None)
    save_safetensors(tmp_path / "ckpt.safetensors", model.state_dict())
    lst = tmp_path / "l.txt"
    lst.write_text("a/0.jpg\nb/2.jpg\n")
    extract_features(*cfg(lst, tmp_path / "f", tiny_clip_config, root=images,
                         pretrained=str(tmp_path / "ckpt.safetensors")))
    extract_features(*cfg(lst, tmp_path / "s", tiny_clip_config, root=images, seed=7))
    assert torch.equal(load_store(tmp_path / "f").features, load_store(tmp_path / "s").features)
    assert load_store(tmp_path / "f").manifest.model["pretrained"] == "ckpt.safetensors"
    # The store records how to build its encoder again (Student.encode_images): the checkpoint's path and
    # the config file's text; the rebuilt encoder has the recorded identity and gives the stored rows.
    from cl2cm.features.encoders import rebuild_encoder
    from cl2cm.features.extract import encode_image_files

    store = load_store(tmp_path / "f")
    source = store.manifest.extra["encoder"]
    assert source["pretrained"] == str((tmp_path / "ckpt.safetensors").resolve()) and source["model_config"]
    encoder = rebuild_encoder(store.manifest.model, source)
    assert encoder.info == store.manifest.model
    pooled, _ = encode_image_files(encoder, [images / "a/0.jpg", images / "b/2.jpg"], max_pixels=1_000_000)
    assert torch.equal(pooled, store.features.half())
    moved = tmp_path / "moved.safetensors"
    (tmp_path / "ckpt.safetensors").rename(moved)
    with pytest.raises(UserError, match="checkpoint file not found"):
        rebuild_encoder(store.manifest.model, source)
    assert rebuild_encoder(store.manifest.model, source, pretrained=str(moved)).info["checkpoint_sha256"] == \
        store.manifest.model["checkpoint_sha256"]
    with pytest.raises(UserError, match="differs from the recorded one in checkpoint_sha256"):
        save_safetensors(moved, {k: v + 1 for k, v in model.state_dict().items()})
        rebuild_encoder(store.manifest.model, source, pretrained=str(moved))
    (tmp_path / "ckpt.pt").write_bytes(b"x")
    with pytest.raises(UserError, match="--allow-pickle"):
        extract_features(*cfg(lst, tmp_path / "p", tiny_clip_config, root=images, pretrained=str(tmp_path / "ckpt.pt")))


def test_video_frames_and_mask(images: Path, tiny_clip_config: Path, tmp_path: Path) -> None:
    vids = tmp_path / "videos"
    frame = (images / "a/0.jpg").read_bytes()
    for vid, n in (("long", 7), ("short", 2)):
        (vids / vid).mkdir(parents=True)
        for j in range(n):
            (vids / vid / f"{j}.jpg").write_bytes(frame)
    (vids / "short" / "9.jpg").write_bytes(b"")  # a broken frame: masked out, the video survives
    (vids / "empty").mkdir()
    res = extract_features(*cfg(vids, tmp_path / "out", tiny_clip_config, frames=4, chunk_size=2))
    store = load_store(tmp_path / "out", kind="features")
    assert res.rows == 2 and store.ids == ["long", "short"]
    assert store.features.shape == (2, 4, 64) and store.mask.tolist() == [[True] * 4, [True, True, False, False]]
    assert torch.equal(store.features[1, 2:], torch.zeros(2, 64))
    assert torch.allclose(store.features[0, 0], store.features[1, 1], atol=1e-3)  # same frame, same vector
    assert "no frames" in (tmp_path / "out" / "skipped.jsonl").read_text()

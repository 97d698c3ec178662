"""`extract-features --backend hf`: Hugging Face CLIP / SigLIP vision towers, built tiny and random, saved and
loaded back through `from_pretrained`, run through the real CLI; a student trained on such a store encodes
raw images as the store holds them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import transformers
from PIL import Image

from cl2cm.artifacts.store import load_store
from cl2cm.cli import main
from cl2cm.models.tiny import build_tiny_hf_vision

KINDS = ("siglip", "clip", "clip-vision")


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """The real entry point in-process: exit code and stderr."""
    with pytest.raises(SystemExit) as exc:
        main(list(args))
        raise SystemExit(0)
    return int(exc.value.code or 0), capsys.readouterr().err


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four 32 px images (the models' input size: no resampling, so the HF processor must agree exactly),
    one larger RGBA image and one larger grey one (resized and cropped by the processor config)."""
    root = tmp_path_factory.mktemp("hf-imgs")
    rng = np.random.default_rng(0)
    for i in range(4):
        Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(root / f"s{i}.png")
    y, x = np.mgrid[0:60, 0:48]
    smooth = np.stack([x * 5, y * 4, (x + y) * 2], -1).astype(np.uint8)
    Image.fromarray(np.dstack([smooth, np.full((60, 48), 255, np.uint8)]), "RGBA").save(root / "big.png")
    Image.fromarray(smooth[..., 0]).save(root / "grey.png")
    return root


@pytest.fixture(scope="module", params=KINDS)
def hf_model(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    return request.param, build_tiny_hf_vision(tmp_path_factory.mktemp(request.param), request.param)


def _reference(model_dir: Path, files: list[Path]) -> torch.Tensor:
    """What the model and its own image processor give (transformers alone): L2-normalised image features."""
    config = transformers.AutoConfig.from_pretrained(model_dir)
    net = getattr(transformers, config.architectures[0]).from_pretrained(model_dir).eval()
    processor = transformers.AutoImageProcessor.from_pretrained(model_dir)
    pixels = processor(images=[Image.open(f).convert("RGB") for f in files], return_tensors="pt")["pixel_values"]
    with torch.no_grad():
        if hasattr(net, "get_image_features"):
            out = net.get_image_features(pixel_values=pixels)
            pooled = out if isinstance(out, torch.Tensor) else out.pooler_output
        else:
            pooled = net(pixel_values=pixels).image_embeds
    return torch.nn.functional.normalize(pooled.float(), dim=-1)


def test_extract_features_with_an_hf_backend(hf_model: tuple[str, Path], images: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    kind, model_dir = hf_model
    out = tmp_path / "feats"
    code, err = run_main(capsys, "extract-features", str(images), "--backend", "hf", "--model", str(model_dir),
                         "--tokens", "--batch-size", "2", "--workers", "0", "--device", "cpu", "--out", str(out),
                         "--quiet")
    assert code == 0, err
    store = load_store(out)
    manifest = json.loads((out / "manifest.json").read_text())
    model = manifest["model"]
    assert model["backend"] == "hf" and model["name"] == model_dir.name and len(model["weights_sha256"]) == 64
    assert model["architecture"] == {"siglip": "SiglipModel", "clip": "CLIPModel",
                                     "clip-vision": "CLIPVisionModelWithProjection"}[kind]
    assert manifest["extra"]["encoder"]["backend"] == "hf"  # how `encode_images` rebuilds it
    dim = 32 if kind == "siglip" else 24  # SigLIP: the pooled head; CLIP: the projection
    assert store.features.shape == (6, dim) and store.extra["tokens"].shape == (6, 16, 32)
    rows = dict(zip(store.ids, store.features.float(), strict=True))
    exact = sorted(images.glob("s*.png"))
    ref = _reference(model_dir, exact)
    torch.testing.assert_close(torch.stack([rows[f.name] for f in exact]), ref, atol=2e-3, rtol=0)
    # resized/cropped inputs: the processor config's resize (PIL here, torchvision there) agrees closely
    other = [images / "big.png", images / "grey.png"]
    cos = (torch.stack([rows[f.name] for f in other]) * _reference(model_dir, other)).sum(-1)
    assert cos.min() > 0.98, cos


def test_hf_backend_mistakes_are_one_line_exit_2(images: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    out = str(tmp_path / "o")
    code, err = run_main(capsys, "extract-features", str(images), "--backend", "nope", "--out", out)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "--backend 'nope'" in err and "hf" in err, err
    code, err = run_main(capsys, "extract-features", str(images), "--backend", "hf", "--model",
                         str(tmp_path / "no-such-model"), "--out", out)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "no-such-model" in err, err
    not_vision = tmp_path / "bert"
    transformers.BertModel(transformers.BertConfig(vocab_size=32, hidden_size=8, num_hidden_layers=1,
                                                   num_attention_heads=2, intermediate_size=8)).save_pretrained(not_vision)
    capsys.readouterr()
    code, err = run_main(capsys, "extract-features", str(images), "--backend", "hf", "--model", str(not_vision),
                         "--out", out)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "no preprocessor_config.json" in err, err
    transformers.CLIPImageProcessor().save_pretrained(not_vision)
    capsys.readouterr()
    code, err = run_main(capsys, "extract-features", str(images), "--backend", "hf", "--model", str(not_vision),
                         "--out", out)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "BertModel has no vision tower" in err, err
    pickled = tmp_path / "pickled"  # weights only as pytorch_model.bin: loading a pickle can run code
    config = transformers.CLIPVisionConfig(hidden_size=16, intermediate_size=16, num_hidden_layers=1,
                                           num_attention_heads=2, image_size=16, patch_size=8)
    transformers.CLIPVisionModel(config).save_pretrained(pickled)
    from safetensors.torch import load_file

    torch.save(load_file(str(pickled / "model.safetensors")), pickled / "pytorch_model.bin")
    (pickled / "model.safetensors").unlink()
    transformers.CLIPImageProcessor(size={"shortest_edge": 16}, crop_size=16).save_pretrained(pickled)
    capsys.readouterr()
    code, err = run_main(capsys, "extract-features", str(images), "--backend", "hf", "--model", str(pickled),
                         "--out", out)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "--allow-pickle" in err, err
    assert not Path(out).exists()
    code, err = run_main(capsys, "extract-features", str(images), "--backend", "hf", "--model", str(pickled),
                         "--allow-pickle", "--workers", "0", "--device", "cpu", "--quiet", "--out", str(tmp_path / "ok"))
    assert code == 0, err
    assert len(json.loads((tmp_path / "ok" / "manifest.json").read_text())["model"]["weights_sha256"]) == 64  # nothing half-written


def test_a_student_on_an_hf_store_encodes_raw_images_as_stored(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    """extract-features --backend hf → train-teacher → distill, all through the CLI; then `cl2cm.encode_images`
    rebuilds the recorded HF encoder and gives the rows `encode_store` gives for the stored features."""
    import cl2cm
    from cl2cm.artifacts.io import read_lines
    from cl2cm.demo.world import generate_world

    world = tmp_path / "world"
    generate_world(world, n_train=4, n_val=4, n_test=10)
    siglip = build_tiny_hf_vision(tmp_path / "siglip", "siglip", image_size=32)
    en, de = world / "test.en.jsonl", world / "test.de.jsonl"
    common = ["--device", "cpu", "--quiet"]
    runs = [["extract-features", str(world / "test_images.txt"), "--root", str(world / "images" / "test"),
             "--backend", "hf", "--model", str(siglip), "--workers", "0", "--out", str(tmp_path / "feats")],
            ["train-teacher", "--src", str(en), "--tgt", str(de), "--encoder", str(world / "encoder"), "--dim", "16",
             "--epochs", "1", "--batch-size", "10", "--out", str(tmp_path / "teacher")],
            ["distill", "--teacher", str(tmp_path / "teacher"), "--features", str(tmp_path / "feats"), "--src",
             str(en), "--tgt", str(de), "--epochs", "1", "--batch-size", "10", "--out", str(tmp_path / "student")]]
    for args in runs:
        code, err = run_main(capsys, *args, *common)
        assert code == 0, (args[0], err)
    model = cl2cm.load_model(tmp_path / "student")
    assert model.config.visual_model["backend"] == "hf"
    store = cl2cm.load_store(tmp_path / "feats")
    paths = [world / "images" / "test" / name for name in read_lines(world / "test_images.txt")]
    assert [p.name for p in paths] == store.ids
    v_img, v_store = cl2cm.encode_images(model, paths), model.encode_store(store)
    torch.testing.assert_close(v_img, v_store, atol=1e-3, rtol=0)

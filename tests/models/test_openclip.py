"""Zero-shot CLIP through `eval --model openclip:...`: tiny random open_clip configs built from JSON, images
through `extract-features`, the model loaded through the real path (`load_model`'s scheme, no hub)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import open_clip
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from cl2cm.artifacts.store import load_store
from cl2cm.errors import UserError
from cl2cm.models import TextEncoderConfig, load_model
from cl2cm.models.openclip import OpenClipModel, export_text_tower, parse_spec
from cl2cm.models.text import TextEncoder, encode_texts
from cl2cm.models.tiny import tiny_open_clip_config
from cl2cm.retrieval.metrics import compute_ranks, gallery_index, retrieval_metrics

CAPTIONS = ["ein roter Kreis", "ein blaues Quadrat", "ein grüner Stern", "ein gelbes Dreieck", "zwei Kreise",
            "ein großer Stern"]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, tiny_bert_dir: Path) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("openclip")
    images = root / "imgs"
    images.mkdir()
    g = torch.Generator().manual_seed(0)
    for i in range(len(CAPTIONS)):
        pixels = (torch.rand(32, 32, 3, generator=g) * 255).to(torch.uint8).numpy()
        Image.fromarray(pixels).save(images / f"{i}.png")
    (root / "list.txt").write_text("".join(f"{i}.png\n" for i in range(len(CAPTIONS))), encoding="utf-8")
    (root / "caps.jsonl").write_text("".join(json.dumps({"id": f"{i}.png#0", "image": f"{i}.png", "lang": "de",
                                                         "text": t}) + "\n" for i, t in enumerate(CAPTIONS)),
                                     encoding="utf-8")
    small = {"image_size": 32, "patch_size": 16, "width": 32, "layers": 1, "embed_dim": 16}
    clip = tiny_open_clip_config(root / "tiny-clip.json", **small,  # CLIP's own BPE tokenizer and text tower
                                 text_cfg={"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2,
                                           "layers": 1})
    mclip = tiny_open_clip_config(root / "tiny-mclip.json", **small,  # an HF (tiny BERT) text tower, like M-CLIP
                                  text_cfg={"hf_model_name": str(tiny_bert_dir), "hf_tokenizer_name": str(tiny_bert_dir),
                                            "hf_pooler_type": "mean_pooler", "hf_proj_type": "linear",
                                            "context_length": 16})
    return {"root": root, "images": images, "list": root / "list.txt", "caps": root / "caps.jsonl", "clip": clip,
            "mclip": mclip}


def _extract(cli, world: dict[str, Path], config: Path, out: Path) -> Path:
    code, _, err = cli(["extract-features", str(world["list"]), "--root", str(world["images"]), "--model",
                        str(config), "--pretrained", "none", "--device", "cpu", "--workers", "0", "--out", str(out)])
    assert code == 0, err
    return out


@pytest.mark.parametrize("which", ["clip", "mclip"])
def test_eval_of_an_open_clip_model_is_its_text_tower_against_its_image_embeddings(world: dict[str, Path],
                                                                                 tmp_path: Path, cli,
                                                                                 which: str) -> None:
    feats = _extract(cli, world, world[which], tmp_path / "feats")
    out = tmp_path / "m.json"
    code, _, err = cli(["eval", "--model", f"openclip:{world[which]}@none", "--captions", str(world["caps"]),
                        "--features", str(feats), "--out", str(out), "--device", "cpu"])
    assert code == 0, err
    metrics = json.loads(out.read_text())
    # the same model built independently (open_clip, seed 0 as extract-features --seed 0), the same ranks
    torch.manual_seed(0)
    model, _, _ = open_clip.create_model_and_transforms(world[which].stem)
    model.eval()
    with torch.no_grad():
        q = F.normalize(model.encode_text(open_clip.get_tokenizer(world[which].stem)(CAPTIONS)).float(), dim=-1)
        pixels = torch.stack([_preprocess(world["images"] / f"{i}.png") for i in range(len(CAPTIONS))])
        v = F.normalize(model.encode_image(pixels).float(), dim=-1)
    store = load_store(feats)
    assert F.cosine_similarity(v, store.features.float()).min() > 0.99  # the store holds CLIP's image embeddings
    idx = gallery_index([f"{i}.png" for i in range(len(CAPTIONS))], store.ids)
    want = retrieval_metrics(compute_ranks(q, F.normalize(store.features.float(), dim=-1), idx))
    for key in ("t2v", "v2t"):  # the JSON rounds to 2 decimals (mAP 4)
        assert metrics[key] == pytest.approx(want[key], abs=0.006), key
    assert metrics["SumR"] == pytest.approx(want["SumR"], abs=0.006)


def _preprocess(path: Path) -> torch.Tensor:
    """32 px images into a 32 px model: only the CLIP normalisation applies."""
    x = torch.from_numpy(np.array(Image.open(path).convert("RGB"))).permute(2, 0, 1).float() / 255
    mean = torch.tensor(open_clip.OPENAI_DATASET_MEAN).view(3, 1, 1)
    std = torch.tensor(open_clip.OPENAI_DATASET_STD).view(3, 1, 1)
    return (x - mean) / std


def test_a_store_from_another_model_or_a_bad_spec_is_one_line(world: dict[str, Path], tmp_path: Path, cli) -> None:
    feats = _extract(cli, world, world["clip"], tmp_path / "feats")
    code, _, err = cli(["eval", "--model", f"openclip:{world['mclip']}@none", "--captions", str(world["caps"]),
                        "--features", str(feats), "--device", "cpu"])
    assert code == 2 and len(err.strip().splitlines()) == 1 and "tiny-clip" in err, err
    code, _, err = cli(["eval", "--model", "openclip:no-such-model@none", "--captions", str(world["caps"]),
                        "--features", str(feats), "--device", "cpu"])
    assert code == 2 and len(err.strip().splitlines()) == 1 and "no-such-model" in err, err
    with pytest.raises(UserError, match="expected openclip:NAME"):
        parse_spec("ViT-B-32@")
    assert parse_spec("ViT-B-32") == ("ViT-B-32", "none")
    assert isinstance(load_model(f"openclip:{world['clip']}"), OpenClipModel)


def test_a_multilingual_clips_text_tower_is_a_students_starting_encoder(world: dict[str, Path],
                                                                       tmp_path: Path) -> None:
    out = export_text_tower(f"{world['mclip']}@none", tmp_path / "enc")
    clip = load_model(f"openclip:{world['mclip']}@none")
    encoder = TextEncoder(TextEncoderConfig(encoder=str(out), dim=8, train_layers="all", max_length=16))
    theirs = clip.clip.text.transformer.state_dict()
    ours = encoder.backbone.state_dict()
    assert set(theirs) <= set(ours) and {k.split(".")[0] for k in set(ours) - set(theirs)} <= {"pooler"}
    for k in theirs:  # every weight of CLIP's text transformer (the pooler, unused by mean pooling, is not in it)
        torch.testing.assert_close(ours[k], theirs[k], rtol=0, atol=0)
    assert encode_texts(encoder, CAPTIONS[:2]).shape == (2, 8)
    with pytest.raises(UserError, match="not a Hugging Face encoder"):  # CLIP's own text transformer
        export_text_tower(f"{world['clip']}@none", tmp_path / "enc2")

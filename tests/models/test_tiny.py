from pathlib import Path

import open_clip
import torch
from transformers import AutoModel, AutoTokenizer


def test_tiny_bert_loads_through_from_pretrained(tiny_bert_dir: Path) -> None:
    tok = AutoTokenizer.from_pretrained(tiny_bert_dir)
    model = AutoModel.from_pretrained(tiny_bert_dir)
    enc = tok(["Ein Hund läuft über die Wiese.", "A dog runs."], padding=True, return_tensors="pt")
    # The vocabulary was trained on Multi30K, so common words are known, not [UNK].
    assert (enc["input_ids"] == tok.unk_token_id).float().mean() < 0.2
    out = model(**enc).last_hidden_state
    assert out.shape[:2] == enc["input_ids"].shape and out.shape[-1] == model.config.hidden_size
    assert (tiny_bert_dir / "model.safetensors").exists()


def test_tiny_clip_config_builds_through_open_clip(tiny_clip_config: Path) -> None:
    open_clip.add_model_config(tiny_clip_config)
    model, _, preprocess = open_clip.create_model_and_transforms(tiny_clip_config.stem, pretrained=None)
    feats = model.encode_image(torch.randn(2, 3, 64, 64))
    assert feats.shape == (2, 64)

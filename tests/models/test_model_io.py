"""Model directories: save → load_model round trip (offline, from_config), registry dispatch, bad dirs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from cl2cm.artifacts.manifest import Manifest, write_manifest
from cl2cm.errors import UserError
from cl2cm.models import MODEL_KINDS, load_model
from cl2cm.models.teacher import CrossLingualTeacher, TeacherConfig
from cl2cm.models.text import TextEncoderConfig

TEXTS = ["Ein Hund läuft.", "Zwei Männer spielen Fußball auf einer Wiese.", "Eine Frau."]


@pytest.mark.parametrize("shared", [True, False])
def test_teacher_round_trip(tiny_bert_dir: Path, tmp_path: Path, shared: bool) -> None:
    torch.manual_seed(0)
    cfg = TeacherConfig(TextEncoderConfig(encoder=str(tiny_bert_dir), pooling="attention", dim=16,
                                          train_layers="all", max_length=16), shared=shared)
    teacher = CrossLingualTeacher(cfg).eval()
    if not shared:  # make the towers differ, as after training
        with torch.no_grad():
            teacher.tgt.proj.weight.mul_(-1)
    q, g = teacher.encode_text(TEXTS), teacher.encode_source(TEXTS)
    teacher.save(tmp_path / "t", Manifest(kind="teacher"))
    names = {p.name for p in (tmp_path / "t").iterdir()}
    assert {"model.safetensors", "config.json", "manifest.json", "tokenizer_config.json"} <= names
    config = json.loads((tmp_path / "t" / "config.json").read_text())
    assert config["backbone"]["model_type"] == "bert" and config["shared"] is shared
    loaded = load_model(tmp_path / "t", "cpu")
    assert isinstance(loaded, CrossLingualTeacher) and not loaded.training
    torch.testing.assert_close(loaded.encode_text(TEXTS), q)
    torch.testing.assert_close(loaded.encode_source(TEXTS), g)
    assert shared == torch.allclose(q, g)
    assert loaded.encode_text(TEXTS).dtype == torch.float32


def test_load_model_errors(tmp_path: Path) -> None:
    assert set(MODEL_KINDS) >= {"teacher", "student"}
    with pytest.raises(UserError, match="no manifest.json"):
        load_model(tmp_path)
    write_manifest(tmp_path, Manifest(kind="features"))
    with pytest.raises(UserError, match="expected a model"):
        load_model(tmp_path)
    write_manifest(tmp_path, Manifest(kind="teacher"))
    with pytest.raises(UserError, match="config.json"):
        load_model(tmp_path)


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_a_model_with_non_finite_weights_is_refused_by_every_loader(tiny_bert_dir: Path, tmp_path: Path,
                                                                    value: float) -> None:
    """What a diverged run would have written: refused at load (eval, search, serve, a distill's teacher)."""
    cfg = TeacherConfig(TextEncoderConfig(encoder=str(tiny_bert_dir), dim=16, max_length=16))
    teacher = CrossLingualTeacher(cfg).eval()
    with torch.no_grad():
        teacher.tgt.proj.weight[0, 0] = value
    teacher.save(tmp_path / "t", Manifest(kind="teacher"))
    with pytest.raises(UserError, match=r"model.safetensors: tensor '[\w.]*proj.weight' holds NaN or infinity"):
        load_model(tmp_path / "t", "cpu")
    with pytest.raises(UserError, match="holds NaN or infinity"):
        CrossLingualTeacher.from_dir(tmp_path / "t")


@pytest.mark.parametrize("damage", ["deleted", "edited"])
def test_a_missing_or_edited_tokenizer_file_is_refused(tiny_bert_dir: Path, tmp_path: Path, damage: str) -> None:
    """Without tokenizer.json transformers still built a tokenizer (from tokenizer_config.json) that maps every
    word to [UNK]: search answered every query alike, exit 0. The manifest records the file: refused."""
    cfg = TeacherConfig(TextEncoderConfig(encoder=str(tiny_bert_dir), dim=16, max_length=16))
    CrossLingualTeacher(cfg).save(tmp_path / "t", Manifest(kind="teacher"))
    path = tmp_path / "t" / "tokenizer.json"
    assert path.is_file()
    if damage == "deleted":
        path.unlink()
    else:
        path.write_text(path.read_text().replace("[UNK]", "[UNKNOWN]"))
    with pytest.raises(UserError, match="tokenizer.json: missing" if damage == "deleted" else
                       "tokenizer.json: checksum mismatch"):
        load_model(tmp_path / "t", "cpu")

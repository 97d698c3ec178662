"""The student: visual heads by name, masks respected, init from the teacher, model-dir round trip."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from cl2cm.artifacts.manifest import Manifest
from cl2cm.errors import UserError
from cl2cm.models import TextEncoderConfig, load_model
from cl2cm.models.student import VISUAL_HEADS, Student, StudentConfig, build_visual_head
from cl2cm.models.teacher import CrossLingualTeacher, TeacherConfig


@pytest.mark.parametrize("name", sorted(VISUAL_HEADS))
def test_every_head_maps_rows_to_the_joint_dimension(name: str) -> None:
    torch.manual_seed(0)
    head = build_visual_head(name, 12, 8, hidden=16, dropout=0.0, max_len=5).eval()
    x = torch.randn(3, 5, 12) if VISUAL_HEADS[name][1] else torch.randn(3, 12)
    assert head(x).shape == (3, 8)


@pytest.mark.parametrize("name", ["tokens", "temporal"])
def test_sequence_heads_ignore_masked_positions(name: str) -> None:
    torch.manual_seed(0)
    head = build_visual_head(name, 12, 8, hidden=16, dropout=0.0, max_len=6).eval()
    x = torch.randn(2, 6, 12)
    mask = torch.tensor([[True] * 4 + [False] * 2, [True] * 6])
    y = x.clone()
    y[0, 4:] = 1000.0  # garbage in padded frames must not leak into the output
    with torch.no_grad():
        a, b = head(x, mask), head(y, mask)
        c = head(y)  # unmasked: the garbage does change it
    assert torch.allclose(a, b, atol=1e-5)
    assert not torch.allclose(a[0], c[0], atol=1e-3)


def test_tokens_head_uses_position_so_it_can_tell_layouts_apart() -> None:
    torch.manual_seed(0)
    head = build_visual_head("tokens", 4, 8, hidden=16, dropout=0.0, max_len=4).eval()
    x = torch.randn(1, 4, 4)
    swapped = x[:, [1, 0, 2, 3]]  # same tokens, other places: "red left, blue right" vs the reverse
    with torch.no_grad():
        assert not torch.allclose(head(x), head(swapped), atol=1e-4)


def _teacher(tiny_bert_dir: Path) -> CrossLingualTeacher:
    torch.manual_seed(0)
    cfg = TeacherConfig(text=TextEncoderConfig(encoder=str(tiny_bert_dir), dim=16, train_layers="all", max_length=32))
    return CrossLingualTeacher(cfg)


def test_roundtrip_and_load_model_dispatch(tmp_path: Path, tiny_bert_dir: Path) -> None:
    teacher = _teacher(tiny_bert_dir)
    cfg = StudentConfig(text=teacher.config.text, head="tokens", visual_input="tokens", visual_dim=12,
                        visual_len=5, hidden=16, visual_model={"name": "tiny-vit"})
    student = Student.from_teacher(teacher, tiny_bert_dir, cfg, init_text="encoder").eval()
    student.save(tmp_path / "s", Manifest(kind="student"))
    loaded = load_model(tmp_path / "s")
    assert isinstance(loaded, Student)
    texts = ["ein roter Kreis", "zwei blaue Quadrate links"]
    x = torch.randn(3, 5, 12)
    assert torch.allclose(student.encode_text(texts), loaded.encode_text(texts), atol=1e-6)
    v = loaded.encode_visual(x)
    assert torch.allclose(student.encode_visual(x), v, atol=1e-6)
    assert torch.allclose(v.norm(dim=-1), torch.ones(3), atol=1e-5)
    assert loaded.expect_store()["expect_model"] == {"name": "tiny-vit"}
    with pytest.raises(UserError, match="reads tokens"):
        loaded.encode_visual(torch.randn(3, 12))


def test_init_text_from_teacher_copies_its_target_tower(tiny_bert_dir: Path) -> None:
    teacher = _teacher(tiny_bert_dir)
    cfg = StudentConfig(text=teacher.config.text, head="mlp", visual_dim=12)
    from_teacher = Student.from_teacher(teacher, tiny_bert_dir, cfg, init_text="teacher").eval()
    from_encoder = Student.from_teacher(teacher, tiny_bert_dir, cfg, init_text="encoder").eval()
    texts = ["ein Hund", "eine Katze auf dem Dach"]
    assert torch.allclose(from_teacher.encode_text(texts), teacher.encode_text(texts), atol=1e-5)
    assert not torch.allclose(from_encoder.encode_text(texts), teacher.encode_text(texts), atol=1e-3)


def test_inconsistent_configs_are_programming_errors(tiny_bert_dir: Path) -> None:
    """The model names no CLI flag: `distill` checks the user's options first (test_distill)."""
    text = TextEncoderConfig(encoder=str(tiny_bert_dir), dim=16, train_layers="all", max_length=32)
    for bad in (dict(head="tokens", visual_len=0), dict(head="mlp", visual_len=4), dict(head="nope")):
        with pytest.raises(ValueError) as exc:
            Student(StudentConfig(text=text, visual_dim=12, **bad))  # type: ignore[arg-type]
        assert not isinstance(exc.value, UserError) and "--" not in str(exc.value)
    with pytest.raises(ValueError, match="init_text"):
        Student.from_teacher(None, tiny_bert_dir, StudentConfig(text=text), init_text="bogus")

"""distill: learning with and without transfer, a frozen teacher, resume after a kill, DDP, clear errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from distill_world import build_world
from interrupt import interrupted_on_call
from safetensors.torch import load_file

from cl2cm.artifacts.manifest import Manifest, read_manifest
from cl2cm.artifacts.store import load_store, save_store
from cl2cm.errors import UserError
from cl2cm.models import TextEncoderConfig, load_model
from cl2cm.models.student import Student
from cl2cm.train import TrainConfig
from cl2cm.train.distill import DistillConfig, DistillOptions, DistillTask, distill
from cl2cm.train.engine import read_checkpoint
from cl2cm.train.teacher import TeacherOptions, TrainTeacherConfig, train_teacher

HERE = Path(__file__).resolve().parent
CHANCE_SUMR = 2 * (1 + 5 + 10)  # 100 validation images, one caption each: R@K = K% by chance


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, tiny_bert_dir: Path) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("distill-world")
    paths = build_world(root)
    opts = TeacherOptions(text=TextEncoderConfig(encoder=str(tiny_bert_dir), dim=32, train_layers="all",
                                                 max_length=32), ot_weight=0.0)
    train_teacher(paths["train_en"], paths["train_de"], root / "teacher", TrainTeacherConfig(
        options=opts, train=TrainConfig(epochs=2, batch_size=32, lr=1e-3, device="cpu", log_every=5)))
    return {**paths, "root": root, "teacher": root / "teacher"}


def _run(world: dict[str, Path], out: Path, *, val: bool = True, epochs: int = 4, max_pairs: int | None = None,
         resume: bool = False, **opts: object):
    kw = {"val_features": world["feats_val"], "val_captions": world["val_de"]} if val else {}
    config = DistillConfig(options=DistillOptions(**opts),  # type: ignore[arg-type]
                           train=TrainConfig(epochs=epochs, batch_size=32, lr=1e-3, device="cpu", log_every=2,
                                             seed=3), max_pairs=max_pairs, resume=resume)
    return distill(world["teacher"], world["feats_train"], world["train_en"], world["train_de"], out, config, **kw)


@pytest.fixture(scope="module")
def runs(world: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    base = tmp_path_factory.mktemp("distill-runs")
    teacher_before = load_file(str(world["teacher"] / "model.safetensors"))
    out = {name: _run(world, base / name, visual_input="tokens", transfer=(name == "cl2cm"))
           for name in ("cl2cm", "baseline")}
    return {**out, "teacher_before": teacher_before}


@pytest.mark.parametrize("name", ["cl2cm", "baseline"])
def test_student_learns_far_above_chance_with_and_without_transfer(runs: dict, name: str) -> None:
    res = runs[name]
    assert res.fit.best_metric is not None and res.fit.best_metric > 5 * CHANCE_SUMR, res.fit.last_val
    student = load_model(res.out_dir)
    assert isinstance(student, Student) and student.config.head == "flat"
    man = read_manifest(res.out_dir, kind="student")
    assert man.extra["transfer"] is (name == "cl2cm") and man.extra["val"]["val_sumr"] == res.fit.best_metric
    assert student.expect_store()["expect_model"] == {"name": "synthetic-A"}


def test_no_transfer_differs_only_in_the_transfer_term(runs: dict) -> None:
    def terms(res) -> set[str]:
        recs = [json.loads(x) for x in (res.out_dir / "metrics.jsonl").read_text().splitlines()]
        return {k for r in recs if r["split"] == "train" for k in r} - {"split", "epoch", "step", "lr",
                                                                          "samples_per_s", "loss"}
    assert terms(runs["cl2cm"]) == {"vt", "kt"}
    assert terms(runs["baseline"]) == {"vt"}
    a = read_manifest(runs["cl2cm"].out_dir).extra
    b = read_manifest(runs["baseline"].out_dir).extra
    assert {k for k in a["options"] if a["options"][k] != b["options"][k]} == {"transfer"}
    assert a["train"] == b["train"]


def test_teacher_is_frozen_outside_the_optimizer_and_unchanged(runs: dict, world: dict[str, Path]) -> None:
    after = load_file(str(world["teacher"] / "model.safetensors"))
    before = runs["teacher_before"]
    assert before.keys() == after.keys()
    for k in before:
        assert torch.equal(before[k], after[k]), k
    tensors, _ = read_checkpoint(runs["cl2cm"].out_dir / "checkpoints" / "last.safetensors")
    model_keys = [k for k in tensors if k.startswith("model.")]
    assert model_keys and all(k.startswith("model.student.") for k in model_keys)  # no teacher weights
    student = load_model(runs["cl2cm"].out_dir)
    n_trainable = sum(1 for p in student.parameters() if p.requires_grad)
    assert sum(1 for k in tensors if k.endswith(".exp_avg")) == n_trainable  # optimizer state: student only


def test_teacher_targets_carry_no_gradient(world: dict[str, Path], tmp_path: Path, monkeypatch) -> None:
    seen: list[bool] = []
    original = DistillTask.loss

    def spy(self, model, batch):
        seen.append(batch["teacher_tgt"].requires_grad or batch["teacher_src"].requires_grad)
        out = original(self, model, batch)
        out["loss"].backward(retain_graph=True)  # the teacher embeddings are leaves without grad
        assert batch["teacher_tgt"].grad is None and batch["teacher_src"].grad is None
        return out

    monkeypatch.setattr(DistillTask, "loss", spy)
    _run(world, tmp_path / "s", val=False, epochs=1, max_pairs=64)
    assert seen and not any(seen)


def test_resume_after_kill_reproduces_the_uninterrupted_run(world: dict[str, Path], tmp_path: Path) -> None:
    full = _run(world, tmp_path / "full", val=False, epochs=2, max_pairs=128)
    # killed in the middle of epoch 2 (4 steps per epoch)
    with interrupted_on_call(DistillTask, "loss", 6), pytest.raises(KeyboardInterrupt):
        _run(world, tmp_path / "cut", val=False, epochs=2, max_pairs=128)
    assert not (tmp_path / "cut" / "manifest.json").exists()  # no half-written student
    resumed = _run(world, tmp_path / "cut", val=False, epochs=2, max_pairs=128, resume=True)
    assert resumed.fit.resumed_from == 1 and resumed.fit.steps == full.fit.steps == 8
    a, b = load_file(str(tmp_path / "full" / "model.safetensors")), load_file(str(tmp_path / "cut" / "model.safetensors"))
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-6)


def test_resume_on_a_store_from_another_model_is_refused(world: dict[str, Path], tmp_path: Path) -> None:
    _run(world, tmp_path / "s", val=False, epochs=1, max_pairs=64)
    other = build_world(tmp_path / "other", train_images=40, val_images=10, model_name="synthetic-B")
    with pytest.raises(UserError, match="synthetic-B"):
        distill(world["teacher"], other["feats_train"], world["train_en"], world["train_de"], tmp_path / "s",
                DistillConfig(train=TrainConfig(epochs=1, batch_size=32, device="cpu"), resume=True))


def test_two_process_ddp_run(world: dict[str, Path], tmp_path: Path) -> None:
    path = os.pathsep.join(p for p in (str(HERE), os.environ.get("PYTHONPATH", "")) if p)  # keep the code under test
    env = {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           str(HERE / "distill_ddp.py"), str(world["root"]), str(world["teacher"]), str(tmp_path / "ddp")]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    recs = [json.loads(x) for x in (tmp_path / "ddp" / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in recs if r["split"] == "train"]
    assert [r["step"] for r in train] == [1, 2, 3] and all("kt" in r for r in train)
    assert isinstance(load_model(tmp_path / "ddp"), Student)


def test_val_store_from_another_visual_model_is_a_clear_error(world: dict[str, Path], tmp_path: Path) -> None:
    store = load_store(world["feats_val"])
    save_store(tmp_path / "val-b", store.features, store.ids, Manifest(kind="features", model={"name": "other"}),
               extra=store.extra)
    with pytest.raises(UserError, match="--val-features .*'other'"):
        distill(world["teacher"], world["feats_train"], world["train_en"], world["train_de"], tmp_path / "s",
                val_features=tmp_path / "val-b", val_captions=world["val_de"])


# ---------------------------------------------------------------------------------------------- CLI
def _argv(world: dict[str, Path], out: Path, *extra: str) -> list[str]:
    return ["distill", "--teacher", str(world["teacher"]), "--features", str(world["feats_train"]),
            "--src", str(world["train_en"]), "--tgt", str(world["train_de"]), "--out", str(out),
            "--device", "cpu", "--epochs", "1", "--batch-size", "32", "--max-pairs", "64", *extra]


def test_cli_baseline_run_prints_its_summary(world: dict[str, Path], tmp_path: Path,
                                             cli: Callable[[list[str]], tuple[int, str, str]]) -> None:
    code, out, err = cli(_argv(world, tmp_path / "s", "--no-transfer", "--visual-input", "tokens",
                                "--val-features", str(world["feats_val"]), "--val-captions",
                                str(world["val_de"])))
    assert code == 0, err
    assert "off (baseline)" in out and "best val SumR" in out and "tokens / flat" in out
    assert read_manifest(tmp_path / "s", kind="student").extra["transfer"] is False


def test_cli_caption_of_an_image_missing_from_the_store_is_one_line(world: dict[str, Path], tmp_path: Path,
                                                                    cli: Callable[[list[str]], tuple[int, str, str]]) -> None:
    rows = world["train_de"].read_text(encoding="utf-8").splitlines()[:40]
    rows.append(json.dumps({"id": "ghost.png#0", "image": "ghost.png", "lang": "de", "text": "ein roter Kreis"}))
    tgt = tmp_path / "tgt.jsonl"
    tgt.write_text("\n".join(rows) + "\n", encoding="utf-8")
    src = tmp_path / "src.jsonl"
    src.write_text(world["train_en"].read_text(encoding="utf-8") + json.dumps(
        {"id": "ghost.png#0", "image": "ghost.png", "lang": "en", "text": "a red circle"}) + "\n", encoding="utf-8")
    argv = _argv(world, tmp_path / "s")
    argv[argv.index("--src") + 1], argv[argv.index("--tgt") + 1] = str(src), str(tgt)
    code, out, err = cli(argv)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "ghost.png" in err and "--features" in err
    assert not (tmp_path / "s" / "manifest.json").exists()


@pytest.mark.parametrize(("flags", "named"), [(["--head", "cnn"], "--head"),
                                              (["--visual-input", "pixels"], "--visual-input"),
                                              (["--kt-temperature", "0"], "--kt-temperature"),
                                              (["--kt-teacher-temperature", "-1"], "--kt-teacher-temperature"),
                                              (["--init-text", "bogus"], "--init-text"),
                                              (["--head", "mlp", "--visual-input", "tokens"], "--head mlp reads pooled"),
                                              (["--head", "tokens"], "--head tokens reads [N, T, W]"),
                                              (["--val-features", "x"], "--val-captions")])
def test_cli_bad_flags_are_one_line_naming_the_flag(world: dict[str, Path], tmp_path: Path, flags: list[str],
                                                    named: str, cli: Callable[[list[str]], tuple[int, str, str]]) -> None:
    code, _, err = cli(_argv(world, tmp_path / "s", *flags))
    assert code == 2 and len(err.strip().splitlines()) == 1 and named in err, err


def test_kt_teacher_temperature_sets_only_the_teachers_softmax() -> None:
    from torch import nn

    from cl2cm.train.distill import DistillData

    data = DistillData(tgt_ids=torch.ones(2, 4, dtype=torch.int32), tgt_len=torch.full((2,), 3),
                       rows=torch.tensor([0, 1]), groups=torch.tensor([0, 1]), visual=torch.randn(2, 8),
                       visual_mask=None)
    both = DistillTask(nn.Identity(), data, DistillOptions(kt_temperature=0.2))  # type: ignore[arg-type]
    assert (both.transfer.tau_t, both.transfer.tau_s) == (0.2, 0.2)
    split = DistillTask(nn.Identity(), data, DistillOptions(kt_temperature=0.2,  # type: ignore[arg-type]
                                                            kt_teacher_temperature=0.05))
    assert (split.transfer.tau_t, split.transfer.tau_s) == (0.05, 0.2)


def test_image_sampling_gives_distinct_images_and_reaches_every_caption() -> None:
    from torch import nn

    from cl2cm.train.distill import DistillData

    groups = torch.tensor([0, 0, 0, 1, 1, 2, 3, 3, 3, 3])
    data = DistillData(tgt_ids=torch.ones(10, 4, dtype=torch.int32), tgt_len=torch.full((10,), 3),
                       rows=groups.clone(), groups=groups, visual=torch.randn(4, 8), visual_mask=None)
    task = DistillTask(nn.Identity(), data, DistillOptions(sampling="image"))  # type: ignore[arg-type]
    assert len(task.train_dataset()) == 4
    torch.manual_seed(0)
    for _ in range(50):
        batch = task.collate([0, 1, 2, 3])
        assert batch["groups"].tolist() == [0, 1, 2, 3]  # one caption of each image, in item order
    picked = set()
    for _ in range(200):
        picked.update(task._pairs_of([0, 1, 2, 3]).tolist())
    assert picked == set(range(10))  # every caption of every image is eventually drawn


def test_video_frames_with_a_mask_train_a_temporal_student(world: dict[str, Path], tmp_path: Path) -> None:
    store = load_store(world["feats_train"])
    frames = store.extra["tokens"].float()  # [N, 2, W] read as 2 frames per video
    mask = torch.ones(frames.shape[:2], dtype=torch.bool)
    mask[::3, 1] = False  # every third video has only one frame
    save_store(tmp_path / "video", frames, store.ids, Manifest(kind="features", model={"name": "frames"}), mask=mask)
    res = distill(world["teacher"], tmp_path / "video", world["train_en"], world["train_de"], tmp_path / "s",
                  DistillConfig(train=TrainConfig(epochs=1, batch_size=32, lr=1e-3, device="cpu", max_steps=2,
                                                  log_every=1), max_pairs=64))
    assert res.head == "temporal"
    student = load_model(tmp_path / "s")
    v = student.encode_store(load_store(tmp_path / "video", **student.expect_store()))
    assert v.shape == (frames.shape[0], student.dim)


@pytest.mark.gpu
def test_amp_distill_on_cuda(world: dict[str, Path], tmp_path: Path) -> None:
    res = distill(world["teacher"], world["feats_train"], world["train_en"], world["train_de"], tmp_path / "s",
                  DistillConfig(options=DistillOptions(visual_input="tokens"),
                                train=TrainConfig(epochs=2, batch_size=32, lr=1e-3, device="cuda", amp="bf16",
                                                  log_every=1)),
                  val_features=world["feats_val"], val_captions=world["val_de"])
    assert res.fit.best_metric is not None and res.fit.best_metric > 3 * CHANCE_SUMR
    assert isinstance(load_model(tmp_path / "s", "cuda"), Student)


def test_optional_terms_are_trained_and_logged(world: dict[str, Path], tmp_path: Path) -> None:
    _run(world, tmp_path / "s", val=False, epochs=1, max_pairs=64, en_weight=0.5, feat_weight=0.1, rel_weight=0.1,
         init_text="teacher")
    recs = [json.loads(x) for x in (tmp_path / "s" / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in recs if r["split"] == "train"]
    assert train and all({"vt", "en", "kt", "feat", "rel"} <= r.keys() for r in train)
    with pytest.raises(UserError, match="^feat_weight needs dim 32"):
        _run(world, tmp_path / "t", val=False, epochs=1, max_pairs=64, feat_weight=0.1, dim=16)


def test_resume_with_other_options_is_refused(world: dict[str, Path], tmp_path: Path) -> None:
    _run(world, tmp_path / "s", val=False, epochs=1, max_pairs=64)
    with pytest.raises(UserError, match="other inputs or model options"):
        _run(world, tmp_path / "s", val=False, epochs=1, max_pairs=64, kt_weight=0.9, resume=True)

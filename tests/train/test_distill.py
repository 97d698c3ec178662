"""distill: learning with and without transfer, a frozen teacher, resume after a kill, DDP, clear errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict
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
                                             seed=3), max_pairs=max_pairs, resume=resume,
                           keep_checkpoints=True)  # these tests read the checkpoints
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


def test_cli_english_student_without_transfer_trains_on_the_source_captions(
        world: dict[str, Path], tmp_path: Path, cli: Callable[[list[str]], tuple[int, str, str]]) -> None:
    """translate-test's English student (docs/method.md#baselines): --tgt = the --src file, --no-transfer.
    With transfer the same files are the swapped-files mistake and stay refused."""
    en = str(world["train_en"])
    argv = _argv(world, tmp_path / "en", "--no-transfer", "--visual-input", "tokens", "--quiet")
    argv[argv.index("--tgt") + 1] = en
    code, _, err = cli(argv)
    assert code == 0, err
    assert load_model(tmp_path / "en").languages == ("en",)
    argv = _argv(world, tmp_path / "x", "--quiet")
    argv[argv.index("--tgt") + 1] = en
    code, _, err = cli(argv)
    assert code == 2 and "the language of --src" in err, err
    assert not (tmp_path / "x" / "manifest.json").exists()


def test_cli_finished_student_keeps_only_the_model_and_resume_says_complete(
        world: dict[str, Path], tmp_path: Path, cli: Callable[[list[str]], tuple[int, str, str]]) -> None:
    out = tmp_path / "s"
    code, _, err = cli(_argv(world, out, "--quiet"))
    assert code == 0, err
    left = sorted(str(p.relative_to(out)) for p in (out / "checkpoints").iterdir())
    assert left == ["checkpoints/finished.json"], left  # no last/best weights, token or teacher caches
    mtime = (out / "model.safetensors").stat().st_mtime_ns
    code, printed, err = cli(_argv(world, out, "--resume"))
    assert code == 0 and "already complete" in printed, err
    assert (out / "model.safetensors").stat().st_mtime_ns == mtime
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["finished.json"]
    assert load_model(out).encode_text(["ein roter Kreis"]).shape[0] == 1


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
                                              (["--head-lr", "0"], "--head-lr"),
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
    assert (both.net.losses["kt"].loss.tau_t, both.net.losses["kt"].loss.tau_s) == (0.2, 0.2)
    split = DistillTask(nn.Identity(), data, DistillOptions(kt_temperature=0.2,  # type: ignore[arg-type]
                                                            kt_teacher_temperature=0.05))
    assert (split.net.losses["kt"].loss.tau_t, split.net.losses["kt"].loss.tau_s) == (0.05, 0.2)


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


# ---------------------------------------------------------------------------------------------- --head-lr
def _record_group_lrs(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, float]]:
    """After every optimizer step: the lr each trainable parameter (by name) was just stepped with."""
    from cl2cm.train import engine

    seen: list[dict[str, float]] = []
    original = engine._Fit._optimizer_step

    def step(self: engine._Fit) -> None:
        original(self)
        names = {id(p): n for n, p in self.module.named_parameters()}
        seen.append({names[id(p)]: g["lr"] for g in self.opt.param_groups for p in g["params"]})

    monkeypatch.setattr(engine._Fit, "_optimizer_step", step)
    return seen


def _head_lr_run(world: dict[str, Path], out: Path, *, head_lr: float | None, resume: bool = False):
    config = DistillConfig(options=DistillOptions(visual_input="tokens", head_lr=head_lr),
                           train=TrainConfig(epochs=2, batch_size=32, lr=1e-3, device="cpu", log_every=2, seed=3,
                                             schedule="constant", warmup=0), max_pairs=128, resume=resume,
                           keep_checkpoints=True)  # the test reads the checkpoint
    return distill(world["teacher"], world["feats_train"], world["train_en"], world["train_de"], out, config)


def test_head_lr_steps_the_visual_head_and_the_text_tower_with_their_own_lrs(
        world: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _record_group_lrs(monkeypatch)
    _head_lr_run(world, tmp_path / "s", head_lr=5e-3)
    assert len(seen) == 8
    for lrs in seen:
        head = {n: lr for n, lr in lrs.items() if n.startswith("student.visual.")}
        rest = {n: lr for n, lr in lrs.items() if not n.startswith("student.visual.")}
        assert head and any(n.startswith("student.text.") for n in rest)
        assert set(head.values()) == {5e-3} and set(rest.values()) == {1e-3}
    seen.clear()
    _head_lr_run(world, tmp_path / "plain", head_lr=None)  # unset: one lr for all, the two groups of before
    assert {lr for lrs in seen for lr in lrs.values()} == {1e-3}
    meta = read_checkpoint(tmp_path / "plain" / "checkpoints" / "last.safetensors")[1]
    assert len(meta["optimizer"]["param_groups"]) == 2
    assert read_manifest(tmp_path / "s", kind="student").extra["options"]["head_lr"] == 5e-3


def test_head_lr_survives_a_kill_and_resume(world: dict[str, Path], tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _record_group_lrs(monkeypatch)
    _head_lr_run(world, tmp_path / "full", head_lr=5e-3)
    with interrupted_on_call(DistillTask, "loss", 6), pytest.raises(KeyboardInterrupt):
        _head_lr_run(world, tmp_path / "cut", head_lr=5e-3)
    seen.clear()
    resumed = _head_lr_run(world, tmp_path / "cut", head_lr=5e-3, resume=True)
    assert resumed.fit.resumed_from == 1 and len(seen) == 4  # epoch 2 only, from the checkpoint's groups
    assert all({lr for n, lr in lrs.items() if n.startswith("student.visual.")} == {5e-3} for lrs in seen)
    a, b = load_file(str(tmp_path / "full" / "model.safetensors")), load_file(str(tmp_path / "cut" / "model.safetensors"))
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-6)
    with pytest.raises(UserError, match="other inputs or model options"):
        _head_lr_run(world, tmp_path / "cut", head_lr=1e-2, resume=True)


def test_a_run_without_head_lr_keeps_the_fingerprint_of_older_checkpoints(world: dict[str, Path]) -> None:
    """Unset, the field is absent from the fingerprint, so a checkpoint written before it existed resumes."""
    options = asdict(DistillOptions())
    options.pop("head_lr")
    task = DistillTask.__new__(DistillTask)
    task.options, task.manifest = DistillOptions(), Manifest(kind="student")
    task.data = type("D", (), {"rows": torch.zeros(3)})()
    assert task.fingerprint()["options"] == options
    task.options = DistillOptions(head_lr=1e-3)
    assert task.fingerprint()["options"]["head_lr"] == 1e-3


# ---------------------------------------------------------------------------------------------- leakage guard
def test_eval_on_the_students_own_training_features_warns_of_leakage(runs: dict, world: dict[str, Path],
                                                                      tmp_path: Path, cli) -> None:
    student = runs["cl2cm"].out_dir
    record = read_manifest(student, kind="student").extra["training_store"]
    assert record["rows"] == len(load_store(world["feats_train"]).ids) and record["keys"] == ["ids"]
    out = tmp_path / "m.json"
    code, _, err = cli(["eval", "--model", str(student), "--captions", str(world["train_de"]), "--features",
                        str(world["feats_train"]), "--out", str(out), "--device", "cpu"])
    assert code == 0, err
    lines = [x for x in err.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("warning: test-set leakage") and "training store" in lines[0]
    leak = json.loads(out.read_text())["leakage"]
    assert leak["by"] == "store" and leak["overlap"] == leak["gallery"] == record["rows"]
    # held-out images: no warning, no key
    code, _, err = cli(["eval", "--model", str(student), "--captions", str(world["val_de"]), "--features",
                        str(world["feats_val"]), "--out", str(out), "--device", "cpu", "--quiet"])
    assert code == 0 and err.strip() == "" and "leakage" not in json.loads(out.read_text())


def test_a_gallery_sharing_some_training_images_is_caught_by_id(runs: dict, world: dict[str, Path],
                                                                tmp_path: Path) -> None:
    """Another store (its own checksum) holding 7 training images among the validation ones."""
    import cl2cm

    train, val = load_store(world["feats_train"]), load_store(world["feats_val"])
    mixed = tmp_path / "mixed"
    save_store(mixed, torch.cat([val.features, train.features[:7]]), [*val.ids, *train.ids[:7]],
               Manifest(kind="features", model=dict(val.manifest.model)),
               extra={"tokens": torch.cat([val.extra["tokens"], train.extra["tokens"][:7]])})
    caps = tmp_path / "caps.jsonl"
    caps.write_text("".join(json.dumps({"id": f"{i}#0", "image": i, "lang": "de", "text": "ein Kreis"}) + "\n"
                            for i in [*val.ids, *train.ids[:7]]), encoding="utf-8")
    m = cl2cm.evaluate(runs["baseline"].out_dir, captions=caps, features=mixed)
    assert m["leakage"]["by"] == "ids" and m["leakage"]["overlap"] == 7
    assert m["leakage"]["gallery"] == len(val.ids) + 7


@pytest.mark.parametrize("flags", [["--batch-size", "128"], ["--device", "tpu"], ["--train-layers", "99"],
                                   ["--sampling", "image", "--batch-size", "64"]])
def test_cli_a_mistake_found_after_the_caches_leaves_no_output(world: dict[str, Path], tmp_path: Path, flags: list[str],
                                                              cli: Callable[[list[str]], tuple[int, str, str]]) -> None:
    """Some settings are refused only once the token and teacher caches are written: a fresh --out that
    never reached a checkpoint goes again, while an existing one keeps what it had."""
    code, _, err = cli(_argv(world, tmp_path / "fresh" / "s", *flags))
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "fresh" / "s").exists()
    kept = tmp_path / "kept"
    (kept / "notes").mkdir(parents=True)
    code, _, err = cli(_argv(world, kept, *flags))
    assert code == 2 and (kept / "notes").is_dir()


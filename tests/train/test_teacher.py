"""train-teacher: learning on real Multi30K en/de, model dir + metrics, CLI errors (exit 2, one line)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from interrupt import interrupted_on_call

from cl2cm.cli import main
from cl2cm.models import load_model
from cl2cm.models.text import TextEncoderConfig
from cl2cm.train import TrainConfig
from cl2cm.train.teacher import TeacherOptions, TrainTeacherConfig, train_teacher, validate_teacher


@pytest.mark.realdata
def test_tiny_teacher_learns_de_to_en_retrieval(tiny_bert_dir: Path, multi30k: Path, tmp_path: Path) -> None:
    """90 steps on 6,000 real pairs: de→en R@1 on test_2016 (1,000 captions, chance 0.1%) far above chance."""
    opts = TeacherOptions(text=TextEncoderConfig(encoder=str(tiny_bert_dir), dim=64, train_layers="all",
                                                 max_length=32), ot_weight=0.1, ot_iters=20)
    train = TrainConfig(epochs=1, batch_size=64, lr=2e-3, max_steps=90, log_every=30, device="cpu", seed=0)
    res = train_teacher(multi30k / "train.en", multi30k / "train.de", tmp_path / "t",
                        TrainTeacherConfig(options=opts, train=train, max_pairs=6000),
                        val_src=multi30k / "test_2016_flickr.en", val_tgt=multi30k / "test_2016_flickr.de")
    r1 = res.fit.last_val["val_r1"]
    assert res.val_pairs == 1000 and r1 > 15.0, res.fit.last_val  # > 150× chance (27.2 measured)
    recs = [json.loads(x) for x in (tmp_path / "t" / "metrics.jsonl").read_text().splitlines()]
    train_losses = [r["loss"] for r in recs if r["split"] == "train"]
    assert train_losses[-1] < train_losses[0] and all("ot" in r for r in recs if r["split"] == "train")
    manifest = json.loads((tmp_path / "t" / "manifest.json").read_text())
    assert manifest["kind"] == "teacher" and manifest["rows"] == 6000 and "--src" in manifest["inputs"]
    assert manifest["extra"]["val"]["val_r1"] == r1
    # the written directory is the trained model: loading it reproduces the validation exactly
    from cl2cm.artifacts.captions import pair_by_id, read_captions

    teacher = load_model(tmp_path / "t")
    pairs = pair_by_id(read_captions(multi30k / "test_2016_flickr.en"), read_captions(multi30k / "test_2016_flickr.de"))
    assert validate_teacher(teacher, pairs)["val_r1"] == pytest.approx(r1)


def _jsonl(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    path.write_text("".join(json.dumps({"id": i, "lang": lang, "text": t}) + "\n" for i, lang, t in rows))
    return path


def test_cli_small_run_and_resume(tiny_bert_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    en = _jsonl(tmp_path / "en.jsonl", [(f"im{i}#0", "en", f"A dog number {i} runs.") for i in range(12)])
    de = _jsonl(tmp_path / "de.jsonl", [(f"im{i}#0", "de", f"Ein Hund Nummer {i} läuft.") for i in range(12)])
    out = tmp_path / "teacher"
    args = ["train-teacher", "--src", str(en), "--tgt", str(de), "--val-src", str(en), "--val-tgt", str(de),
            "--encoder", str(tiny_bert_dir), "--dim", "16", "--train-layers", "1", "--max-length", "16",
            "--pooling", "attention", "--batch-size", "4", "--epochs", "2", "--device", "cpu", "--out", str(out),
            "--ot-iters", "5", "--triplet-weight", "0.5", "--learnable-temperature", "--log-every", "1",
            "--keep-checkpoints"]  # to extend the finished run with --epochs 3 --resume
    main(args)
    assert "train-teacher" in capsys.readouterr().out
    assert (out / "manifest.json").exists() and (out / "checkpoints" / "last.safetensors").exists()
    main([*args, "--epochs", "3", "--resume", "--quiet"])
    recs = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in recs if r["split"] == "val"] == [0, 1, 2]
    assert [r["step"] for r in recs if r["split"] == "train"] == list(range(1, 10))
    assert {"nce", "triplet", "ot", "temperature"} <= set(recs[0])
    assert load_model(out).encode_text(["Ein Hund."]).shape == (1, 16)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:  # other options than the checkpoint's: refused, not mixed
        main([*args, "--epochs", "4", "--resume", "--ot-weight", "0.3"])
    assert exc.value.code == 2 and "other inputs or model options" in capsys.readouterr().err


def test_cli_default_train_layers_fit_a_2_layer_encoder(tiny_bert_dir: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture) -> None:
    """No --train-layers on a 2-layer BERT: `auto` trains layers 0-1 (3-11 would not exist) and says so."""
    en = _jsonl(tmp_path / "en.jsonl", [(f"im{i}#0", "en", f"A dog number {i} runs.") for i in range(8)])
    de = _jsonl(tmp_path / "de.jsonl", [(f"im{i}#0", "de", f"Ein Hund Nummer {i} läuft.") for i in range(8)])
    out = tmp_path / "teacher"
    main(["train-teacher", "--src", str(en), "--tgt", str(de), "--encoder", str(tiny_bert_dir), "--dim", "16",
          "--max-length", "16", "--batch-size", "4", "--epochs", "1", "--device", "cpu", "--ot-weight", "0",
          "--out", str(out)])
    printed = " ".join(capsys.readouterr().out.split())
    assert "fine-tuned encoder layers" in printed and "0-1 of 2 (auto)" in printed, printed
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["extra"]["trained_layers"] == "0-1 of 2 (auto)"
    assert json.loads((out / "config.json").read_text())["text"]["train_layers"] == "auto"


def test_cli_user_errors_are_one_line_exit_2(tiny_bert_dir: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture) -> None:
    en = _jsonl(tmp_path / "en.jsonl", [("a#0", "en", "A dog."), ("b#0", "en", "A cat.")])
    de = _jsonl(tmp_path / "de.jsonl", [("a#0", "de", "Ein Hund."), ("c#0", "de", "Eine Katze.")])
    ok = _jsonl(tmp_path / "ok.de.jsonl", [("a#0", "de", "Ein Hund."), ("b#0", "de", "Eine Katze.")])
    base = ["train-teacher", "--encoder", str(tiny_bert_dir), "--out", str(tmp_path / "o"), "--device", "cpu"]
    cases = [
        (["--src", str(en), "--tgt", str(de)], "1 ids of --tgt have no caption in --src (first: 'c#0')"),
        (["--src", str(en), "--tgt", str(ok), "--val-src", str(en)], "--val-src and --val-tgt go together"),
        (["--src", str(en), "--tgt", str(ok), "--train-layers", "3-11"], "--train-layers '3-11'"),
        (["--src", str(en), "--tgt", str(ok), "--schedule", "step"], "--schedule 'step'"),
        (["--src", str(en), "--tgt", str(en)], "--tgt: record in 'en', the language of --src"),
    ]
    for extra, expected in cases:
        with pytest.raises(SystemExit) as exc:
            main([*base, *extra])
        err = capsys.readouterr().err
        assert exc.value.code == 2 and expected in err and err.count("\n") == 1, err
    assert not (tmp_path / "o" / "manifest.json").exists()
    # the real entry point, in a subprocess: a missing file names the file, no traceback
    proc = subprocess.run([sys.executable, "-m", "cl2cm", *base, "--src", str(tmp_path / "missing.en"),
                           "--tgt", str(de)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "missing.en: file not found" in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1


def test_checkpoints_leave_out_frozen_weights_and_resume_bit_for_bit(
        tiny_bert_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """--train-layers 1 of 2: last/best hold the trainable part only; a killed run resumes to the uninterrupted
    run's model.safetensors bit for bit (from the new checkpoints and from old full ones), the model directory
    still holds every weight and loads without the encoder, and a changed encoder is refused (exit 2)."""
    from safetensors.torch import load_file, save_file

    from cl2cm.train.engine import read_checkpoint
    from cl2cm.train.teacher import TeacherTask

    encoder = tmp_path / "encoder"
    shutil.copytree(tiny_bert_dir, encoder)
    en = _jsonl(tmp_path / "en.jsonl", [(f"im{i}#0", "en", f"A dog number {i} runs.") for i in range(32)])
    de = _jsonl(tmp_path / "de.jsonl", [(f"im{i}#0", "de", f"Ein Hund Nummer {i} läuft.") for i in range(32)])

    def args(out: Path, *extra: str) -> list[str]:
        return ["train-teacher", "--src", str(en), "--tgt", str(de), "--val-src", str(en), "--val-tgt", str(de),
                "--encoder", str(encoder), "--dim", "16", "--train-layers", "1", "--max-length", "16",
                "--batch-size", "8", "--epochs", "2", "--lr", "1e-3", "--device", "cpu", "--seed", "3",
                "--ot-iters", "5", "--quiet", "--out", str(out), *extra]

    main(args(tmp_path / "full"))
    # killed in the middle of epoch 2 (4 steps per epoch); the CLI turns the kill into exit 130
    with interrupted_on_call(TeacherTask, "loss", 6), pytest.raises(SystemExit) as killed:
        main(args(tmp_path / "cut"))
    assert killed.value.code == 130
    ckpt = tmp_path / "cut" / "checkpoints"
    tensors, meta = read_checkpoint(ckpt / "last.safetensors")
    full = load_file(str(tmp_path / "full" / "model.safetensors"))
    kept = {k[len("model.teacher."):] for k in tensors if k.startswith("model.teacher.")}
    frozen = set(full) - kept
    assert frozen and all(".layer.0." in k or ".embeddings." in k or ".pooler." in k for k in frozen), frozen
    assert any(".layer.1." in k for k in kept) and any(k.startswith("src.proj.") for k in kept)
    assert meta["frozen"]["tensors"] == len(frozen) and len(meta["frozen"]["sha256"]) == 64
    assert set(load_file(str(ckpt / "best.safetensors"))) == {f"teacher.{k}" for k in kept} | {
        k[len("model."):] for k in tensors if k.startswith("model.losses.")}

    # The same cut, as a run from before checkpoints left the frozen weights out would have written it.
    old = tmp_path / "cut-old"
    shutil.copytree(tmp_path / "cut", old)
    old_meta = {k: v for k, v in meta.items() if k != "frozen"}
    save_file({**tensors, **{f"model.teacher.{k}": full[k] for k in frozen}}, str(old / "checkpoints" /
              "last.safetensors"), metadata={"cl2cm": json.dumps(old_meta)})
    best = load_file(str(ckpt / "best.safetensors"))
    save_file({**best, **{f"teacher.{k}": full[k] for k in frozen}}, str(old / "checkpoints" / "best.safetensors"))

    for out in (tmp_path / "cut", old):
        main(args(out, "--resume", "--keep-checkpoints"))  # kept: the frozen-weight check below resumes again
        resumed = load_file(str(out / "model.safetensors"))
        assert resumed.keys() == full.keys()  # the model directory holds every weight, frozen ones included
        for k in full:
            assert torch.equal(resumed[k], full[k]), (out.name, k)

    shutil.move(encoder, tmp_path / "encoder-moved")  # the model directory stands without its encoder
    assert load_model(tmp_path / "cut").encode_text(["Ein Hund."]).shape == (1, 16)
    shutil.move(tmp_path / "encoder-moved", encoder)

    weights = load_file(str(encoder / "model.safetensors"))  # another encoder behind the same path
    save_file({k: v * 2 if "word_embeddings" in k else v for k, v in weights.items()},
              str(encoder / "model.safetensors"), metadata={"format": "pt"})
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(args(tmp_path / "cut", "--resume", "--epochs", "3"))
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "last.safetensors: the frozen weights" in err and err.count("\n") == 1, err


def test_every_loss_off_is_one_line_before_any_work(tmp_path: Path) -> None:
    """`--loss nce=0 --loss ot=0` (triplet is off by default) was a backward() traceback after tokenising."""
    from cl2cm.cli.flags import flag_of
    from cl2cm.config.teacher import TeacherOptions, TrainTeacherConfig
    from cl2cm.errors import ConfigError
    from cl2cm.train.teacher import train_teacher

    config = TrainTeacherConfig(options=TeacherOptions(losses={"nce": 0.0, "ot": 0.0}))
    with pytest.raises(ConfigError) as e:
        train_teacher(tmp_path / "missing.en", [tmp_path / "missing.de"], tmp_path / "out", config)
    assert e.value.render(flag_of) == ("every loss term is off (--nce-weight, --triplet-weight, --ot-weight, "
                                       "--loss): nothing to train")
    assert not (tmp_path / "out").exists()

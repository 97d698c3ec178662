"""Loss terms plug in: a term is one class plus one registry line; both stages sum the configured terms."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from cl2cm.cli import main
from cl2cm.errors import ConfigError
from cl2cm.losses import registry as R
from cl2cm.losses.terms import LossInputs, LossTerm, build_terms, sum_terms


class ToyLoss(LossTerm):
    """Pulls the first coordinate of every target embedding towards 1 (a loss no built-in term computes)."""

    calls = 0

    def forward(self, x: LossInputs) -> torch.Tensor:
        ToyLoss.calls += 1
        assert x.positives.shape == (x.target.shape[0], x.target.shape[0])
        return (1 - x.target[:, 0]).mean()


TOY = R.LossEntry(f"{__name__}:ToyLoss", "a toy term from the test module", default=0.5)


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> None:
    with pytest.raises(SystemExit) as exc:
        main([*args, "--device", "cpu", "--quiet"])
        raise SystemExit(0)
    assert exc.value.code == 0, capsys.readouterr().err


def _train_records(out: Path) -> list[dict]:
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return [r for r in rows if r["split"] == "train"]


def test_a_toy_loss_from_the_test_module_trains_through_the_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """One registry line each, and `train-teacher` / `distill` (the real CLI) compute, log and sum the term."""
    from cl2cm.demo.world import generate_world

    monkeypatch.setitem(R.TEACHER_LOSSES, "toy", TOY)
    monkeypatch.setitem(R.STUDENT_LOSSES, "toy", TOY)
    world = tmp_path / "world"
    generate_world(world, n_train=4, n_val=4, n_test=12)
    en, de = world / "test.en.jsonl", world / "test.de.jsonl"
    ToyLoss.calls = 0
    _run(capsys, "train-teacher", "--src", str(en), "--tgt", str(de), "--encoder", str(world / "encoder"),
         "--dim", "16", "--epochs", "1", "--batch-size", "20", "--log-every", "1", "--out", str(tmp_path / "teacher"))
    steps = _train_records(tmp_path / "teacher")
    assert ToyLoss.calls == 3 and len(steps) == 3  # 60 pairs / 20: every step called the term once
    for r in steps:  # loss = 1·nce + 0.1·ot (the defaults) + 0.5·toy, in that order
        assert r["toy"] > 0 and r["loss"] == pytest.approx(r["nce"] + 0.1 * r["ot"] + 0.5 * r["toy"], rel=1e-5)

    _run(capsys, "extract-features", str(world / "test_images.txt"), "--root", str(world / "images" / "test"),
         "--model", str(world / "tiny-vit.json"), "--pretrained", "none", "--workers", "0",
         "--out", str(tmp_path / "feats"))
    _run(capsys, "distill", "--teacher", str(tmp_path / "teacher"), "--features", str(tmp_path / "feats"),
         "--src", str(en), "--tgt", str(de), "--epochs", "1", "--batch-size", "20", "--log-every", "1",
         "--loss", "toy=2", "--loss", "vt=0.25", "--out", str(tmp_path / "student"))
    for r in _train_records(tmp_path / "student"):  # --loss sets the plug-in's weight and a built-in's
        assert r["loss"] == pytest.approx(0.25 * r["vt"] + 0.5 * r["kt"] + 2 * r["toy"], rel=1e-5)
    assert ToyLoss.calls == 6
    manifest = json.loads((tmp_path / "student" / "manifest.json").read_text())
    assert manifest["extra"]["options"]["losses"] == {"toy": 2.0, "vt": 0.25}

    # a name no registry holds: one line naming --loss, exit 2, before any work
    with pytest.raises(SystemExit) as exc:
        main(["train-teacher", "--src", str(en), "--tgt", str(de), "--encoder", str(world / "encoder"), "--loss",
              "nope=1", "--out", str(tmp_path / "t2"), "--device", "cpu", "--quiet"])
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 2 and len(err.splitlines()) == 1, err
    assert "--loss 'nope': no such loss term here; registered: nce, triplet, ot, toy" in err, err
    assert not (tmp_path / "t2").exists()


class _Options:
    """Stage options as `weights` reads them: weight fields, a switch, the `losses` overrides."""

    def __init__(self, **kw: object) -> None:
        self.vt_weight, self.en_weight, self.kt_weight, self.transfer, self.losses = 0.5, 0.0, 0.5, True, {}
        self.__dict__.update(kw)


def test_weights_come_from_the_field_the_switch_and_the_overrides() -> None:
    reg = {**R.STUDENT_LOSSES, "toy": TOY}
    assert R.weights(reg, _Options()) == {"vt": 0.5, "en": 0.0, "kt": 0.5, "toy": 0.5}
    assert R.active(reg, _Options(transfer=False)) == {"vt": 0.5, "toy": 0.5}  # --no-transfer
    assert R.active(reg, _Options(losses={"toy": 0, "en": 2.0, "vt": 0.25})) == {"vt": 0.25, "en": 2.0, "kt": 0.5}
    with pytest.raises(ConfigError, match="'nope': no such loss term here; registered: vt, en, kt, toy"):
        R.weights(reg, _Options(losses={"nope": 1.0}))
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ConfigError, match="a weight must be a finite number >= 0"):
            R.weights(reg, _Options(losses={"vt": bad}))


def test_parse_loss_weights_and_the_flag_help_names_the_registered_terms() -> None:
    from cl2cm.config import help_of
    from cl2cm.config.distill import DistillOptions
    from cl2cm.config.teacher import TeacherOptions
    from cl2cm.config.train import parse_loss_weights

    assert parse_loss_weights(["kt=0.3", " toy = 1 "]) == {"kt": 0.3, "toy": 1.0}
    assert parse_loss_weights(None) is None and parse_loss_weights([]) is None
    for bad in ("kt", "=1", "kt=x", "kt="):
        with pytest.raises(ConfigError, match="expected NAME=WEIGHT"):
            parse_loss_weights([bad])
    for options, registry in ((DistillOptions, R.STUDENT_LOSSES), (TeacherOptions, R.TEACHER_LOSSES)):
        assert f"registry: {', '.join(registry)}, and plug-ins" in help_of(options, "losses")


def test_sum_terms_is_the_weighted_sum_in_registry_order() -> None:
    """The sum and what is logged, on a fixed batch: 0.5·vt + 0.5·kt (its logged parts) + 0.5·toy."""
    from cl2cm.losses import InfoNCE, RelationalTransferLoss, same_group_mask

    class Options(_Options):
        temperature, kt_temperature, kt_teacher_temperature, kt_rows, kt_columns = 0.07, 0.1, None, True, True
        feat_weight, rel_weight = 0.0, 0.0

    g = torch.Generator().manual_seed(0)
    t, v, tt, te = (torch.nn.functional.normalize(torch.randn(6, 8, generator=g), dim=-1) for _ in range(4))
    pos = same_group_mask(torch.tensor([0, 0, 1, 2, 3, 3]))
    w, terms = build_terms({**R.STUDENT_LOSSES, "toy": TOY}, Options())
    assert list(terms) == ["vt", "kt", "toy"] and w == {"vt": 0.5, "kt": 0.5, "toy": 0.5}
    out = sum_terms(w, terms, LossInputs(target=t, visual=v, positives=pos, teacher_target=tt, teacher_english=te))
    vt = InfoNCE(0.07)(t, v, pos)
    kt = RelationalTransferLoss(0.1)(t, v, tt, te).total
    toy = (1 - t[:, 0]).mean()
    assert torch.equal(out["loss"], torch.zeros(()) + 0.5 * vt + 0.5 * kt + 0.5 * toy)
    assert set(out) == {"loss", "vt", "kt", "toy"}

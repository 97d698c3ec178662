"""Several target languages in training: pairs per language, balanced epochs, per-language validation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch.utils.data import DistributedSampler
from toy import ToyTask

from cl2cm.cli import main
from cl2cm.errors import UserError
from cl2cm.models import load_model
from cl2cm.train.data import LanguageBalancedSampler, per_language_metrics, read_language_pairs
from cl2cm.train.engine import TrainConfig, _Fit


def _jsonl(path: Path, lang: str, texts: list[str], ids: list[str] | None = None) -> Path:
    ids = ids or [f"im{i}#0" for i in range(len(texts))]
    path.write_text("".join(json.dumps({"id": i, "lang": lang, "text": t}) + "\n" for i, t in zip(ids, texts,
                                                                                                   strict=True)))
    return path


def test_balanced_sampler_gives_every_language_an_equal_share() -> None:
    langs = torch.tensor([0] * 900 + [1] * 90 + [2] * 10)
    sampler = LanguageBalancedSampler(langs, seed=0)
    first = list(sampler)
    assert len(first) == len(langs) == len(sampler)  # an epoch is as long as the corpus
    assert torch.bincount(langs[first]).tolist() == [334, 333, 333]
    big = [i for i in first if langs[i] == 0]
    assert len(set(big)) == len(big)  # the large language: a fresh subset, no repeats within the epoch
    small = [i for i in first if langs[i] == 2]
    assert set(small) == set(range(990, 1000))  # the small one: every item, repeated (33-34 times each)
    sampler.set_epoch(1)
    second = list(sampler)
    assert second != first and set(i for i in second if langs[i] == 0) != set(big)
    sampler.set_epoch(0)
    assert list(sampler) == first  # seed + epoch determine the order (a resume reproduces it)
    ranks = [list(LanguageBalancedSampler(langs, num_replicas=2, rank=r, seed=0)) for r in (0, 1)]
    assert ranks[0] + ranks[1] != [] and len(ranks[0]) == len(ranks[1]) == 500
    assert sorted(ranks[0] + ranks[1]) == sorted(first)  # the ranks split one epoch's order between them


@pytest.mark.parametrize(("sampling", "expected"), [("balanced", LanguageBalancedSampler),
                                                     ("proportional", DistributedSampler)])
def test_engine_samples_languages_as_configured(tmp_path: Path, sampling: str, expected: type) -> None:
    task = ToyTask(n=40)
    task.train_languages = lambda: torch.tensor([0] * 30 + [1] * 10)  # type: ignore[method-assign]
    run = _Fit(task, TrainConfig(batch_size=8, device="cpu", language_sampling=sampling), tmp_path)
    assert isinstance(run.sampler, expected)
    with pytest.raises(UserError, match="^language_sampling 'uniform': expected one of"):  # the field (CLI: the flag)
        TrainConfig(language_sampling="uniform").validate_values()


def test_per_language_metrics_mean_selects() -> None:
    per = {"de": {"val_rsum": 100.0, "val_r1": 10.0}, "fr": {"val_rsum": 50.0, "val_r1": 30.0}}
    m = per_language_metrics(per)
    assert m["val_rsum"] == 75.0 and m["val_r1"] == 20.0 and m["val_rsum_de"] == 100.0 and m["val_r1_fr"] == 30.0
    assert per_language_metrics({"de": per["de"]}) == per["de"]  # one language: today's keys only


def test_read_language_pairs_pairs_each_file_by_id(tmp_path: Path) -> None:
    en = _jsonl(tmp_path / "en.jsonl", "en", ["a dog", "a cat", "a cow"])
    de = _jsonl(tmp_path / "de.jsonl", "de", ["ein Hund", "eine Katze"])
    fr = _jsonl(tmp_path / "fr.jsonl", "fr", ["une vache", "un chien", "un chat"], ["im2#0", "im0#0", "im1#0"])
    lp = read_language_pairs(en, [de, fr], None)
    assert lp.languages == ["de", "fr"] and lp.language.tolist() == [0, 0, 1, 1, 1]
    assert [(s.text, t.text) for s, t in lp.of(1)] == [("a cow", "une vache"), ("a dog", "un chien"),
                                                       ("a cat", "un chat")]
    assert lp.counts() == {"de": 2, "fr": 3}
    assert read_language_pairs(en, [de, fr], None, max_pairs=1, minimum=1).counts() == {"de": 1, "fr": 1}  # per file


def test_train_teacher_on_two_languages_records_them(tiny_bert_dir: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture) -> None:
    n = 12
    en = _jsonl(tmp_path / "train.en.jsonl", "en", [f"A dog number {i} runs." for i in range(n)])
    de = _jsonl(tmp_path / "train.de.jsonl", "de", [f"Ein Hund Nummer {i} läuft." for i in range(n)])
    fr = _jsonl(tmp_path / "train.fr.jsonl", "fr", [f"Un chien numéro {i} court." for i in range(n // 2)])
    out = tmp_path / "teacher"
    args = ["train-teacher", "--src", str(en), "--tgt", str(de), "--tgt", str(fr), "--val-src", str(en),
            "--val-tgt", str(de), "--val-tgt", str(fr), "--encoder", str(tiny_bert_dir), "--dim", "16",
            "--train-layers", "all", "--max-length", "16", "--batch-size", "6", "--ot-iters", "5",
            "--device", "cpu", "--out", str(out), "--keep-checkpoints"]  # extended with --resume below
    main([*args, "--epochs", "2"])
    printed = capsys.readouterr().out
    assert "languages" in printed and "de" in printed and "· fr" in printed  # the summary names them (and counts)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["model"]["languages"] == ["de", "fr"] and manifest["extra"]["languages"] == ["de", "fr"]
    assert manifest["extra"]["pairs_per_language"] == {"de": 12, "fr": 6} and manifest["rows"] == 18
    assert {"--tgt de", "--tgt fr", "--val-tgt de", "--val-tgt fr"} <= set(manifest["inputs"])
    assert json.loads((out / "config.json").read_text())["languages"] == ["de", "fr"]
    val = manifest["extra"]["val"]
    assert val["val_rsum"] == pytest.approx((val["val_rsum_de"] + val["val_rsum_fr"]) / 2)  # the selected mean
    recs = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert all("val_rsum_fr" in r for r in recs if r["split"] == "val")
    assert load_model(out).config.languages == ["de", "fr"]
    capsys.readouterr()
    main([*args, "--epochs", "3", "--resume", "-q"])  # a killed or extended run resumes: same languages
    recs = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in recs if r["split"] == "val"] == [0, 1, 2]


def test_one_language_manifest_records_it(tiny_bert_dir: Path, tmp_path: Path) -> None:
    en = _jsonl(tmp_path / "en.jsonl", "en", [f"A dog number {i} runs." for i in range(8)])
    de = _jsonl(tmp_path / "de.jsonl", "de", [f"Ein Hund Nummer {i} läuft." for i in range(8)])
    out = tmp_path / "t"
    main(["train-teacher", "--src", str(en), "--tgt", str(de), "--encoder", str(tiny_bert_dir), "--dim", "16",
          "--train-layers", "all", "--max-length", "16", "--batch-size", "4", "--epochs", "1", "--device", "cpu", "--out", str(out), "-q"])
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["model"]["languages"] == ["de"] and "--tgt" in manifest["inputs"]


def test_several_tgt_user_errors_are_one_line_exit_2(tiny_bert_dir: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture) -> None:
    en = _jsonl(tmp_path / "en.jsonl", "en", ["A dog.", "A cat."])
    de = _jsonl(tmp_path / "de.jsonl", "de", ["Ein Hund.", "Eine Katze."])
    stray = _jsonl(tmp_path / "fr.jsonl", "fr", ["Un chien.", "Un chat."], ["im0#0", "zz#0"])
    de2 = _jsonl(tmp_path / "more.jsonl", "de", ["Ein Hund!", "Eine Katze!"])
    base = ["train-teacher", "--src", str(en), "--tgt", str(de), "--encoder", str(tiny_bert_dir), "--out",
            str(tmp_path / "o"), "--device", "cpu"]
    for extra, expected in (
        (["--tgt", str(stray)], f"1 ids of --tgt {stray} have no caption in --src (first: 'zz#0')"),
        (["--tgt", str(de2)], "are both language 'de' (one file per language)"),
        (["--tgt", str(stray.with_name("missing.fr"))], "missing.fr: file not found"),
        (["--tgt", str(de2), "--language-sampling", "uniform"], "--language-sampling 'uniform'"),
    ):
        with pytest.raises(SystemExit) as exc:
            main([*base, *extra])
        err = capsys.readouterr().err
        assert exc.value.code == 2 and expected in err and err.count("\n") == 1, err
    assert not (tmp_path / "o" / "manifest.json").exists()

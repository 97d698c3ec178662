"""`[data] images` + fractions: one folder split by a seeded hash of each image name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cl2cm.artifacts.captions import read_captions
from cl2cm.artifacts.io import read_lines
from cl2cm.cli import main
from cl2cm.pipeline.config import load_config
from cl2cm.pipeline.plan import plan
from cl2cm.pipeline.split import WholeData, split_of, write_splits


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    (tmp_path / "photos").mkdir()
    with (tmp_path / "all.en.jsonl").open("w") as en, (tmp_path / "all.de.jsonl").open("w") as de:
        for i in range(200):
            for k in range(2):
                en.write(json.dumps({"id": f"p{i:03d}.png#{k}", "image": f"p{i:03d}.png", "text": f"photo {i} {k}"})
                         + "\n")
                de.write(json.dumps({"id": f"p{i:03d}.png#{k}", "image": f"p{i:03d}.png", "text": f"Foto {i} {k}"})
                         + "\n")
    (tmp_path / "lex.json").write_text(json.dumps({"languages": ["de"]}))
    return tmp_path


def test_the_split_is_a_seeded_partition_of_the_images_with_their_captions(folder: Path, tmp_path: Path) -> None:
    whole = WholeData(root=folder / "photos", captions=folder / "all.en.jsonl", val_fraction=0.1,
                      test_fraction=0.2, target_captions={"de": folder / "all.de.jsonl"})
    write_splits(whole, tmp_path / "a", 0, ["de"])
    lists = {s: read_lines(tmp_path / "a" / "splits" / f"{s}_images.txt") for s in ("train", "val", "test")}
    everything = [x for names in lists.values() for x in names]
    assert sorted(everything) == [f"p{i:03d}.png" for i in range(200)]  # each image in exactly one split
    assert 20 <= len(lists["test"]) <= 60 and 5 <= len(lists["val"]) <= 35  # about 20 % and 10 % of 200
    for split, names in lists.items():
        caps = read_captions(tmp_path / "a" / "splits" / f"{split}.en.jsonl")
        assert {c.image for c in caps} == set(names) and len(caps) == 2 * len(names)
    gold = read_captions(tmp_path / "a" / "splits" / "test.de.jsonl")
    assert {c.image for c in gold} == set(lists["test"])
    assert not (tmp_path / "a" / "splits" / "train.de.jsonl").exists()  # gold captions are not training text
    write_splits(whole, tmp_path / "b", 0, ["de"])  # the same seed: byte for byte the same files
    for f in (tmp_path / "a" / "splits").iterdir():
        assert f.read_bytes() == (tmp_path / "b" / "splits" / f.name).read_bytes()
    assert [split_of(f"p{i:03d}.png", 1, 0.1, 0.2) for i in range(200)] != \
        [split_of(f"p{i:03d}.png", 0, 0.1, 0.2) for i in range(200)]  # another seed, another split


def test_a_folder_config_plans_the_split_first_and_a_changed_fraction_is_refused(
        folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = folder / "p.toml"
    text = ('languages = ["de"]\n[data]\nimages = "photos"\ncaptions = "all.en.jsonl"\nval_fraction = 0.1\n'
            'test_fraction = 0.2\ntarget_captions = { de = "all.de.jsonl" }\n'
            '[translate]\nbackend = "lexicon"\nmodel = "lex.json"\n')
    config.write_text(text)
    cfg = load_config(config)
    stages = plan(cfg, tmp_path / "o")
    assert [s.name for s in stages][:2] == ["split", "translate"] and stages[0].builtin
    assert stages[1].argv[1] == str(tmp_path / "o" / "splits" / "train.en.jsonl")
    assert "eval-student" in [s.name for s in stages]  # gold target captions: the test split is evaluated
    main(["pipeline", str(config), "--out", str(tmp_path / "o"), "--dry-run"])
    printed = capsys.readouterr().out
    assert "# split: `cl2cm pipeline` writes" in printed and not (tmp_path / "o").exists()
    config.write_text(text.replace("[data]\n", "[data]\nwhatever = 1\n"))
    with pytest.raises(SystemExit) as exc:
        main(["pipeline", str(config), "--dry-run"])
    assert exc.value.code == 2 and "[data] whatever: unknown key" in capsys.readouterr().err
    config.write_text(text.replace("test_fraction = 0.2", "test_fraction = 0.95"))
    with pytest.raises(SystemExit):
        main(["pipeline", str(config), "--dry-run"])
    assert "val_fraction + test_fraction must be < 1" in capsys.readouterr().err

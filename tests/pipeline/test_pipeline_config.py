"""The pipeline config: every mistake is one line naming the key, exit 2; the template is a valid config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cl2cm.cli import main
from cl2cm.pipeline.config import load_config, settable_fields, tomllib
from cl2cm.pipeline.plan import plan
from cl2cm.pipeline.template import TEMPLATE
from cl2cm.train.engine import TrainConfig


@pytest.fixture()
def files(tmp_path: Path) -> Path:
    """The files the template names, with a two-language lexicon (no world needed to check a config)."""
    data = tmp_path / "data"
    (data / "images").mkdir(parents=True)
    for name in ("train_images.txt", "val_images.txt", "test_images.txt", "train.en.jsonl", "val.en.jsonl",
                 "val.de.jsonl", "test.en.jsonl", "test.de.jsonl"):
        (data / name).write_text('{"id": "a.png#0", "image": "a.png", "text": "x"}\n')
    (tmp_path / "lexicon.json").write_text(json.dumps({"kind": "lexicon", "languages": ["de", "fr"]}))
    return tmp_path


def config_with(files: Path, edit: str = "", *, replace: tuple[str, str] | None = None) -> Path:
    text = TEMPLATE if replace is None else TEMPLATE.replace(*replace)
    assert replace is None or replace[0] in TEMPLATE
    path = files / "p.toml"
    path.write_text(text + edit)
    return path


def one_line_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2, err
    assert err.count("\n") == 1 and err.startswith("cl2cm: error:"), err
    return err


@pytest.mark.parametrize(("edit", "replace", "needle"), [
    ("\n[distill]\nepochz = 3\n", None, "[distill] epochz: unknown key"),  # a second [distill] is a TOML error
    ("", ("# evaluate_teacher = true", "evaluat_teacher = true"), "evaluat_teacher: unknown key"),
    ("", ("[distill]\n", "[distill]\nepochz = 3\n"), "[distill] epochz: unknown key (cl2cm distill has no field"),
    ("", ("[data.test]\n", "[data.test]\nimage = \"x\"\n"), "[data.test] image: unknown key"),
    ("", ("[train_teacher]\n", "[train_teacher]\nepochs = \"ten\"\n"), "[train_teacher] epochs: expected an integer"),
    ("", ("[train_teacher]\n", "[train_teacher]\nlr = true\n"), "[train_teacher] lr: expected a number"),
    ("", ("[extract_features]\n", "[extract_features]\ntokens = 1\n"), "[extract_features] tokens: expected true"),
    ("", ("seed = 0 ", "seed = \"0\" "), "seed: expected an integer"),
    ("", ("data/test.de.jsonl", "data/nope.de.jsonl"), "[data.test] target_captions.de: "),
    ("", ("data/train.en.jsonl", "missing.jsonl"), "does not exist"),
    ("", ("[distill]\n", "[distill]\nseed = 3\n"), "[distill] seed: set once at the top"),
    ("", ("[distill]\n", "[distill]\nresume = true\n"), "[distill] resume: set by the pipeline"),
    ("", ("[train_teacher]\n", "[train_teacher]\nlr = -1.0\n"), "[train_teacher] lr: Invalid value for '--lr'"),
])
def test_bad_config_is_one_line_naming_the_key(files: Path, edit: str, replace: tuple[str, str] | None,
                                               needle: str, capsys: pytest.CaptureFixture[str]) -> None:
    if edit.startswith("\n[distill]"):  # TOML itself refuses a table defined twice: still one line
        path = config_with(files, edit)
        assert "not valid TOML" in one_line_error(["pipeline", str(path)], capsys)
        return
    path = config_with(files, edit, replace=replace)
    err = one_line_error(["pipeline", str(path), "--out", str(files / "o"), "--dry-run"], capsys)
    assert needle in err and str(path) in err, err
    assert not (files / "o").exists()


def test_a_language_without_a_translation_model_is_named(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    two = ("languages = [\"de\"]", "languages = [\"de\", \"fr\"]")
    table = config_with(files, replace=two)
    table.write_text(table.read_text().replace('model = "facebook/nllb-200-distilled-600M"',
                                               'model = { de = "Helsinki-NLP/opus-mt-en-de" }')
                     .replace('{ de = "data/val.de.jsonl" }', '{ de = "data/val.de.jsonl", fr = "data/val.de.jsonl" }')
                     .replace('{ de = "data/test.de.jsonl" }',
                              '{ de = "data/test.de.jsonl", fr = "data/test.de.jsonl" }'))
    err = one_line_error(["pipeline", str(table), "--dry-run"], capsys)
    assert "[translate] model: no translation model for language 'fr'" in err
    base = table.read_text()
    one = base.replace('{ de = "Helsinki-NLP/opus-mt-en-de" }', '"Helsinki-NLP/opus-mt-en-de"')
    table.write_text(one)  # one single-pair model for two languages: its name says it cannot
    err = one_line_error(["pipeline", str(table), "--dry-run"], capsys)
    assert "no translation model for language 'fr': Helsinki-NLP/opus-mt-en-de translates en→de only" in err
    table.write_text(one.replace('"Helsinki-NLP/opus-mt-en-de"', '{ de = "Helsinki-NLP/opus-mt-en-de", '
                                 'fr = "Helsinki-NLP/opus-mt-en-de" }'))
    assert "translates en→de only" in one_line_error(["pipeline", str(table), "--dry-run"], capsys)
    lexicon = base.replace('{ de = "Helsinki-NLP/opus-mt-en-de" }', '"lexicon.json"').replace(
        'backend = "hf"', 'backend = "lexicon"').replace('["de", "fr"]', '["de", "cs"]').replace("fr =", "cs =")
    table.write_text(lexicon)
    err = one_line_error(["pipeline", str(table), "--dry-run"], capsys)
    assert "no translation model for language 'cs': the lexicon" in err


def test_a_config_named_by_a_relative_path_finds_the_files_beside_it(files: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """`make demo` (`--out runs/demo`) loads runs/demo/pipeline.toml: its lexicon is runs/demo/lexicon.json,
    not runs/demo/runs/demo/lexicon.json (the name was joined to the folder twice)."""
    path = config_with(files, replace=('backend = "hf"                                  # hf | ct2 | lexicon\n'
                                       'model = "facebook/nllb-200-distilled-600M"',
                                       'backend = "lexicon"\nmodel = "lexicon.json"'))
    monkeypatch.chdir(files.parent)
    config = load_config(Path(files.name) / path.name)
    assert Path(config.option("translate", "model")) == Path(files.name) / "lexicon.json"


def test_unknown_key_is_one_line_exit_2_before_anything_runs(files: Path, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    path = config_with(files, replace=("[eval]\n", "[eval]\nbogus_key = 1\n"))
    err = one_line_error(["pipeline", str(path), "--out", str(tmp_path / "out")], capsys)
    assert f"{path}: [eval] bogus_key: unknown key" in err
    assert not (tmp_path / "out").exists()


def test_init_writes_a_template_that_is_a_valid_config(files: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "new.toml"
    main(["pipeline", "--init", str(path)])
    assert path.read_text() == TEMPLATE and "cl2cm pipeline" in capsys.readouterr().out
    assert one_line_error(["pipeline", "--init", str(path)], capsys).endswith("exists; choose another file "
                                                                             "name or delete it\n")
    cfg = load_config(config_with(files))  # with its data files present, the template loads as it is
    names = [s.name for s in plan(cfg, tmp_path / "o")]
    assert names == ["translate", "extract-features-train", "extract-features-val", "extract-features-test",
                     "train-teacher", "distill", "eval-teacher", "eval-student"]
    # every commented-out option in the template is a real key of its section
    for line in TEMPLATE.splitlines():
        if line.startswith("# ") and " = " in line and line[2:].split(" = ")[0].isidentifier():
            key = line[2:].split(" = ")[0]
            section = _section_of(line)
            assert section is None or key in settable_fields(section), (section, key)
    tomllib.loads(TEMPLATE)


def _section_of(line: str) -> str | None:
    current = None
    for text in TEMPLATE.splitlines():
        if text.startswith("[") and not text.startswith("[data"):
            current = text.strip("[]")
        elif text.startswith("[data"):
            current = None
        if text == line:
            return current
    return None


def test_stage_keys_are_the_stage_configs_fields_with_their_flags() -> None:
    fields = settable_fields("distill")
    assert fields["batch_size"].flag == "--batch-size" == TrainConfig.__dataclass_fields__["batch_size"].metadata["flag"]
    assert fields["num_workers"].flag == "--workers"  # the flag the config field registers
    assert "resume" not in fields and "seed" not in fields and "kt_rows" not in fields  # pipeline/top/library
    assert {"encoder", "dim", "train_layers", "epochs", "ot_weight"} <= set(settable_fields("train_teacher"))


def test_redo_from_an_unknown_stage_lists_the_stages(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = config_with(files)
    err = one_line_error(["pipeline", str(path), "--out", str(files / "o"), "--dry-run", "--redo-from", "distil"],
                         capsys)
    assert "--redo-from 'distil': expected one of translate, extract-features-train" not in err
    assert "--redo-from 'distil': expected one of" in err and "train-teacher" in err and "eval-student" in err


@pytest.mark.parametrize(("content", "needle"), [
    (b"", "languages: missing"),
    (b"\x00\xff\xfe garbage \x80", "not a UTF-8 text file"),
    (b"languages = [\"de\"\n", "not valid TOML"),
    (b"languages = \"de\"\n", "languages: expected a list of a string"),
    (b"languages = [\"de\", \"de\"]\n", "give each language once"),
    (b"languages = [\"d e\"]\n", "is not a language code"),
    (b"languages = [\"de\"]\n", "[data] train: missing"),
    (b"languages = [\"de\"]\ndata = 3\n", "data: expected a table"),
])
def test_hostile_config_files_are_one_line(tmp_path: Path, content: bytes, needle: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "dir with spaces ü" / "p.toml"
    path.parent.mkdir()
    path.write_bytes(content)
    assert needle in one_line_error(["pipeline", str(path), "--dry-run"], capsys)


def test_config_paths_that_are_not_files_and_an_out_that_is_a_file(files: Path, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert "no such config file" in one_line_error(["pipeline", str(tmp_path / "nope.toml")], capsys)
    assert "not a UTF-8 text file" in one_line_error(["pipeline", str(tmp_path)], capsys)  # a directory
    assert "languages: missing" in one_line_error(["pipeline", "/dev/null"], capsys)
    bom = config_with(files)
    bom.write_bytes(b"\xef\xbb\xbf" + bom.read_bytes())  # a BOM is read past
    (tmp_path / "afile").write_text("x")
    assert "--out: is a file, expected a directory" in one_line_error(
        ["pipeline", str(bom), "--out", str(tmp_path / "afile"), "--dry-run"], capsys)
    listing = config_with(files, replace=("data/train.en.jsonl", "data"))  # a folder where a file is expected
    assert "[data.train] captions: " in one_line_error(["pipeline", str(listing), "--dry-run"], capsys)

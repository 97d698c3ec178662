"""The CLI names the config fields of a library `ConfigError` by the flags the user typed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cl2cm.cli import main
from cl2cm.cli.flags import CONFIGS, default_flag, flag_of, registered_flags, user_message
from cl2cm.config import leaves
from cl2cm.errors import ConfigError, UserError
from cl2cm.train.engine import TrainConfig


def test_a_field_is_named_by_its_registered_flag_or_the_default_rule() -> None:
    assert flag_of("num_workers") == "--workers"  # TrainConfig registers it in the field's metadata
    assert flag_of("out_dir") == "--out"  # the stages' output argument
    assert flag_of("pooling") == "--pooling" and flag_of("kt_teacher_temperature") == "--kt-teacher-temperature"
    assert flag_of("batch_size") == "--batch-size"


def test_no_field_name_is_registered_with_two_flags() -> None:
    """One name, one flag: a field of two configs must be the same flag in both (the registry is flat)."""
    seen: dict[str, str] = {}
    for config in CONFIGS:
        for _, f in leaves(config):
            flag = f.metadata["flag"] or default_flag(f.name)
            assert seen.setdefault(f.name, flag) == flag, f"{f.name}: {seen[f.name]} and {flag}"
    assert registered_flags()["num_workers"] == "--workers"


def test_user_message_renders_config_errors_only() -> None:
    assert user_message(ConfigError("{num_workers} {value}: must be >= 0", value=-1)) == "--workers -1: must be >= 0"
    assert user_message(UserError("--k 0: plain", path="a.txt")) == "a.txt: --k 0: plain"
    with pytest.raises(ConfigError) as e:
        TrainConfig(num_workers=-1).validate_values()
    assert str(e.value) == "num_workers -1: must be >= 0"  # what a Python caller reads


def _jsonl(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.write_text("".join(json.dumps({"id": i, "lang": "en", "text": t}) + "\n" for i, t in rows))
    return path


@pytest.mark.parametrize(("flags", "line"), [
    (["--pooling", "max"], "cl2cm: error: --pooling 'max': expected one of mean, cls, attention"),
    (["--nce-weight", "0"], "cl2cm: error: --nce-weight and --triplet-weight are both 0: no sentence-level "
                            "loss to train"),
    (["--max-pairs", "1"], "cl2cm: error: --max-pairs 1: must be at least 2"),
])
def test_the_command_line_says_the_flag(tmp_path: Path, capsys: pytest.CaptureFixture, flags: list[str],
                                        line: str) -> None:
    """`train-teacher` gets a ConfigError from the library and prints it as one line naming the flag."""
    en = _jsonl(tmp_path / "en.jsonl", [("a#0", "A dog."), ("b#0", "A cat.")])
    de = tmp_path / "de.jsonl"  # a target in another language (the source as --tgt is refused on its own)
    de.write_text(en.read_text().replace('"lang": "en"', '"lang": "de"'))
    with pytest.raises(SystemExit) as exc:
        main(["train-teacher", "--src", str(en), "--tgt", str(de), "--out", str(tmp_path / "o"),
              "--encoder", str(tmp_path / "no-model"), "--device", "cpu", *flags])
    assert exc.value.code == 2 and capsys.readouterr().err == line + "\n"
    assert not (tmp_path / "o" / "manifest.json").exists()

"""`cl2cm translate` on the command line: summary, --help, one-line errors with exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cl2cm.cli import main


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(argv)
        raise SystemExit(0)
    cap = capsys.readouterr()
    return int(exc.value.code or 0), cap.out, cap.err


def test_help_has_example_and_lexicon_warning(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["translate", "--help"], capsys)
    text = " ".join(out.split())
    assert code == 0
    assert "cl2cm translate" in text and "--to de" in text
    assert "not a general MT system" in text


def test_translate_prints_summary(tiny_marian: Path, small_corpus: Path, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["translate", str(small_corpus), "--to", "de", "--model", str(tiny_marian), "--out",
                        str(tmp_path / "mt"), "--device", "cpu", "--max-tokens", "512"], capsys)
    assert code == 0
    assert "complete" in out and "72" in out and "60" in out  # rows, distinct
    assert (tmp_path / "mt" / "manifest.json").exists()


@pytest.mark.parametrize(("extra", "needle"), [
    (["--to", "xx"], "--to 'xx'"),
    (["--to", "de", "--beams", "0"], "'--beams': 0 is out of range"),
    (["--to", "de", "--shard", "3/2"], "--shard"),
    (["--to", "de", "--noise", "0.2"], "--noise"),
    (["--to", "de", "--back-translate"], "--back-model"),
    (["--to", "de", "--backend", "nope"], "--backend"),
])
def test_bad_flags_one_line_exit_2(extra: list[str], needle: str, tiny_nllb: Path, small_corpus: Path,
                                   tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "mt"
    code, _, err = run(["translate", str(small_corpus), "--model", str(tiny_nllb), "--out", str(out), *extra],
                       capsys)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("cl2cm: error:") and needle in err
    assert not out.exists()  # nothing half-written, not even an empty directory


def test_bad_inputs_one_line_exit_2(tiny_marian: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty.jsonl").write_text("", encoding="utf-8")
    (tmp_path / "blank.jsonl").write_text(json.dumps({"id": "a#0", "lang": "en", "text": "  "}) + "\n")
    (tmp_path / "bert").mkdir()
    (tmp_path / "bert" / "config.json").write_text(json.dumps({"model_type": "bert"}))
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps({"id": "a#0", "lang": "en", "text": "A dog."}) + "\n")
    cases = [
        (tmp_path / "missing.jsonl", str(tiny_marian), "file not found"),
        (tmp_path / "empty.jsonl", str(tiny_marian), "empty file"),
        (tmp_path / "blank.jsonl", str(tiny_marian), "blank.jsonl:1: empty caption"),
        (good, str(tmp_path / "bert"), "not a sequence-to-sequence"),
        (good, str(tmp_path / "no-such-model"), "--model"),
    ]
    for captions, model, needle in cases:
        out = tmp_path / "out"
        code, _, err = run(["translate", str(captions), "--to", "de", "--model", model, "--out", str(out)], capsys)
        assert code == 2, err
        assert err.count("\n") == 1 and needle in err, err
        assert not out.exists()

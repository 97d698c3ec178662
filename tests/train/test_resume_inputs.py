"""Resume must not mix runs (issue 25 item 3): a tokenizer changed between kill and resume is refused, and a
checkpoint whose state does not parse is one line, exit 2."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from safetensors.torch import save_file

from cl2cm.artifacts.store import load_safetensors
from cl2cm.cli import main


def _jsonl(path: Path, lang: str, text: str) -> Path:
    path.write_text("".join(json.dumps({"id": f"im{i}#0", "lang": lang, "text": text.format(i)}) + "\n"
                            for i in range(12)))
    return path


def _args(tmp_path: Path, encoder: Path, out: Path) -> list[str]:
    en = _jsonl(tmp_path / "en.jsonl", "en", "A dog number {} runs.")
    de = _jsonl(tmp_path / "de.jsonl", "de", "Ein Hund Nummer {} läuft.")
    return ["train-teacher", "--src", str(en), "--tgt", str(de), "--encoder", str(encoder), "--dim", "16",
            "--train-layers", "1", "--max-length", "16", "--batch-size", "4", "--epochs", "1", "--device", "cpu",
            "--out", str(out), "--quiet", "--ot-weight", "0", "--keep-checkpoints"]


def _swap_two_tokens(encoder: Path) -> None:
    """Same files, same vocabulary size, same weights: two word pieces trade their ids."""
    path = encoder / "tokenizer.json"
    tok = json.loads(path.read_text(encoding="utf-8"))
    vocab = tok["model"]["vocab"]
    by_id = sorted(vocab, key=vocab.get)
    a, b = by_id[200], by_id[201]  # two ordinary word pieces (the specials come first)
    vocab[a], vocab[b] = vocab[b], vocab[a]
    path.write_text(json.dumps(tok, ensure_ascii=False), encoding="utf-8")


def test_resume_after_the_tokenizer_changed_is_refused(tiny_bert_dir: Path, tmp_path: Path, capsys) -> None:
    encoder = Path(shutil.copytree(tiny_bert_dir, tmp_path / "encoder"))
    out = tmp_path / "teacher"
    args = _args(tmp_path, encoder, out)
    main(args)
    _swap_two_tokens(encoder)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main([*args, "--epochs", "2", "--resume"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and len(err.splitlines()) == 1, err
    assert "last.safetensors: the checkpoint was trained on other inputs or model options" in err
    # the same resume with the tokenizer the run started with continues
    shutil.copy(tiny_bert_dir / "tokenizer.json", encoder / "tokenizer.json")
    main([*args, "--epochs", "2", "--resume"])
    recs = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in recs if r["split"] == "val"] in ([], [0, 1])


def test_a_checkpoint_whose_state_does_not_parse_is_one_line(tiny_bert_dir: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "teacher"
    args = _args(tmp_path, tiny_bert_dir, out)
    main(args)
    last = out / "checkpoints" / "last.safetensors"
    tensors = load_safetensors(last)
    save_file(tensors, str(last), metadata={"cl2cm": '{"state": {"epoch": 1,'})  # torn JSON, no digest
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main([*args, "--epochs", "2", "--resume"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert f"{last}: corrupt checkpoint metadata" in err

"""A translation backend plugs in: one class and one `TRANSLATION_BACKENDS` line, then `cl2cm translate
--backend NAME` runs it through the real CLI (the runner's dedupe, chunks, merge and manifest included)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cl2cm.cli import main
from cl2cm.translation.base import TRANSLATION_BACKENDS, BackendOptions


class ReverseBackend:
    """A toy engine: the words of each sentence in reverse order, tagged with the target language."""

    name = "reverse"
    max_source_tokens = 64
    batches: list[int] = []

    def __init__(self, model: str, opts: BackendOptions) -> None:
        self.model = model

    def identity(self) -> dict[str, Any]:
        return {"name": self.model, "engine": "reverse"}

    def check_pair(self, src: str, tgt: str) -> None:
        pass

    def count_tokens(self, texts: list[str], src: str, tgt: str) -> list[int]:
        return [len(t.split()) for t in texts]

    def translate(self, texts: list[str], src: str, tgt: str) -> list[str]:
        ReverseBackend.batches.append(len(texts))
        return [f"[{tgt}] " + " ".join(reversed(t.split())) for t in texts]


def test_a_backend_from_the_test_module_translates_through_the_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(TRANSLATION_BACKENDS, "reverse", f"{__name__}:ReverseBackend")
    rows = [{"id": f"im{i}.jpg#0", "image": f"im{i}.jpg", "lang": "en", "text": f"a dog number {i % 3} runs"}
            for i in range(6)]
    corpus = tmp_path / "captions.jsonl"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in rows))
    ReverseBackend.batches = []
    with pytest.raises(SystemExit) as exc:
        main(["translate", str(corpus), "--to", "de", "--backend", "reverse", "--model", "toy", "--out",
              str(tmp_path / "mt"), "--device", "cpu", "--quiet"])
        raise SystemExit(0)
    assert exc.value.code == 0, capsys.readouterr().err
    out = [json.loads(line) for line in (tmp_path / "mt" / "de.jsonl").read_text().splitlines()]
    assert [r["id"] for r in out] == [r["id"] for r in rows]
    assert out[4]["text"] == "[de] runs 1 number dog a" and out[4]["source"] == rows[4]["text"]
    assert sum(ReverseBackend.batches) == 3  # 6 captions, 3 distinct sentences: deduplicated by the runner
    manifest = json.loads((tmp_path / "mt" / "manifest.json").read_text())
    assert manifest["kind"] == "translations" and "reverse" in json.dumps(manifest)

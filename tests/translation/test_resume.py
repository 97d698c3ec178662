"""SIGKILL mid-run, rerun: no lost or duplicated rows, output identical to an uninterrupted run."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from cl2cm.artifacts.captions import read_captions
from cl2cm.testhook import paused
from cl2cm.translation.runner import TranslateConfig, translate_corpus


def test_sigkill_then_resume_equals_uninterrupted(tiny_marian: Path, multi30k_slice: Path, tmp_path: Path) -> None:
    recs = read_captions(multi30k_slice / "test_2016_flickr.en")[:48]
    corpus = tmp_path / "c.jsonl"
    corpus.write_text("".join(json.dumps(r.to_dict()) + "\n" for r in recs), encoding="utf-8")
    cfg = TranslateConfig(["de"], str(tiny_marian), chunk_size=4, max_tokens=64)
    out = tmp_path / "killed"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "cl2cm", "translate", str(corpus), "--to", "de", "--model", str(tiny_marian),
           "--out", str(out), "--chunk-size", "4", "--max-tokens", "64", "--quiet", "--device", "cpu"]
    with paused(cmd, "de:3", env=env, timeout=120):
        pass  # stopped after 3 of its 12 chunks, then SIGKILLed
    n_before = len(list((out / ".parts" / "de").glob("chunk-*.jsonl")))
    assert n_before == 3 and not (out / "manifest.json").exists()
    assert (out / ".cl2cm.lock").exists()  # left by the killed run: stale

    resumed = translate_corpus(corpus, out, cfg, progress=False)
    assert resumed.status == "complete"
    assert resumed.languages[0].translated == 48 - 4 * n_before  # finished chunks were not redone
    whole = translate_corpus(corpus, tmp_path / "whole", cfg, progress=False)
    assert whole.languages[0].translated == 48
    assert (out / "de.jsonl").read_bytes() == (tmp_path / "whole" / "de.jsonl").read_bytes()
    assert [r.id for r in read_captions(out / "de.jsonl")] == [r.id for r in recs]
    assert not (out / ".parts").exists()

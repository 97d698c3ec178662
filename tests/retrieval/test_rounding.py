"""Output that reads well: metrics rounded once to what they mean; the recall plot says what it shows."""

from __future__ import annotations

import json
import re
from pathlib import Path

import torch

from cl2cm.retrieval.evaluate import Embedded, plot_title
from cl2cm.retrieval.metrics import compute_ranks, retrieval_metrics, rounded


def test_rounded_keeps_each_metric_to_its_meaning() -> None:
    m = {"t2v": {"R@1": 57.599999999999994, "MedR": 6.0, "MeanR": 30.234, "mAP": 0.3520923525637414},
         "SumR": 264.99999999999994, "queries": 500, "gallery": 500, "warnings": ["x"], "languages": ["de"]}
    r = rounded(m)
    assert r == {"t2v": {"R@1": 57.6, "MedR": 6.0, "MeanR": 30.23, "mAP": 0.3521}, "SumR": 265.0,
                 "queries": 500, "gallery": 500, "warnings": ["x"], "languages": ["de"]}
    assert isinstance(r["queries"], int) and rounded(r) == r  # idempotent


def test_eval_json_holds_no_float_noise(tmp_path: Path, cli) -> None:
    from cl2cm.artifacts.manifest import Manifest
    from cl2cm.artifacts.store import save_store

    g = torch.Generator().manual_seed(0)
    gallery = torch.nn.functional.normalize(torch.randn(7, 8, generator=g), dim=-1)  # 100/7: never exact
    idx = torch.arange(7).repeat_interleave(3)
    query = torch.nn.functional.normalize(gallery[idx] + torch.randn(21, 8, generator=g), dim=-1)
    names = [f"i{i}" for i in range(7)]
    save_store(tmp_path / "q", query, [f"{names[i]}#{k}" for k, i in enumerate(idx.tolist())],
               Manifest(kind="embeddings"), images=[names[i] for i in idx.tolist()])
    save_store(tmp_path / "g", gallery, names, Manifest(kind="features"))
    out = tmp_path / "m.json"
    code, _, err = cli(["eval", "--query-emb", str(tmp_path / "q"), "--gallery-emb", str(tmp_path / "g"),
                        "--out", str(out), "--quiet"])
    assert code == 0, err
    text = out.read_text()
    assert not re.search(r"\d\.\d{5,}", text), text  # at most 4 decimals (mAP), recall 2
    exact = retrieval_metrics(compute_ranks(query, gallery, idx))
    assert json.loads(text)["t2v"]["R@1"] == round(exact["t2v"]["R@1"], 2)
    assert exact["t2v"]["R@1"] != round(exact["t2v"]["R@1"], 2)  # the case needs rounding at all


def test_plot_title_names_model_language_and_gallery() -> None:
    emb = Embedded(torch.zeros(1, 2), ["a#0"], ["a"], torch.zeros(1, 2), ["a"],
                   model={"dir": "runs/demo/student"}, inputs={"features": Path("runs/demo/features/test")},
                   query_lang="fr")
    assert plot_title(emb) == "model demo/student · fr · gallery features/test"
    stores = Embedded(torch.zeros(1, 2), ["a#0"], ["a"], torch.zeros(1, 2), ["a"],
                      inputs={"query_emb": Path("emb/queries"), "gallery_emb": Path("emb/gallery")})
    assert plot_title(stores) == "model emb/queries · language not given · gallery emb/gallery"

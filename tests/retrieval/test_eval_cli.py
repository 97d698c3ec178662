"""`cl2cm eval` through the real entry point: embedding stores built here, JSON keys, table, exit 2 on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from cl2cm.artifacts.manifest import Manifest
from cl2cm.artifacts.store import save_store
from cl2cm.retrieval.metrics import compute_ranks, retrieval_metrics, rounded


def make_stores(root: Path, n_img: int = 30, per: int = 5, dim: int = 16, seed: int = 0,
                query_dim: int | None = None) -> tuple[Path, Path, torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    gallery = torch.nn.functional.normalize(torch.randn(n_img, dim, generator=g), dim=-1)
    idx = torch.arange(n_img).repeat_interleave(per)
    query = torch.nn.functional.normalize(gallery[idx] + 0.8 * torch.randn(len(idx), dim, generator=g), dim=-1)
    if query_dim is not None:
        query = torch.randn(len(idx), query_dim, generator=g)
    names = [f"img{i:03d}.jpg" for i in range(n_img)]
    qdir = save_store(root / "q", query, [f"{names[i]}#{k % per}" for k, i in enumerate(idx.tolist())],
                      Manifest(kind="embeddings"), images=[names[i] for i in idx.tolist()])
    gdir = save_store(root / "g", gallery, names, Manifest(kind="features"))
    return qdir, gdir, query, gallery, idx


def test_stores_json_exact_keys_table_and_ranks(tmp_path: Path, cli) -> None:
    qdir, gdir, query, gallery, idx = make_stores(tmp_path)
    out, ranks_file = tmp_path / "m.json", tmp_path / "ranks.jsonl"
    code, stdout, err = cli(["eval", "--query-emb", str(qdir), "--gallery-emb", str(gdir), "--out", str(out),
                             "--ranks", str(ranks_file), "--query-block", "7", "--device", "cpu"])
    assert code == 0, err
    metrics = json.loads(out.read_text())
    assert list(metrics) == ["t2v", "v2t", "SumR", "queries", "gallery"]
    for d in ("t2v", "v2t"):
        assert list(metrics[d]) == ["R@1", "R@5", "R@10", "MedR", "MeanR", "mAP"]
    assert metrics == rounded(retrieval_metrics(compute_ranks(query, gallery, idx)))  # rounded once, exactly
    assert metrics["queries"] == 150 and metrics["gallery"] == 30
    assert "t2v" in stdout and "v2t" in stdout and "SumR" in stdout and "MedR" in stdout
    lines = [json.loads(x) for x in ranks_file.read_text().splitlines()]
    assert len(lines) == 150 + 30
    assert lines[0]["query"] == "img000.jpg#0" and lines[0]["target"] == "img000.jpg"
    assert {x["direction"] for x in lines} == {"t2v", "v2t"}


def test_quiet_prints_nothing_and_extra_k(tmp_path: Path, cli) -> None:
    qdir, gdir, *_ = make_stores(tmp_path)
    out = tmp_path / "m.json"
    code, stdout, _ = cli(["eval", "--query-emb", str(qdir), "--gallery-emb", str(gdir), "--quiet", "--recall-at",
                           "1,5,10,20", "--out", str(out)])
    assert code == 0 and stdout == ""
    assert "R@20" in json.loads(out.read_text())["v2t"]


def test_plot_writes_a_png(tmp_path: Path, cli) -> None:
    pytest.importorskip("matplotlib")
    qdir, gdir, *_ = make_stores(tmp_path, n_img=12, per=1)
    png = tmp_path / "curves.png"
    code, _, err = cli(["eval", "--query-emb", str(qdir), "--gallery-emb", str(gdir), "--plot", str(png),
                        "-q"])
    assert code == 0, err
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_fusion_with_identical_mt_store_keeps_t2v(tmp_path: Path, cli) -> None:
    qdir, gdir, query, gallery, idx = make_stores(tmp_path)
    out = tmp_path / "m.json"
    code, _, err = cli(["eval", "--query-emb", str(qdir), "--gallery-emb", str(gdir), "--fuse-translation",
                        str(qdir), "--fuse-weight", "0.3", "--out", str(out), "-q"])
    assert code == 0, err
    # w·minmax(S) + (1−w)·minmax(S) = minmax(S): a per-row monotone map, so t2v is unchanged.
    assert json.loads(out.read_text())["t2v"] == rounded(retrieval_metrics(compute_ranks(query, gallery, idx)))["t2v"]


def _one_line_error(code: int, err: str) -> str:
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cl2cm: error:"), err
    return lines[0]


def test_query_ids_missing_from_gallery(tmp_path: Path, cli) -> None:
    qdir, _, *_ = make_stores(tmp_path)
    gdir = save_store(tmp_path / "g2", torch.randn(3, 16), ["img000.jpg", "x.jpg", "y.jpg"],
                      Manifest(kind="features"))
    line = _one_line_error(*cli(["eval", "--query-emb", str(qdir), "--gallery-emb", str(gdir)])[::2])
    assert (f"145 of 150 queries (--query-emb {qdir}) have no row in the gallery (--gallery-emb {gdir}) "
            "(first: 'img001.jpg')") in line


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--recall-at", "1,500"], "--recall-at 500 is larger than the gallery (30 items)"),
        (["--recall-at", "x"], "--recall-at 'x'"),
        (["--query-block", "0"], "'--query-block': 0 is out of range"),
        (["--ties", "coin"], "--ties 'coin'"),
        (["--fuse-weight", "2"], "'--fuse-weight': 2 is out of range"),
    ],
)
def test_bad_flags(tmp_path: Path, cli, extra: list[str], message: str) -> None:
    qdir, gdir, *_ = make_stores(tmp_path)
    if "--fuse-weight" in extra:
        extra = [*extra, "--fuse-translation", str(qdir)]
    line = _one_line_error(*cli(["eval", "--query-emb", str(qdir), "--gallery-emb", str(gdir), *extra])[::2])
    assert message in line


def test_dimension_mismatch_and_missing_inputs(tmp_path: Path, cli) -> None:
    qdir, gdir, *_ = make_stores(tmp_path, query_dim=8)
    line = _one_line_error(*cli(["eval", "--query-emb", str(qdir), "--gallery-emb", str(gdir)])[::2])
    assert "dimension mismatch" in line and "8" in line and "16" in line
    line = _one_line_error(*cli(["eval", "--query-emb", str(qdir)])[::2])
    assert "cannot combine --query-emb" in line
    line = _one_line_error(*cli(["eval", "--query-emb", str(tmp_path / "nope"), "--gallery-emb", str(gdir)])[::2])
    assert "nope" in line and "not found" in line
    empty = save_store(tmp_path / "empty", torch.zeros(0, 16), [], Manifest(kind="embeddings"), images=[])
    line = _one_line_error(*cli(["eval", "--query-emb", str(empty), "--gallery-emb", str(gdir)])[::2])
    assert "empty query set" in line


def test_console_entry_point_exit_2_one_line(tmp_path: Path) -> None:
    """The real `python -m cl2cm` process: a user mistake is one stderr line, exit 2, no traceback."""
    import subprocess
    import sys

    qdir, _, *_ = make_stores(tmp_path, n_img=4, per=1)
    proc = subprocess.run([sys.executable, "-m", "cl2cm", "eval", "--query-emb", str(qdir), "--gallery-emb",
                           str(tmp_path / "missing")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "missing" in proc.stderr and "Traceback" not in proc.stderr


def test_eval_runs_with_the_collector_paused_then_frozen(tmp_path: Path, cli, monkeypatch) -> None:
    """The command's imports and work run without cyclic GC passes (~1 s of a demo eval); afterwards the
    collector is back on and the objects made so far are frozen out of its passes."""
    import gc

    from cl2cm.cli.app import paused_gc
    from cl2cm.errors import UserError
    from cl2cm.retrieval import evaluate

    seen: list[bool] = []

    def run_eval(config, progress=None):
        seen.append(gc.isenabled())
        raise UserError("stopped by the test")

    monkeypatch.setattr(evaluate, "run_eval", run_eval)
    qdir, gdir, *_ = make_stores(tmp_path)
    code, _, err = cli(["eval", "--query-emb", str(qdir), "--gallery-emb", str(gdir), "--device", "cpu"])
    assert (code, seen, gc.isenabled()) == (2, [False], True) and "stopped by the test" in err
    try:
        with paused_gc():
            assert not gc.isenabled()
        assert gc.isenabled() and gc.get_freeze_count() > 0
        gc.disable()  # a caller's own choice is kept
        with paused_gc():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
        gc.unfreeze()

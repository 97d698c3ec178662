"""The public Python API (`import cl2cm`) against a real demo run: the README's "From Python" snippet."""

from __future__ import annotations

import importlib
import inspect
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import cl2cm
from cl2cm.artifacts.io import read_lines

TINY = ["--train", "40", "--val", "12", "--test", "12", "--teacher-epochs", "1", "--student-epochs", "1"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`cl2cm demo` at a small size: every artifact the snippet reads, made by the real commands."""
    from cl2cm.cli import main

    n = torch.get_num_threads()
    out = tmp_path_factory.mktemp("api") / "demo"
    try:
        main(["demo", "--out", str(out), *TINY, "--quiet"])
    finally:
        torch.set_num_threads(n)
    return out


def test_import_is_light_and_exports_the_api() -> None:
    code = ("import sys, cl2cm; assert 'torch' not in sys.modules, 'import cl2cm loaded torch'; "
            "print(cl2cm.__version__)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == cl2cm.__version__
    for name in ("load_model", "load_store", "evaluate", "encode_text", "encode_store", "encode_images",
                 "translate", "extract_features", "train_teacher", "distill"):
        assert callable(getattr(cl2cm, name)), name
    with pytest.raises(AttributeError):
        cl2cm.no_such_thing  # noqa: B018
    importlib.import_module("cl2cm.translation.runner")  # the subpackage has its own name: no shadowing
    assert cl2cm.translate is importlib.import_module("cl2cm.api").translate


def test_stage_functions_share_one_calling_convention() -> None:
    """inputs…, out, config — then keyword-only options (optional inputs, progress)."""
    expected = {"translate": ["captions", "out", "config"], "extract_features": ["images", "out", "config"],
                "train_teacher": ["src", "tgt", "out", "config"],
                "distill": ["teacher", "features", "src", "tgt", "out", "config"]}
    api = importlib.import_module("cl2cm.api")
    for name, positional in expected.items():
        params = inspect.signature(getattr(api, name)).parameters.values()
        assert [p.name for p in params if p.kind is p.POSITIONAL_OR_KEYWORD] == positional, name
        assert "progress" in [p.name for p in params if p.kind is p.KEYWORD_ONLY], name


def test_snippet_against_a_demo_run(demo: Path) -> None:
    world = demo / "world"
    model = cl2cm.load_model(demo / "student")
    q = model.encode_text(["ein Hund rennt", "eine rote Katze"])
    assert q.dtype == torch.float32 and q.shape == (2, model.dim)
    torch.testing.assert_close(q.norm(dim=1), torch.ones(2))
    torch.testing.assert_close(cl2cm.encode_text(model, ["ein Hund rennt"]), q[:1])

    store = cl2cm.load_store(demo / "features" / "test")
    v = model.encode_store(store)
    assert v.shape == (len(store.ids), model.dim)
    torch.testing.assert_close(cl2cm.encode_store(model, demo / "features" / "test"), v)

    # evaluate == what `cl2cm eval --out` wrote in the demo, with the loaded model or the directory.
    written = json.loads((demo / "eval" / "student.json").read_text())
    for m in (cl2cm.evaluate(model, captions=world / "test.de.jsonl", features=demo / "features" / "test"),
              cl2cm.evaluate(demo / "student", captions=world / "test.de.jsonl", features=demo / "features" / "test")):
        assert abs(m["SumR"] - written["SumR"]) < 1e-4
        assert m.keys() == written.keys() and m["queries"] == written["queries"]
    teacher = cl2cm.evaluate(cl2cm.load_model(demo / "teacher"), captions=world / "test.de.jsonl",
                             gallery_captions=world / "test.en.jsonl")
    assert abs(teacher["SumR"] - json.loads((demo / "eval" / "teacher.json").read_text())["SumR"]) < 1e-4


def test_encode_images_matches_the_stored_features(demo: Path) -> None:
    """Raw test images → the recorded frozen encoder (tiny random ViT, config file, seed) → the head."""
    model = cl2cm.load_model(demo / "student")
    store = cl2cm.load_store(demo / "features" / "test")
    root = demo / "world" / "images" / "test"
    paths = [root / name for name in read_lines(demo / "world" / "test_images.txt")]
    assert [p.name for p in paths] == store.ids
    v_img = cl2cm.encode_images(model, paths)
    v_store = model.encode_store(store)
    cos = (v_img * v_store).sum(dim=1)
    assert cos.min() > 0.99, cos.min()
    assert model.config.visual_encoder["encoder"]["model_config"] is not None  # recorded by extract-features


def test_encode_images_refuses_an_unusable_file(demo: Path, tmp_path: Path) -> None:
    bad = tmp_path / "x.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(cl2cm.UserError, match="x.png"):
        cl2cm.load_model(demo / "student").encode_images([bad])


def test_search_gives_the_ranking_of_the_search_command_on_a_demo_run(demo: Path, cli) -> None:
    import re

    queries = ["ein roter Kreis", "zwei blaue Quadrate"]
    model = cl2cm.load_model(demo / "student")
    assert model.languages == ("de",)
    hits = cl2cm.search(model, demo / "features" / "test", queries, k=5)
    assert [(h.query, h.rank) for h in hits] == [(q, r) for q in queries for r in range(1, 6)]
    code, out, err = cli(["search", "--model", str(demo / "student"), "--features", str(demo / "features" / "test"),
                          *queries, "--k", "5", "--device", "cpu"])
    assert code == 0, err
    printed = re.findall(r"│\s*(\d)\s*│\s*(\S+\.png)\s*│\s*(-?\d\.\d{4})\s*│", out)
    assert [(int(r), i, s) for r, i, s in printed] == [(h.rank, h.id, f"{h.score:.4f}") for h in hits]


def test_help_opens_with_the_overview_and_the_function_list() -> None:
    import pydoc

    text = pydoc.render_doc(cl2cm, renderer=pydoc.plaintext)
    head = text[:text.index("PACKAGE CONTENTS")]
    for name in ("load_model", "load_store", "search", "evaluate", "encode_text", "translate", "distill"):
        assert f"{name}" in head, name
    assert len(text.splitlines()) < 200, len(text.splitlines())  # not every class's full documentation
    assert "class EvalConfig" not in text and "FUNCTIONS" in text
    assert cl2cm.EvalConfig.__name__ == "EvalConfig"  # still there by name, only not listed

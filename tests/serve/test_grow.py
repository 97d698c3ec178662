"""A running `cl2cm serve` picks up a grown store (`extract-features --append`) without a restart: 20 new
images become findable, while queries sent all through the swap never fail and never mix two galleries."""

from __future__ import annotations

import json
import shutil
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote

import pytest

from cl2cm.demo.world import generate_world
from cl2cm.features.extract import ExtractConfig, extract_features
from cl2cm.retrieval.search import search

from .conftest import GERMAN_QUERIES, DemoRun, serving

pytest.importorskip("uvicorn")


def get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def test_twenty_new_images_findable_without_restart(demo_run: DemoRun, tmp_path: Path) -> None:
    world = tmp_path / "world"
    generate_world(world, n_train=1, n_val=1, n_test=32, seed=1)
    pool = sorted((world / "images" / "test").iterdir())
    photos = tmp_path / "photos"
    photos.mkdir()
    for p in pool[:12]:
        shutil.copy(p, photos / p.name)
    cfg = ExtractConfig(model=str(demo_run.root / "world" / "tiny-vit.json"), pretrained="none", workers=0,
                        device="cpu", append=True)  # the demo student's visual model
    store = tmp_path / "store"
    extract_features(photos, store, cfg)
    old_copy = tmp_path / "store-v1"
    shutil.copytree(store, old_copy)
    k = 10

    def expected(features: Path) -> dict[str, list[list]]:
        return {q: [[i, s] for i, s in search(demo_run.student, features, [q], k=k, device="cpu")[0].hits]
                for q in GERMAN_QUERIES}

    want = {1: expected(old_copy)}
    with serving(["--model", str(demo_run.student), "--features", str(store), "--root", str(photos), "--device",
                  "cpu", "--reload-every", "0.2", "--max-k", "40"], tmp_path / "serve.log") as srv:
        answers: list[tuple[int, dict]] = []
        stop = threading.Event()

        def hammer(offset: int) -> None:
            i = offset
            while not stop.is_set():
                q = GERMAN_QUERIES[i % len(GERMAN_QUERIES)]
                answers.append(get(f"{srv.url}api/search?q={quote(q)}&k={k}"))
                i += 1

        threads = [threading.Thread(target=hammer, args=(n,)) for n in range(3)]
        for t in threads:
            t.start()
        time.sleep(1.0)
        new = pool[12:]
        for p in new:  # 20 new photos arrive
            shutil.copy(p, photos / p.name)
        res = extract_features(photos, store, cfg)
        assert (res.added, res.version) == (20, 2)
        deadline = time.monotonic() + 60
        while get(f"{srv.url}health")[1].get("version") != 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)  # and some more queries against the new gallery
        stop.set()
        for t in threads:
            t.join(60)
        want[2] = expected(store)

        # every answer came whole from one gallery: exactly the library's ranking of that version
        assert len(answers) > 20
        assert [s for s, _ in answers if s != 200] == []
        seen = set()
        for _, body in answers:
            seen.add(body["version"])
            assert [[h["id"], h["score"]] for h in body["results"]] == want[body["version"]][body["query"]]
        assert seen == {1, 2}
        # the new photos are findable: each is its own nearest item, and a wide text search lists them
        health = get(f"{srv.url}health")[1]
        assert health["rows"] == 32 and health["version"] == 2
        for p in new:
            status, body = get(f"{srv.url}api/similar?id={quote(p.name)}&k=1")
            assert status == 200 and body["results"][0]["id"] == p.name
        ids = {h["id"] for h in get(f"{srv.url}api/search?q={quote(GERMAN_QUERIES[0])}&k=32")[1]["results"]}
        assert {p.name for p in new} <= ids
        with urllib.request.urlopen(f"{srv.url}image/{quote(new[0].name)}", timeout=30) as r:
            assert r.status == 200 and r.headers["content-type"].startswith("image/")

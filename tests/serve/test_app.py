"""The HTTP API through a test client: `cl2cm search`'s exact ranking, the page, and every bad request → 4xx."""

from __future__ import annotations

import asyncio
import io
import json
import os
import shutil
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from cl2cm.artifacts.manifest import Manifest  # noqa: E402
from cl2cm.artifacts.store import load_store, save_store  # noqa: E402
from cl2cm.retrieval.search import search  # noqa: E402
from cl2cm.serve import SearchIndex  # noqa: E402
from cl2cm.serve.app import create_app  # noqa: E402
from cl2cm.serve.pool import BoundedPool  # noqa: E402
from cl2cm.serve.query import BadRequest  # noqa: E402

from .conftest import GERMAN_QUERIES, DemoRun  # noqa: E402


@pytest.fixture(scope="module")
def index(demo_run: DemoRun) -> SearchIndex:
    return SearchIndex.load(demo_run.student, demo_run.features, device="cpu")


@pytest.fixture(scope="module")
def client(index: SearchIndex, demo_run: DemoRun) -> Iterator[TestClient]:
    with TestClient(create_app(index, root=demo_run.images, max_k=10)) as c:
        yield c


def test_ranking_is_exactly_that_of_cl2cm_search(client: TestClient, demo_run: DemoRun, cli) -> None:
    # One query per call, as `cl2cm search "<text>"` runs (several texts in one call are encoded as a padded
    # batch, which moves scores in the 7th digit; the ranking a user gets for one query is the reference).
    expected = [search(demo_run.student, demo_run.features, [q], k=5, device="cpu")[0] for q in GERMAN_QUERIES]
    for res in expected:
        body = client.get("/api/search", params={"q": res.query, "k": 5}).json()
        assert body["query"] == res.query and body["k"] == 5
        assert [(r["id"], r["score"]) for r in body["results"]] == res.hits  # same ids, same float scores
    # and through the command itself: its table's first row is the API's top-1
    code, out, err = cli(["search", "--model", str(demo_run.student), "--features", str(demo_run.features),
                          GERMAN_QUERIES[0], "--k", "3", "--device", "cpu"])
    assert code == 0, err
    first_row = next(line for line in out.splitlines() if "│ 1 │" in line or line.strip().startswith("│ 1"))
    assert expected[0].hits[0][0] in first_row


def test_results_link_thumbnails_of_the_store_images(client: TestClient, demo_run: DemoRun) -> None:
    body = client.get("/api/search?q=ein+roter+Kreis&k=3").json()
    assert len(body["results"]) == 3
    for hit in body["results"]:
        assert hit["thumbnail"] == f"/image/{hit['id']}"
        r = client.get(hit["thumbnail"])
        assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
        with Image.open(io.BytesIO(r.content)) as img, Image.open(demo_run.images / hit["id"]) as orig:
            assert img.size == orig.size  # 64 px demo images are below the thumbnail size: not enlarged


def test_page_health_and_headers(client: TestClient, index: SearchIndex) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<input id="q"' in page.text and 'id="grid"' in page.text
    assert "http" not in page.text.split("<script>")[1]  # no CDN, no external URL in the script
    assert "script-src 'sha256-" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    health = client.get("/health").json()
    assert health == {"status": "ok", "model": index.model_dir.name, "store": index.features.name, "rows": 12,
                      "dim": 16, "device": "cpu", "index": "exact", "max_k": 10, "images": True, "workers": 2,
                      "version": 1}
    assert client.get("/docs").status_code == 404 and client.get("/openapi.json").status_code == 404


BAD_REQUESTS = [
    ("/api/search", 400, "missing q"),
    ("/api/search?q=", 400, "empty query text"),
    ("/api/search?q=%20", 400, "empty query text"),
    ("/api/search?q=" + "x" * 501, 400, "at most 500"),
    ("/api/search?q=%FF", 400, "not valid UTF-8"),
    ("/api/search?q=a&k=0", 400, "out of range"),
    ("/api/search?q=a&k=-3", 400, "not a positive integer"),
    ("/api/search?q=a&k=2.5", 400, "not a positive integer"),
    ("/api/search?q=a&k=ten", 400, "not a positive integer"),
    ("/api/search?q=a&k=11", 400, "expected 1 to 10"),  # over the cap
    ("/image/no-such-id.png", 404, "unknown image id"),
    ("/image/..%2F..%2F..%2Fetc%2Fpasswd", 404, "unknown image id"),
    ("/image/%2E%2E/%2E%2E/features/manifest.json", 404, "unknown image id"),
    ("/image/%2Fetc%2Fpasswd", 404, "unknown image id"),
    ("/image//etc/passwd", 404, "unknown image id"),
    ("/image/test-00000.png%00.txt", 404, "unknown image id"),
    ("/image/", 404, "unknown image id"),
    ("/nope", 404, "Not Found"),
]


@pytest.mark.parametrize(("url", "status", "message"), BAD_REQUESTS)
def test_bad_requests_are_one_line_json_and_the_server_keeps_answering(
        client: TestClient, url: str, status: int, message: str) -> None:
    r = client.get(url)
    assert r.status_code == status
    assert r.headers["content-type"] == "application/json"
    assert "\n" not in r.text and list(r.json()) == ["error"] and message in r.json()["error"]
    assert client.get("/api/search?q=ein+Kreis&k=1").status_code == 200


def test_wrong_method(client: TestClient) -> None:
    r = client.post("/api/search?q=a")
    assert r.status_code == 405 and list(r.json()) == ["error"]


def test_ids_in_the_store_still_cannot_leave_the_root(demo_run: DemoRun, index: SearchIndex, tmp_path: Path) -> None:
    """A hostile store (ids with .., absolute ids) and a symlink out of --root: 403, nothing leaks."""
    root = tmp_path / "images"
    shutil.copytree(demo_run.images, root)
    secret = tmp_path / "secret.png"
    shutil.copy(demo_run.images / demo_run.ids[0], secret)
    (root / demo_run.ids[1]).unlink()
    os.symlink(secret, root / demo_run.ids[1])
    store = load_store(demo_run.features)
    ids = ["../secret.png", str(secret), *demo_run.ids[1:10], "sub/../../secret.png"]
    save_store(tmp_path / "hostile", store.features, ids, Manifest(kind="features", model=store.manifest.model),
               extra=store.extra)
    hostile = SearchIndex.load(demo_run.student, tmp_path / "hostile", device="cpu")
    with TestClient(create_app(hostile, root=root)) as c:
        for item in ("..%2Fsecret.png", "%2F" + str(secret).lstrip("/").replace("/", "%2F"), demo_run.ids[1],
                     "sub%2F..%2F..%2Fsecret.png"):
            r = c.get(f"/image/{item}")
            assert r.status_code == 403, item
            assert r.json() == {"error": "the image is outside the image root"}
        assert c.get(f"/image/{demo_run.ids[2]}").status_code == 200


def test_without_root_no_images(index: SearchIndex) -> None:
    with TestClient(create_app(index)) as c:
        body = c.get("/api/search?q=Kreis&k=2").json()
        assert [h["thumbnail"] for h in body["results"]] == [None, None]
        r = c.get(f"/image/{body['results'][0]['id']}")
        assert r.status_code == 404 and "without --root" in r.json()["error"]


def test_pool_refuses_beyond_max_pending() -> None:
    pool = BoundedPool(workers=1, max_pending=2)
    gate = threading.Event()

    async def scenario() -> list[object]:
        slow = [asyncio.ensure_future(pool.run(gate.wait, 5)) for _ in range(2)]
        await asyncio.sleep(0.05)
        with pytest.raises(BadRequest) as exc:
            await pool.run(lambda: None)
        assert exc.value.status == 503
        gate.set()
        done = await asyncio.gather(*slow)
        done.append(await pool.run(lambda: "free again"))
        return done

    assert asyncio.run(scenario()) == [True, True, "free again"]
    pool.shutdown()


def test_search_json_is_plain(client: TestClient) -> None:
    r = client.get("/api/search?q=Stra%C3%9Fe&k=2")
    assert json.loads(r.text)["query"] == "Straße"


def test_ivf_index_probing_every_list_finds_the_exact_top_k(demo_run: DemoRun, index: SearchIndex) -> None:
    pytest.importorskip("faiss")
    ivf = SearchIndex(index.gallery, index="ivf", nlist=2, nprobe=2)
    assert ivf.describe() == "ivf (nlist 2, nprobe 2)"
    for text in GERMAN_QUERIES:
        exact = index.search(text, 5)
        approx = ivf.search(text, 5)
        assert [i for i, _ in approx] == [i for i, _ in exact]
        assert [s for _, s in approx] == pytest.approx([s for _, s in exact], abs=1e-5)
    with TestClient(create_app(ivf)) as c:
        assert c.get("/health").json()["index"] == "ivf (nlist 2, nprobe 2)"
        assert len(c.get("/api/search?q=Kreis&k=3").json()["results"]) == 3


def test_ivf_without_faiss_is_a_one_line_hint(index: SearchIndex, monkeypatch: pytest.MonkeyPatch) -> None:
    from cl2cm.errors import UserError

    monkeypatch.setitem(sys.modules, "faiss", None)
    with pytest.raises(UserError, match=r"pip install 'cl2cm\[ann\]'"):
        SearchIndex(index.gallery, index="ivf")

"""The page's API: the query's language, more-like-this, an item's captions, search by an uploaded image, video galleries."""

from __future__ import annotations

import io
import json
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from cl2cm.errors import UserError  # noqa: E402
from cl2cm.serve import SearchIndex  # noqa: E402
from cl2cm.serve.app import create_app  # noqa: E402
from cl2cm.serve.captions import load_examples, load_item_captions  # noqa: E402
from cl2cm.serve.images import make_thumbnail  # noqa: E402

from .conftest import GERMAN_QUERIES, DemoRun, VideoRun  # noqa: E402


@pytest.fixture(scope="module")
def index(demo_run: DemoRun) -> SearchIndex:
    return SearchIndex.load(demo_run.student, demo_run.features, device="cpu")


@pytest.fixture(scope="module")
def captions(demo_run: DemoRun) -> dict[str, list[dict[str, str]]]:
    world = demo_run.root / "world"
    return load_item_captions([world / "test.en.jsonl", world / "test.de.jsonl"], demo_run.ids)


@pytest.fixture(scope="module")
def client(index: SearchIndex, demo_run: DemoRun, captions) -> Iterator[TestClient]:
    examples = load_examples(None, captions, ["de"], demo_run.ids)
    with TestClient(create_app(index, root=demo_run.images, max_k=10, captions=captions, examples=examples,
                               max_upload_bytes=200_000)) as c:
        yield c


def test_info_names_the_model_languages_and_examples(client: TestClient, captions) -> None:
    info = client.get("/api/info").json()
    assert info["languages"] == ["de"] and info["rows"] == 12 and info["max_k"] == 10
    assert info["kind"] == "images" and info["image_search"] is True and info["version"] == 1
    german = {c["text"] for caps in captions.values() for c in caps if c["lang"] == "de"}
    assert info["examples"] and set(info["examples"]) <= german  # captions in the model's language


def test_search_reports_the_query_language(client: TestClient) -> None:
    body = client.get("/api/search", params={"q": GERMAN_QUERIES[2], "k": 3}).json()
    assert body["language"] == {"code": "de", "known": True, "warning": None}
    assert body["version"] == 1 and body["max_k"] == 10 and len(body["results"]) == 3
    english = client.get("/api/search", params={"q": "two blue squares in the picture", "k": 3}).json()
    assert english["language"]["code"] == "en" and "not trained on" in english["language"]["warning"]
    unsure = client.get("/api/search", params={"q": GERMAN_QUERIES[1], "k": 3}).json()  # 'de' at p 0.46 only
    assert unsure["language"] == {"code": None, "known": None, "warning": None}  # no label rather than a guess


def test_more_like_this_ranks_the_item_first(client: TestClient, index: SearchIndex, demo_run: DemoRun) -> None:
    item = demo_run.ids[4]
    body = client.get("/api/similar", params={"id": item, "k": 5}).json()
    assert body["like"] == item and body["results"][0]["id"] == item
    assert body["results"][0]["score"] == pytest.approx(1.0, abs=1e-5)
    emb = index.gallery.emb
    expected = (emb @ emb[4]).argsort(descending=True, stable=True)[:5].tolist()
    assert [h["id"] for h in body["results"]] == [demo_run.ids[j] for j in expected]
    for url, status in (("/api/similar?id=nope&k=3", 404), ("/api/similar?k=3", 400),
                        (f"/api/similar?id={item}&k=11", 400), (f"/api/similar?id={item}&id=x", 400)):
        r = client.get(url)
        assert r.status_code == status and list(r.json()) == ["error"], url


def test_item_view_has_captions_and_a_large_image(client: TestClient, demo_run: DemoRun) -> None:
    item = demo_run.ids[0]
    body = client.get("/api/item", params={"id": item}).json()
    langs = [c["lang"] for c in body["captions"]]
    assert "en" in langs and "de" in langs and langs.index("en") < langs.index("de")  # file order kept
    assert body["image"] == f"/image/{item}?size=large"
    r = client.get(body["image"])
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/")
    assert client.get(f"/image/{item}?size=huge").status_code == 400
    assert client.get("/api/item", params={"id": "../etc/passwd"}).status_code == 404


def _png(width: int, height: int) -> bytes:
    """A valid PNG header claiming width × height (a decompression bomb needs no pixel data to be refused)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b""))


def test_search_by_uploaded_image(client: TestClient, demo_run: DemoRun) -> None:
    item = demo_run.ids[7]
    data = (demo_run.images / item).read_bytes()
    body = client.post("/api/search-image?k=3", content=data, headers={"content-type": "image/png"}).json()
    # the same file through the recorded encoder and the head: the gallery's own row comes first
    assert body["image"] is True and body["results"][0]["id"] == item
    assert body["results"][0]["score"] == pytest.approx(1.0, abs=1e-3)
    # the same image re-encoded as JPEG still finds it
    buf = io.BytesIO()
    Image.open(demo_run.images / item).convert("RGB").save(buf, format="JPEG", quality=95)
    assert client.post("/api/search-image?k=1", content=buf.getvalue()).json()["results"][0]["id"] == item


@pytest.mark.parametrize(("data", "status", "message"), [
    (b"", 400, "empty upload"),
    (b"%PDF-1.4 not an image at all", 415, "not an image"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, 415, "not an image"),  # a PNG signature, then garbage
    (_png(30000, 30000), 413, "image too large"),  # 900 Mpx declared: refused from the header
    (b"\xff" * 200_001, 413, "upload too large"),
])
def test_bad_uploads_are_clear_errors(client: TestClient, data: bytes, status: int, message: str) -> None:
    r = client.post("/api/search-image?k=3", content=data, headers={"content-type": "image/png"})
    assert r.status_code == status and message in r.json()["error"], r.text
    assert client.get("/api/search?q=Kreis&k=1").status_code == 200


def test_hostile_captions_and_ids_travel_as_data(demo_run: DemoRun, index: SearchIndex, tmp_path: Path) -> None:
    hostile = '<img src=x onerror=alert(1)>\u202e"\'</script>'
    cap = tmp_path / "hostile.en.jsonl"
    row = {"id": f"{demo_run.ids[0]}#0", "image": demo_run.ids[0], "lang": "en", "text": hostile}
    cap.write_text(json.dumps(row) + "\n", encoding="utf-8")
    caps = load_item_captions([cap], demo_run.ids)
    with TestClient(create_app(index, root=demo_run.images, captions=caps)) as c:
        assert c.get("/api/item", params={"id": demo_run.ids[0]}).json()["captions"] == [{"lang": "en", "text": hostile}]


def test_examples_file(tmp_path: Path, demo_run: DemoRun) -> None:
    f = tmp_path / "examples.txt"
    f.write_text("\n ein Kreis \n\nzwei Sterne\n", encoding="utf-8")
    assert load_examples(f, {}, ["de"], demo_run.ids) == ["ein Kreis", "zwei Sterne"]
    f.write_text("\n\n", encoding="utf-8")
    with pytest.raises(UserError, match="no example query"):
        load_examples(f, {}, ["de"], demo_run.ids)


def test_video_gallery_thumbnails_are_a_middle_frame(video_run: VideoRun, demo_run: DemoRun) -> None:
    """A frame-folder store: the clip id is the result, its middle frame the picture; text and
    more-like-this search work, search by image is refused with the reason."""
    vindex = SearchIndex.load(video_run.student, video_run.features, device="cpu")
    with TestClient(create_app(vindex, root=video_run.frames)) as c:
        info = c.get("/api/info").json()
        assert info["kind"] == "videos" and info["image_search"] is False and "video" in info["image_search_reason"]
        body = c.get("/api/search", params={"q": "ein roter Kreis", "k": 4}).json()
        assert sorted(h["id"] for h in body["results"]) == [f"clip{v}" for v in range(4)]
        assert body["kind"] == "videos"
        r = c.get("/image/clip1")
        assert r.status_code == 200
        assert r.content == make_thumbnail(video_run.frames / "clip1" / "frame2.png")[0]  # the middle of 3 frames
        assert c.get("/api/similar", params={"id": "clip2", "k": 2}).json()["results"][0]["id"] == "clip2"
        r = c.post("/api/search-image?k=1", content=(demo_run.images / demo_run.ids[0]).read_bytes())
        assert r.status_code == 501 and "video" in r.json()["error"]

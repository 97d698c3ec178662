"""`cl2cm serve` as a real process on 127.0.0.1: the issue's done-when, raw traversal attempts, 50 at once."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote, urlsplit

import pytest

from .conftest import GERMAN_QUERIES, DemoRun, LiveServer, _env

pytest.importorskip("uvicorn")


def get(server: LiveServer, path: str) -> tuple[int, str, bytes]:
    """GET with the path sent byte for byte (no client-side normalisation of `..` or `%2F`)."""
    u = urlsplit(server.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    try:
        conn.putrequest("GET", path, skip_accept_encoding=True)
        conn.endheaders()
        r = conn.getresponse()
        return r.status, r.getheader("content-type") or "", r.read()
    finally:
        conn.close()


def api(server: LiveServer, text: str, k: int = 5) -> list[tuple[str, float]]:
    status, _, body = get(server, f"/api/search?q={quote(text)}&k={k}")
    assert status == 200, body
    return [(h["id"], h["score"]) for h in json.loads(body)["results"]]


def test_same_top1_as_the_cl2cm_search_command(live_server: LiveServer, demo_run: DemoRun) -> None:
    assert live_server.url.startswith("http://127.0.0.1:")  # the default bind is the loopback only
    out = subprocess.run([sys.executable, "-m", "cl2cm", "search", "--model", str(demo_run.student),
                          "--features", str(demo_run.features), GERMAN_QUERIES[0], "--k", "3", "--device", "cpu"],
                         capture_output=True, text=True, env=_env(), timeout=300, check=True).stdout
    rows = [line for line in out.splitlines() if line.startswith("│")]
    top1 = rows[0].split("│")[2].strip()
    assert top1 == api(live_server, GERMAN_QUERIES[0], k=3)[0][0]


def test_page_and_image(live_server: LiveServer) -> None:
    status, ctype, body = get(live_server, "/")
    assert status == 200 and ctype.startswith("text/html") and b'<input id="q"' in body
    top = api(live_server, GERMAN_QUERIES[1], k=1)[0][0]
    status, ctype, body = get(live_server, f"/image/{quote(top, safe='')}")
    assert status == 200 and ctype == "image/jpeg" and body[:2] == b"\xff\xd8"


TRAVERSALS = ["/image/../../../../etc/passwd", "/image/..%2F..%2F..%2F..%2Fetc%2Fpasswd",
              "/image/%2e%2e/%2e%2e/student/config.json", "/image//etc/passwd", "/image/%2Fetc%2Fpasswd",
              "/image/..\\..\\etc\\passwd", "/image/test-00000.png/../../features/ids.txt",
              "/image/%252e%252e%252fetc%252fpasswd", "/../../etc/passwd", "/image/%00"]
BAD = ["/api/search?q=", "/api/search?q=a&k=0", "/api/search?q=a&k=-1", "/api/search?q=a&k=x",
       "/api/search?q=a&k=101", "/api/search?q=%C3%28", "/api/search?q=" + "a" * 600]


@pytest.mark.parametrize("path", TRAVERSALS + BAD)
def test_hostile_requests_get_4xx_and_the_server_keeps_answering(live_server: LiveServer, path: str) -> None:
    status, ctype, body = get(live_server, path)
    assert 400 <= status < 500, (status, body)
    if path.startswith("/api/"):
        assert status == 400
    assert b"root:" not in body and b"Traceback" not in body
    if ctype == "application/json":
        assert list(json.loads(body)) == ["error"] and b"\n" not in body
    assert api(live_server, GERMAN_QUERIES[0], k=1)  # still answering
    assert live_server.proc.poll() is None


def test_garbage_on_the_socket_does_not_stop_it(live_server: LiveServer) -> None:
    u = urlsplit(live_server.url)
    with socket.create_connection((u.hostname, u.port), timeout=10) as s:
        s.sendall(b"\x16\x03\x01garbage that is not HTTP\r\n\r\n")
        s.recv(1024)
    assert api(live_server, GERMAN_QUERIES[2], k=1)


def test_fifty_parallel_queries_equal_sequential_answers(live_server: LiveServer, demo_run: DemoRun) -> None:
    from cl2cm.serve import SearchIndex

    texts = [f"{q} {i}" if i else q for i in range(10) for q in GERMAN_QUERIES]  # 50 texts new to the server
    local = SearchIndex.load(demo_run.student, demo_run.features, device="cpu")
    reference = [local.search(t, 5) for t in texts]  # one by one, in this process
    with ThreadPoolExecutor(max_workers=50) as ex:
        parallel = list(ex.map(lambda t: api(live_server, t, k=5), texts))  # encoded concurrently (cold cache)
    assert parallel == reference
    assert [api(live_server, t, k=5) for t in texts] == reference  # and sequentially (cached embeddings)
    assert len({tuple(r) for r in reference}) > 1  # the queries really differ


def test_uploads_over_the_limit_get_413_not_a_reset(live_server: LiveServer, demo_run: DemoRun) -> None:
    """11 MB to the default 10 MB limit: a 413 answer the client reads, declared or streamed (chunked)."""
    u = urlsplit(live_server.url)
    big = b"\x89PNG\r\n\x1a\n" + b"\x00" * (11 * 1024 * 1024)
    for chunked in (False, True):
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        try:
            if chunked:
                conn.request("POST", "/api/search-image?k=3", body=iter([big[i:i + 65536] for i in
                                                                       range(0, len(big), 65536)]),
                             headers={"Content-Type": "image/png"}, encode_chunked=True)
            else:
                conn.request("POST", "/api/search-image?k=3", body=big, headers={"Content-Type": "image/png"})
            r = conn.getresponse()
            assert r.status == 413 and "upload too large" in json.loads(r.read())["error"]
        finally:
            conn.close()
    # the content type is not trusted either way: a real image sent as text/plain is searched by its bytes
    data = (demo_run.images / demo_run.ids[3]).read_bytes()
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    try:
        conn.request("POST", "/api/search-image?k=1", body=data, headers={"Content-Type": "text/plain"})
        r = conn.getresponse()
        assert r.status == 200 and json.loads(r.read())["results"][0]["id"] == demo_run.ids[3]
    finally:
        conn.close()
    assert api(live_server, GERMAN_QUERIES[0], k=1)


def test_a_thin_strip_is_413_and_a_cut_upload_leaves_no_traceback(live_server: LiveServer,
                                                                   demo_run: DemoRun) -> None:
    """A 663-byte 200000x1 PNG passed the pixel guard and was resized to 12.8M x 64 (4.9 GB); an upload the
    client abandons mid-body logged two tracebacks (8 kB) each time. Both are client mistakes now."""
    import io
    import time

    from PIL import Image

    png = io.BytesIO()
    Image.new("RGB", (200000, 1)).save(png, format="PNG")
    u = urlsplit(live_server.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    try:
        conn.request("POST", "/api/search-image?k=3", body=png.getvalue(), headers={"Content-Type": "image/png"})
        r = conn.getresponse()
        assert r.status == 413 and "image too elongated (200000x1" in json.loads(r.read())["error"]
    finally:
        conn.close()
    log = demo_run.root / "serve.log"
    before = log.stat().st_size
    for _ in range(3):
        with socket.create_connection((u.hostname, u.port), timeout=10) as s:
            s.sendall(b"POST /api/search-image HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
                      b"Content-Length: 100000\r\n\r\n" + b"\x89PNG" + b"\x00" * 5000)
            time.sleep(0.2)  # the server is reading the body when the client goes
    time.sleep(0.5)
    assert api(live_server, GERMAN_QUERIES[0], k=1)
    grown = log.read_text()[before:]
    assert "Traceback" not in grown and "internal error" not in grown, grown

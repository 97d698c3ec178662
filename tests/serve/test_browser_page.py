"""The search page as a person uses it, in headless Chromium: each step shows exactly what the API answers.

A German query → open a result (its captions) → "more like this" → upload an image → "more results" →
back, back (history) → a non-image upload replaces the results with an error; and `/?q=...` opened
directly runs the query. Screenshots at desktop and phone width go to CL2CM_SCREENSHOT_DIR (else tmp).
"""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path
from urllib.parse import quote

import pytest

from cl2cm.artifacts.manifest import Manifest
from cl2cm.artifacts.store import load_store, save_store

from .conftest import GERMAN_QUERIES, DemoRun, LiveServer, VideoRun, serving
from .test_browser import driver  # noqa: F401 - the selenium fixture (skips without chromium)

pytestmark = pytest.mark.browser


def api(server: LiveServer, path: str, data: bytes | None = None) -> dict:
    req = urllib.request.Request(server.url + path.lstrip("/"), data=data,
                                 headers={"Content-Type": "image/png"} if data else {})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


def shot(d, tmp_path: Path, name: str) -> Path:
    """A screenshot once every result thumbnail has loaded and decoded."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(d, 30).until(lambda d: d.execute_script(
        "return Array.from(document.querySelectorAll('#grid img')).every(i => i.complete && i.naturalWidth > 0)"))
    path = Path(os.environ.get("CL2CM_SCREENSHOT_DIR", tmp_path)) / f"serve-{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    assert d.save_screenshot(str(path)) and path.stat().st_size > 1000
    return path


def grid(d) -> list[tuple[str, str]]:
    """(id, score text) of every result cell, in order."""
    return d.execute_script("return Array.from(document.querySelectorAll('#grid figure.hit')).map("
                            "f => [f.dataset.id, f.querySelector('.score').textContent])")


def expect(body: dict) -> list[tuple[str, str]]:
    return [[h["id"], f"{h['score']:.4f}"] for h in body["results"]]


def wait_grid(d, want: list, what: str) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(d, 30).until(lambda d: grid(d) == want, message=f"{what}: the grid is {grid(d)}, want {want}")


def test_query_view_like_upload_more_and_back(live_server: LiveServer, demo_run: DemoRun, driver,  # noqa: F811
                                                 tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select, WebDriverWait

    d, wait = driver, WebDriverWait(driver, 30)
    query = GERMAN_QUERIES[2]
    d.get(live_server.url)
    wait.until(lambda d: "model languages: de" in d.find_element(By.ID, "languages").text)
    assert d.find_elements(By.CSS_SELECTOR, "#examples button")  # German captions offered as examples
    Select(d.find_element(By.ID, "k")).select_by_visible_text("5")

    # 1. a German query, typed and submitted with Enter
    d.find_element(By.ID, "q").send_keys(query, Keys.ENTER)
    searched = api(live_server, f"/api/search?q={quote(query)}&k=5")
    wait_grid(d, expect(searched), "query")
    wait.until(lambda d: "?q=" in d.current_url)
    assert d.find_element(By.ID, "detected").text == "query language: de"
    assert query in d.find_element(By.ID, "status").text
    first = d.find_element(By.CSS_SELECTOR, "#grid figure.hit img")
    wait.until(lambda d: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth", first))
    shot(d, tmp_path, "1-query")

    # 2. open the top result (keyboard: focus + Enter): id, score, its captions as /api/item lists them
    top = searched["results"][0]
    cell = d.find_element(By.CSS_SELECTOR, "#grid figure.hit")
    d.execute_script("arguments[0].focus()", cell)
    cell.send_keys(Keys.ENTER)
    view = wait.until(lambda d: d.find_element(By.ID, "view") if d.find_element(By.ID, "view").is_displayed() else None)
    item = api(live_server, f"/api/item?id={quote(top['id'])}")
    want_caps = [c["lang"] + c["text"] for c in item["captions"]]
    wait.until(lambda d: [li.get_attribute("textContent") for li in
                          view.find_elements(By.CSS_SELECTOR, "#view-captions li")] == want_caps)
    assert d.find_element(By.ID, "view-id").text == top["id"]
    assert d.find_element(By.ID, "view-score").text == f"score {top['score']:.4f}"
    wait.until(lambda d: d.execute_script("var i = document.getElementById('view-img');"
                                          "return !i.hidden && i.complete && i.naturalWidth"))
    shot(d, tmp_path, "2-view")

    # 3. more like this
    d.find_element(By.ID, "view-like").click()
    like = api(live_server, f"/api/similar?id={quote(top['id'])}&k=5")
    wait_grid(d, expect(like), "more like this")
    assert grid(d)[0][0] == top["id"] and "like=" in d.current_url
    shot(d, tmp_path, "3-like")

    # 4. search by an uploaded image (a gallery file: it finds itself first)
    upload = demo_run.images / demo_run.ids[5]
    d.find_element(By.ID, "upload").send_keys(str(upload))
    by_image = api(live_server, "/api/search-image?k=5", upload.read_bytes())
    wait_grid(d, expect(by_image), "upload")
    assert grid(d)[0][0] == demo_run.ids[5]
    shot(d, tmp_path, "4-upload")

    # 5. more results: the next page, up to the server's cap (10 for this 12-item gallery... min(max_k, rows))
    d.find_element(By.ID, "more").click()
    wait_grid(d, expect(api(live_server, "/api/search-image?k=10", upload.read_bytes())), "more results")

    # 6. back, back: the like-results, then the query's, each as the API gave them
    d.back()
    wait_grid(d, expect(by_image), "back to the upload")
    d.back()
    wait_grid(d, expect(like), "back to more-like-this")
    d.back()
    wait_grid(d, expect(searched), "back to the query")
    assert d.find_element(By.ID, "q").get_attribute("value") == query
    d.forward()
    wait_grid(d, expect(like), "forward to more-like-this")

    # 7. an error replaces stale results (a non-image upload)
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    d.find_element(By.ID, "upload").send_keys(str(bad))
    wait.until(lambda d: "not an image" in d.find_element(By.ID, "status").text)
    assert d.find_element(By.ID, "status").get_attribute("class") == "error" and grid(d) == []
    shot(d, tmp_path, "5-error")


def test_opening_a_query_url_runs_it(live_server: LiveServer, driver, tmp_path: Path) -> None:  # noqa: F811
    from selenium.webdriver.common.by import By

    query = GERMAN_QUERIES[0]
    d = driver
    d.get(f"{live_server.url}?q={quote(query)}&k=5")
    wait_grid(d, expect(api(live_server, f"/api/search?q={quote(query)}&k=5")), "opened URL")
    assert d.find_element(By.ID, "q").get_attribute("value") == query
    shot(d, tmp_path, "6-url-desktop")
    d.set_window_size(390, 844)  # a phone
    d.refresh()
    wait_grid(d, expect(api(live_server, f"/api/search?q={quote(query)}&k=5")), "phone")
    width = d.execute_script("return document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width} px wide at phone width (horizontal scrolling)"
    shot(d, tmp_path, "7-url-phone")
    # an English query: detected, and a warning that the model was trained on German
    d.get(f"{live_server.url}?q={quote('two blue squares in the picture')}&k=5")
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(d, 30).until(lambda d: "not trained on" in d.find_element(By.ID, "warning").text)
    shot(d, tmp_path, "8-warning-phone")


def test_video_gallery_on_the_page(video_run: VideoRun, driver, tmp_path: Path) -> None:  # noqa: F811
    """Clips as results (their id), each shown by its middle frame; no image upload for a video student."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    with serving(["--model", str(video_run.student), "--features", str(video_run.features), "--root",
                  str(video_run.frames), "--device", "cpu"], tmp_path / "serve-video.log") as srv:
        query = GERMAN_QUERIES[1]
        driver.get(f"{srv.url}?q={quote(query)}&k=4")
        wait_grid(driver, expect(api(srv, f"/api/search?q={quote(query)}&k=4")), "video query")
        assert sorted(i for i, _ in grid(driver)) == ["clip0", "clip1", "clip2", "clip3"]
        assert "(clips)" in driver.find_element(By.ID, "status").text
        assert "4 clips" in driver.find_element(By.ID, "size").text
        assert not driver.find_element(By.ID, "upload-label").is_displayed()
        shot(driver, tmp_path, "9-video")
        driver.find_element(By.CSS_SELECTOR, "#grid figure.hit").click()
        WebDriverWait(driver, 30).until(lambda d: d.find_element(By.ID, "view-id").text.startswith("clip clip"))


def test_hostile_ids_and_captions_render_as_text(demo_run: DemoRun, driver, tmp_path: Path) -> None:  # noqa: F811
    """Ids and captions full of markup are shown literally; no script runs, the page keeps working."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    store = load_store(demo_run.features)
    evil = ['<img src=x onerror="document.title=\'pwned\'">', "</script><script>document.title='pwned'</script>",
            "\u202eevil.png", "a&amp;b", *demo_run.ids[4:]]
    save_store(tmp_path / "evil", store.features, evil, Manifest(kind="features", model=store.manifest.model))
    caps = tmp_path / "evil.de.jsonl"
    caps.write_text("".join(json.dumps({"id": f"{i}#0", "image": i, "lang": "de", "text": f"<b>{i}</b>"}) + "\n"
                            for i in evil), encoding="utf-8")
    with serving(["--model", str(demo_run.student), "--features", str(tmp_path / "evil"), "--device", "cpu",
                  "--captions", str(caps)], tmp_path / "serve-evil.log") as srv:
        driver.get(f"{srv.url}?q={quote(GERMAN_QUERIES[0])}&k=10")
        wait_grid(driver, expect(api(srv, f"/api/search?q={quote(GERMAN_QUERIES[0])}&k=10")), "hostile ids")
        assert driver.title == "cl2cm search"
        assert set(evil[:4]) <= {i for i, _ in grid(driver)}
        assert driver.find_elements(By.CSS_SELECTOR, "#grid img") == []  # no --root: no <img>, even from ids
        cell = next(c for c in driver.find_elements(By.CSS_SELECTOR, "#grid figure.hit")
                    if c.get_attribute("data-id") == evil[1])
        cell.click()
        WebDriverWait(driver, 30).until(lambda d: d.find_element(By.ID, "view-captions").text == f"de<b>{evil[1]}</b>"
                                        or f"<b>{evil[1]}</b>" in d.find_element(By.ID, "view-captions").text)
        assert driver.find_element(By.ID, "view-id").text == evil[1]
        shot(driver, tmp_path, "10-hostile")
        assert driver.title == "cl2cm search"

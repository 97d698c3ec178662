"""The search page in a real headless Chromium: type a German query, the grid shows the API's top hit.

Needs Debian's `chromium` and `chromium-driver` (CI's `.ci/run` installs them). Where they are missing the
test is skipped with the reason; under CI=true a missing browser is a failure, so CI cannot pass untested.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import urllib.request
from pathlib import Path
from urllib.parse import quote

import pytest

from .conftest import GERMAN_QUERIES, LiveServer

pytestmark = pytest.mark.browser

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--window-size=1200,900"]


def _need(what: str) -> None:
    message = f"{what}; install it with: apt-get install chromium chromium-driver (and pip install selenium)"
    if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes"):  # as tests/conftest.py's in_ci()
        pytest.fail(f"CI=true but {message}")
    pytest.skip(message)


def _binaries() -> tuple[str, str]:
    browser = next((p for p in map(shutil.which, ("chromium", "chromium-browser")) if p), None)
    driver = shutil.which("chromedriver")
    if browser is None or driver is None:
        _need("no chromium/chromedriver on PATH")
    return browser, driver


@pytest.fixture()
def driver(tmp_path: Path):
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _need("selenium is not installed")
    browser, chromedriver = _binaries()
    os.environ.setdefault("SE_OFFLINE", "true")  # selenium-manager must never try to download a driver
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    profile = tempfile.mkdtemp(prefix="chromium-profile-", dir=tmp_path)
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    d = webdriver.Chrome(options=options, service=Service(executable_path=chromedriver))
    d.set_page_load_timeout(60)
    yield d
    d.quit()


def test_german_query_shows_the_top_hit_thumbnail(live_server: LiveServer, driver, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    query = GERMAN_QUERIES[2]  # "ein großer gelber Stern in der Mitte": non-ASCII on purpose
    with urllib.request.urlopen(f"{live_server.url}api/search?q={quote(query)}&k=5", timeout=30) as r:
        top1 = json.loads(r.read())["results"][0]["id"]

    driver.get(live_server.url)
    box = driver.find_element(By.ID, "q")
    box.send_keys(query, Keys.ENTER)
    wait = WebDriverWait(driver, 30)
    first = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#grid figure.hit"))[0]
    assert first.get_attribute("data-id") == top1
    img = first.find_element(By.TAG_NAME, "img")
    assert img.get_attribute("src").endswith(f"/image/{quote(top1, safe='')}")
    # the thumbnail really loaded and decoded (not a broken-image icon)
    wait.until(lambda d: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth", img))
    assert driver.execute_script("return arguments[0].naturalWidth", img) > 0
    assert query in driver.find_element(By.ID, "status").text
    assert top1 in first.text
    shot = Path(os.environ.get("CL2CM_SCREENSHOT_DIR", tmp_path)) / "serve-page.png"
    assert driver.save_screenshot(str(shot)) and shot.stat().st_size > 1000
    # a bad request in the page is shown as an error line, and the page keeps working
    box.clear()
    box.send_keys(" ", Keys.ENTER)
    assert driver.find_elements(By.CSS_SELECTOR, "#grid figure.hit") == []

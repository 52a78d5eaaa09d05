"""The built site in a real headless Chromium: order, sorting, no XSS, no network.

Needs Debian's ``chromium`` and ``chromium-driver`` packages (and selenium); skipped,
saying so, when the browser is absent.
"""

from __future__ import annotations

import functools
import http.server
import importlib.util
import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from board_site_fixture import FORMULA, IMG_XSS, SCRIPT_XSS, build_board_site

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = [
    pytest.mark.skipif(
        CHROMIUM is None or CHROMEDRIVER is None,
        reason="needs Chromium: apt-get install -y chromium chromium-driver",
    ),
    pytest.mark.skipif(importlib.util.find_spec("selenium") is None, reason="needs selenium: pip install selenium"),
]
OVERVIEW_ORDER = [IMG_XSS, "alpha", SCRIPT_XSS, FORMULA]


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_board_site(tmp_path_factory.mktemp("browser"))


@pytest.fixture(scope="module")
def server(site: Path) -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(site)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def make_driver(profile: Path, javascript: bool = True) -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--no-first-run",
        "--no-default-browser-check",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    if not javascript:
        options.add_argument("--blink-settings=scriptEnabled=false")
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    browser = make_driver(tmp_path_factory.mktemp("profile"))
    yield browser
    browser.quit()


def requested_urls(browser: Any) -> list[str]:
    urls = []
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def column_texts(browser: Any, table_id: str, index: int) -> list[str]:
    rows = browser.find_elements("css selector", f"#{table_id} tbody tr")
    return [row.find_elements("css selector", "td, th")[index].text for row in rows]


def assert_no_injection(browser: Any) -> None:
    from selenium.common.exceptions import NoAlertPresentException

    with pytest.raises(NoAlertPresentException):
        _ = browser.switch_to.alert.text
    assert browser.find_elements("css selector", "main img, body > img, td img, th img") == []
    assert len(browser.find_elements("tag name", "script")) == 1
    assert browser.execute_script("return window.__xss === undefined")


def test_overview_rows_sorting_and_no_injection(driver: Any, server: str) -> None:
    driver.get_log("performance")
    driver.get(f"{server}/index.html")
    assert column_texts(driver, "overview", 1) == OVERVIEW_ORDER
    assert_no_injection(driver)
    # Retrieval column (index 4, higher is better): first click best first, then reversed.
    header = driver.find_elements("css selector", "#overview thead th")[4]
    header.find_element("tag name", "button").click()
    assert column_texts(driver, "overview", 1) == ["alpha", IMG_XSS, SCRIPT_XSS, FORMULA]
    assert header.get_attribute("aria-sort") == "descending"
    header.find_element("tag name", "button").click()
    assert column_texts(driver, "overview", 1) == [FORMULA, SCRIPT_XSS, IMG_XSS, "alpha"]
    assert header.get_attribute("aria-sort") == "ascending"
    # Text-to-image column ranks by FID: the first click sorts ascending; a model without
    # a result stays last.
    fid = driver.find_elements("css selector", "#overview thead th")[5]
    fid.find_element("tag name", "button").click()
    assert column_texts(driver, "overview", 1) == [IMG_XSS, "alpha", FORMULA, SCRIPT_XSS]
    assert fid.get_attribute("aria-sort") == "ascending"
    assert_no_injection(driver)


def test_every_page_opens_without_injection_or_errors(driver: Any, server: str, site: Path) -> None:
    for page in sorted(site.rglob("*.html")):
        driver.get(f"{server}/{page.relative_to(site).as_posix()}")
        assert_no_injection(driver)
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == [], (page, errors)


def test_task_page_sorts_fid_ascending(driver: Any, server: str) -> None:
    driver.get(f"{server}/tasks/t2i-sample.html")
    assert column_texts(driver, "task-table", 1)[0].startswith(IMG_XSS)
    is_header = driver.find_elements("css selector", "#task-table thead th")[3]
    is_header.find_element("tag name", "button").click()
    assert [t.split(" (run)")[0] for t in column_texts(driver, "task-table", 1)] == ["alpha", IMG_XSS, FORMULA]
    fid_header = driver.find_elements("css selector", "#task-table thead th")[2]
    fid_header.find_element("tag name", "button").click()
    assert [t.split(" (run)")[0] for t in column_texts(driver, "task-table", 1)] == [IMG_XSS, "alpha", FORMULA]


def test_served_site_requests_only_its_own_origin(driver: Any, server: str, site: Path) -> None:
    driver.get_log("performance")
    for page in ("index.html", "tasks/muge-retrieval-sample.html", "tasks/t2i-sample.html"):
        driver.get(f"{server}/{page}")
    run_page = next((site / "runs").glob("*.html")).name
    driver.get(f"{server}/runs/{run_page}")
    urls = requested_urls(driver)
    assert urls, "the performance log recorded no requests"
    assert all(url.startswith(server + "/") for url in urls), urls
    resources = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert resources == []


def test_site_from_a_local_folder_makes_no_http_request(driver: Any, site: Path) -> None:
    driver.get_log("performance")
    driver.get((site / "index.html").as_uri())
    assert column_texts(driver, "overview", 1) == OVERVIEW_ORDER
    driver.find_elements("css selector", "#overview thead th")[4].find_element("tag name", "button").click()
    assert column_texts(driver, "overview", 1)[0] == "alpha"
    urls = requested_urls(driver)
    assert not [u for u in urls if u.startswith(("http:", "https:"))], urls


def test_tables_read_correctly_with_javascript_off(tmp_path: Path, server: str) -> None:
    browser = make_driver(tmp_path / "profile", javascript=False)
    try:
        browser.get(f"{server}/index.html")
        assert column_texts(browser, "overview", 1) == OVERVIEW_ORDER
        browser.get(f"{server}/tasks/muge-retrieval-sample.html")
        rows = browser.find_elements("css selector", "#task-table tbody tr")
        assert len(rows) == 4
        assert "[" in rows[0].text  # the interval is in the served HTML
    finally:
        browser.quit()

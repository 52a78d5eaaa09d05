"""The built sites in a real headless Chromium: both languages, order, sorting, filters,
plots, galleries with pictures, no XSS, no network; screenshots of the bundled board.

One browser serves the whole module (starting Chromium is the slow part). Needs Debian's
``chromium`` and ``chromium-driver`` packages (and selenium); skipped, saying so, when the
browser is absent. The screenshots go to ``.ci-venv/screenshots/`` (CI keeps that folder).
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
from board_site_fixture import ALPHA_DISPLAY, FORMULA, IMG_XSS, REF_MODEL, SCRIPT_XSS, build_board_site
from click.testing import CliRunner

from muge_eval.cli.main import main

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = [
    pytest.mark.skipif(
        CHROMIUM is None or CHROMEDRIVER is None,
        reason="needs Chromium: apt-get install -y chromium chromium-driver",
    ),
    pytest.mark.skipif(importlib.util.find_spec("selenium") is None, reason="needs selenium: pip install selenium"),
]
REPO = Path(__file__).resolve().parents[1]
BUNDLED = REPO / "leaderboards" / "muge-sample"
SCREENSHOTS = REPO / ".ci-venv" / "screenshots"
OVERVIEW_ORDER = [ALPHA_DISPLAY, IMG_XSS, SCRIPT_XSS, FORMULA, REF_MODEL]


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The served folder: ``fixture/`` holds the hostile test board's site, ``bundled/``
    the bundled board's (built by the test that needs it)."""
    folder = tmp_path_factory.mktemp("sites")
    shutil.move(str(build_board_site(folder / "build")), folder / "fixture")
    return folder


@pytest.fixture(scope="module")
def site(root: Path) -> Path:
    return root / "fixture"


@pytest.fixture(scope="module")
def bundled(root: Path) -> Path:
    result = CliRunner().invoke(main, ["--quiet", "leaderboard", "build", str(BUNDLED), "--out", str(root / "bundled")])
    assert result.exit_code == 0, result.output
    return root / "bundled"


@pytest.fixture(scope="module")
def server(root: Path) -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(root)))
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
        "--window-size=1280,900",
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


def names(browser: Any, table_id: str) -> list[str]:
    """The model names of the table's visible rows, in order."""
    rows = browser.find_elements("css selector", f"#{table_id} tbody tr")
    return [row.find_element("css selector", ".name").text for row in rows if row.is_displayed()]


def click_header(browser: Any, table_id: str, index: int) -> Any:
    header = browser.find_elements("css selector", f"#{table_id} thead th")[index]
    header.find_element("tag name", "button").click()
    return header


def assert_no_injection(browser: Any) -> None:
    from selenium.common.exceptions import NoAlertPresentException

    with pytest.raises(NoAlertPresentException):
        _ = browser.switch_to.alert.text
    assert len(browser.find_elements("tag name", "script")) == 1
    assert browser.execute_script("return window.__xss === undefined")
    handlers = browser.execute_script(
        "return Array.from(document.querySelectorAll('*')).flatMap("
        "e => Array.from(e.attributes).filter(a => a.name.startsWith('on')).map(a => e.tagName + ' ' + a.name))"
    )
    assert handlers == []
    stray = browser.execute_script(
        "return Array.from(document.images).filter(i => !i.closest('figure.pic')).map(i => i.outerHTML)"
    )
    assert stray == []


def images_loaded(browser: Any) -> tuple[int, int]:
    """(pictures shown, pictures on the page): a shown one is decoded and has a size."""
    browser.execute_script("document.querySelectorAll('img').forEach(i => { i.loading = 'eager'; })")
    return browser.execute_script(
        "return [Array.from(document.images).filter(i => i.complete && i.naturalWidth > 0).length,"
        " document.images.length]"
    )


def wait_for_images(browser: Any) -> tuple[int, int]:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 10).until(lambda b: images_loaded(b)[0] == images_loaded(b)[1])
    return images_loaded(browser)


def test_overview_rows_sorting_and_no_injection(driver: Any, server: str) -> None:
    driver.get(f"{server}/fixture/index.html")
    assert names(driver, "overview") == OVERVIEW_ORDER
    assert_no_injection(driver)
    # Retrieval column (higher is better): first click best first, then reversed; the
    # published reference sorts by its value but keeps its mark.
    header = click_header(driver, "overview", 5)
    assert names(driver, "overview") == [ALPHA_DISPLAY, REF_MODEL, IMG_XSS, SCRIPT_XSS, FORMULA]
    assert header.get_attribute("aria-sort") == "descending"
    click_header(driver, "overview", 5)
    assert names(driver, "overview") == [FORMULA, SCRIPT_XSS, IMG_XSS, REF_MODEL, ALPHA_DISPLAY]
    # Text-to-image ranks by FID: the first click sorts ascending; models without a result stay last.
    fid = click_header(driver, "overview", 6)
    assert names(driver, "overview") == [IMG_XSS, ALPHA_DISPLAY, FORMULA, SCRIPT_XSS, REF_MODEL]
    assert fid.get_attribute("aria-sort") == "ascending"
    assert driver.find_element("css selector", "#overview tr.reference .badge.ref").text == "published"
    assert_no_injection(driver)


def test_both_languages_link_to_each_other(driver: Any, server: str) -> None:
    driver.get(f"{server}/fixture/tasks/muge-retrieval-sample.html")
    driver.find_element("css selector", "a.lang").click()
    assert driver.current_url.endswith("/fixture/zh/tasks/muge-retrieval-sample.html")
    assert driver.find_element("tag name", "html").get_attribute("lang") == "zh-CN"
    headers = [h.text for h in driver.find_elements("css selector", "#task-table thead th")]
    assert headers[0].startswith("名次") and headers[1:4] == ["模型", "参数量", "发布日期"]
    assert headers[4].startswith("平均召回率")
    assert "已发表" in driver.find_element("css selector", "tr.reference").text
    driver.find_element("css selector", "nav a").click()
    assert driver.current_url.endswith("/fixture/zh/index.html") and "平均名次" in driver.page_source
    driver.find_element("css selector", "a.lang").click()
    assert driver.current_url.endswith("/fixture/index.html")
    assert driver.find_element("tag name", "html").get_attribute("lang") == "en"


def test_filters_by_model_card_and_references(driver: Any, server: str) -> None:
    from selenium.webdriver.support.ui import Select

    driver.get(f"{server}/fixture/tasks/muge-retrieval-sample.html")
    form = driver.find_element("css selector", "form.filters")
    assert form.is_displayed() and names(driver, "task-table") == [
        ALPHA_DISPLAY,
        REF_MODEL,
        IMG_XSS,
        SCRIPT_XSS,
        FORMULA,
    ]

    def select(name: str, value: str) -> None:
        Select(form.find_element("name", name)).select_by_value(value)

    select("weights", "open")
    assert names(driver, "task-table") == [ALPHA_DISPLAY, REF_MODEL]
    form.find_element("name", "references").click()
    assert names(driver, "task-table") == [ALPHA_DISPLAY]
    assert form.find_element("css selector", "output.count").text == "1 of 5 rows shown"
    form.find_element("name", "references").click()
    select("weights", "")
    select("setting", "fine-tuned")
    assert names(driver, "task-table") == [REF_MODEL, IMG_XSS]
    select("setting", "")
    select("params", "1e9")  # a size is stated and at most 1B
    assert names(driver, "task-table") == [ALPHA_DISPLAY, REF_MODEL]
    select("params", "")
    select("org", "Org B")
    assert names(driver, "task-table") == [IMG_XSS]
    select("org", "")
    click_header(driver, "task-table", 2)  # parameters, smallest first; unknown last
    assert names(driver, "task-table") == [ALPHA_DISPLAY, REF_MODEL, IMG_XSS, SCRIPT_XSS, FORMULA]


def test_task_page_sorts_fid_ascending_and_has_its_plots(driver: Any, server: str) -> None:
    driver.get(f"{server}/fixture/tasks/t2i-sample.html")
    assert names(driver, "task-table")[0] == IMG_XSS
    click_header(driver, "task-table", 5)  # is_mean, higher is better
    assert names(driver, "task-table") == [ALPHA_DISPLAY, IMG_XSS, FORMULA]
    click_header(driver, "task-table", 4)  # fid, lower is better
    assert names(driver, "task-table") == [IMG_XSS, ALPHA_DISPLAY, FORMULA]
    driver.get(f"{server}/fixture/tasks/muge-retrieval-sample.html")
    forest = driver.find_element("css selector", "svg.forest")
    assert forest.is_displayed() and len(forest.find_elements("css selector", "g.row")) == 5
    assert len(forest.find_elements("css selector", "line.whisker")) == 4  # the reference has no interval
    scatters = driver.find_elements("css selector", "svg.scatter")
    assert len(scatters) == 2 and all(len(s.find_elements("css selector", "g.point")) == 3 for s in scatters)


def test_gallery_pages_show_their_pictures(driver: Any, server: str, site: Path) -> None:
    for pattern in ("muge-retrieval-sample--alpha-*.html", "t2i-sample--alpha-*.html", "caption-sample--alpha-*.html"):
        page = next((site / "gallery").glob(pattern)).name
        driver.get(f"{server}/fixture/zh/gallery/{page}")
        shown, total = wait_for_images(driver)
        assert total >= 4 and shown == total, page
        assert_no_injection(driver)
    marked = driver.execute_script("return document.querySelectorAll('figure.pic.marked').length")
    assert marked == 0  # captions mark nothing


def test_every_page_opens_without_injection_or_errors(driver: Any, server: str, site: Path) -> None:
    for page in sorted(site.rglob("*.html")):
        driver.get(f"{server}/fixture/{page.relative_to(site).as_posix()}")
        assert_no_injection(driver)
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == [], (page, errors)


def test_served_site_requests_only_its_own_origin(driver: Any, server: str, site: Path) -> None:
    driver.get_log("performance")
    gallery = next((site / "gallery").glob("muge-retrieval-sample--alpha-*.html")).name
    for page in ("index.html", "zh/index.html", "tasks/muge-retrieval-sample.html", f"gallery/{gallery}"):
        driver.get(f"{server}/fixture/{page}")
        wait_for_images(driver)
    urls = requested_urls(driver)
    assert any("/fixture/img/" in url for url in urls), urls
    assert all(url.startswith(server + "/fixture/") for url in urls), urls


def test_site_from_a_local_folder_makes_no_http_request(driver: Any, site: Path) -> None:
    driver.get_log("performance")
    driver.get((site / "index.html").as_uri())
    assert names(driver, "overview") == OVERVIEW_ORDER
    click_header(driver, "overview", 5)
    assert names(driver, "overview")[0] == ALPHA_DISPLAY
    gallery = next((site / "zh" / "gallery").glob("muge-retrieval-sample--alpha-*.html"))
    driver.get(gallery.as_uri())
    shown, total = wait_for_images(driver)
    assert total >= 30 and shown == total  # the CSP lets the site's own pictures load from file://
    urls = requested_urls(driver)
    assert not [u for u in urls if u.startswith(("http:", "https:"))], urls


def test_tables_read_correctly_with_javascript_off(tmp_path: Path, server: str) -> None:
    browser = make_driver(tmp_path / "profile", javascript=False)
    try:
        browser.get(f"{server}/fixture/index.html")
        assert names(browser, "overview") == OVERVIEW_ORDER
        browser.get(f"{server}/fixture/tasks/muge-retrieval-sample.html")
        assert not browser.find_element("css selector", "form.filters").is_displayed()
        rows = browser.find_elements("css selector", "#task-table tbody tr")
        assert len(rows) == 5 and all(r.is_displayed() for r in rows)
        assert "[" in rows[0].text  # the interval is in the served HTML
        assert browser.find_element("css selector", "svg.forest").is_displayed()
    finally:
        browser.quit()


def _screenshot(browser: Any, name: str) -> None:
    """A full-page screenshot (the window grown to the page's height)."""
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1280, min(max(height + 160, 600), 4000))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(SCREENSHOTS / f"{name}.png"))
    browser.set_window_size(1280, 900)


def test_bundled_board_in_both_languages_with_plots_and_pictures(driver: Any, server: str, bundled: Path) -> None:
    driver.get_log("performance")
    driver.get(f"{server}/bundled/index.html")
    assert "random" in names(driver, "overview")
    _screenshot(driver, "overview")
    driver.get(f"{server}/bundled/zh/index.html")
    assert driver.find_element("tag name", "h1").text and "平均名次" in driver.page_source
    _screenshot(driver, "overview-zh")
    driver.get(f"{server}/bundled/zh/tasks/muge-retrieval-sample.html")
    assert driver.find_element("css selector", "svg.forest").is_displayed()
    _screenshot(driver, "task-zh")
    for task in ("muge-caption-sample", "muge-retrieval-sample"):
        page = next((bundled / "gallery").glob(f"{task}--*.html")).name
        driver.get(f"{server}/bundled/gallery/{page}")
        shown, total = wait_for_images(driver)
        assert total >= 6 and shown == total, page
        assert_no_injection(driver)
    _screenshot(driver, "gallery")
    urls = requested_urls(driver)
    assert all(url.startswith(server + "/bundled/") for url in urls), urls

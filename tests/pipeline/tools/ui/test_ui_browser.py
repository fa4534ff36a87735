"""Through a real headless Chromium (Debian's chromium + chromium-driver, driven by selenium):
from the overview to a failing evaluator, to a trace, to a span's output.

Skips cleanly where the browser is not installed (``make browser`` installs it). Screenshots
go to the test's temporary directory; with EVALSTREAM_UPDATE_SCREENSHOTS=1 they also replace
docs/ui-*.png.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import httpx
import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium not installed")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None or DRIVER is None,
    reason="chromium / chromedriver not installed (make browser)",
)
DOCS = Path(__file__).resolve().parents[4] / "docs"


@pytest.fixture(scope="module")
def browser():
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1400,1000", "--host-resolver-rules=MAP * ~NOTFOUND , "
                 "EXCLUDE 127.0.0.1"):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=DRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def _shot(driver, tmp_path: Path, name: str) -> None:
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1400, min(max(height + 160, 800), 4000))  # + the window's frame
    driver.execute_script("window.scrollTo(0, 0)")
    path = tmp_path / f"ui-{name}.png"
    driver.save_screenshot(str(path))
    driver.set_window_size(1400, 1000)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("EVALSTREAM_UPDATE_SCREENSHOTS") == "1":
        shutil.copy(path, DOCS / path.name)


def _wait(driver, condition) -> None:
    """Clicks navigate asynchronously: wait (bounded) for what the click should bring."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 30).until(condition)


def _shows(text: str, value) -> bool:
    """Whether a <pre> shows ``value`` as the page renders it (text as is, JSON indented)."""
    if value is None or isinstance(value, str):
        return text == (value or "")
    return json.loads(text) == value


def test_from_failing_evaluator_to_a_span_output(browser, ui_server, tmp_path):
    from selenium.webdriver.common.by import By

    browser.get(f"{ui_server}/")
    assert "Overview" in browser.title
    assert len(browser.find_elements(By.CSS_SELECTOR, "svg.chart path.series")) >= 5
    _shot(browser, tmp_path, "overview")

    failing = browser.find_element(By.CSS_SELECTOR, 'a.failing[href*="evaluator=correctness"]')
    failing.click()
    _wait(browser, lambda d: "evaluator=correctness" in d.current_url)
    assert "passed=false" in browser.current_url
    rows = browser.find_elements(By.CSS_SELECTOR, "table.traces a.trace-link")
    assert len(rows) == 50
    chips = browser.find_elements(By.CSS_SELECTOR, "table.traces .chip.fail")
    assert any(c.text.startswith("correctness") for c in chips)
    _shot(browser, tmp_path, "traces")

    trace_id = rows[0].text
    rows[0].click()
    _wait(browser, lambda d: d.current_url.endswith(f"/traces/{trace_id}"))
    expected = httpx.get(f"{ui_server}/api/traces/{trace_id}").json()
    llm = next(s for s in expected["spans"] if s["name"] == "chat_completion")
    span = browser.find_element(By.ID, f"span-{llm['span_id']}")
    output = span.find_element(By.CSS_SELECTOR, "pre.span-outputs")
    assert not output.is_displayed()  # collapsed until clicked
    span.find_element(By.TAG_NAME, "summary").click()
    _wait(browser, lambda d: output.is_displayed())
    if isinstance(llm["outputs"], str):
        assert output.text == llm["outputs"]
    elif llm["outputs"] is None:
        assert output.text == ""
    else:
        assert json.loads(output.text) == llm["outputs"]
    assert (
        json.loads(browser.find_element(By.CSS_SELECTOR, "pre.inputs").text) == expected["inputs"]
    )
    _shot(browser, tmp_path, "trace")

    browser.get(f"{ui_server}/evaluators/correctness")
    assert browser.find_elements(By.CSS_SELECTOR, "svg.chart path.bars")
    _shot(browser, tmp_path, "evaluator")


def test_script_in_a_trace_never_runs(browser, ui_server):
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By
    from ui_helpers import SCRIPT_OUT, SCRIPT_SPAN

    browser.get(f"{ui_server}/traces/tr-xss")
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018
    assert browser.title.startswith("Trace tr-xss")
    assert browser.find_element(By.CSS_SELECTOR, "pre.outputs").text == SCRIPT_OUT
    span = browser.find_element(By.ID, "span-tr-xss-llm")
    span.find_element(By.TAG_NAME, "summary").click()
    output = span.find_element(By.CSS_SELECTOR, "pre.span-outputs")
    _wait(browser, lambda d: output.is_displayed())
    assert output.text == SCRIPT_SPAN
    assert browser.execute_script("return document.scripts.length") == 0

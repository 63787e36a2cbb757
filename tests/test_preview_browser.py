"""The preview page in a real browser: headless Chromium (Debian's chromium + chromium-driver,
installed by the test command) driving a real `knee-cds serve` on 127.0.0.1.

A screenshot of every example's cards is kept as a test artifact in ``$KNEE_CDS_TEST_ARTIFACTS``
(default ``./test-artifacts``)/preview/.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from service.tools import examples

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
INJECTION = '<script>window.__injected = 1</script><img src=x onerror="window.__injected = 2">'
WAIT_S = 30

if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
    if os.environ.get("CI"):
        raise RuntimeError("Chromium and chromedriver are required in CI (scripts/system-packages.txt)")
    pytest.skip("Debian's chromium and chromium-driver are not installed", allow_module_level=True)


def artifacts_dir() -> Path:
    folder = Path(os.environ.get("KNEE_CDS_TEST_ARTIFACTS", "test-artifacts")) / "preview"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def preview_server(service_server_factory):
    return service_server_factory({"KNEE_CDS_PREVIEW": "on"})


@pytest.fixture(scope="module")
def browser():
    profile = tempfile.mkdtemp(prefix="knee-cds-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--window-size=1280,1000", f"--user-data-dir={profile}"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(WAIT_S)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _submit_and_wait(driver, button_id: str) -> None:
    old = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.ID, button_id).click()
    WebDriverWait(driver, WAIT_S).until(lambda d: old != d.find_element(By.TAG_NAME, "html"))
    WebDriverWait(driver, WAIT_S).until(lambda d: d.execute_script("return document.readyState") == "complete")


def _full_page_screenshot(driver, path: Path) -> None:
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1280, min(max(height, 800), 8000))
    driver.save_screenshot(str(path))
    driver.set_window_size(1280, 1000)


@pytest.mark.parametrize("example", examples.examples(), ids=lambda e: e.id)
def test_example_cards_in_the_browser(browser, preview_server, example):
    browser.get(preview_server.url("/preview"))
    Select(browser.find_element(By.ID, "example")).select_by_value(example.id)
    _submit_and_wait(browser, "run")
    status = browser.find_element(By.ID, "status").text
    assert status.startswith("HTTP 200"), status
    cards = browser.find_elements(By.CSS_SELECTOR, "article.card")
    summaries = [c.find_element(By.CSS_SELECTOR, ".summary").text for c in cards]
    assert all(summaries)
    expected_tier = example.document.get("expect", {}).get("tier")
    if cards:
        assert browser.find_element(By.ID, "overall-tier").text == cards[0].get_attribute("data-tier")
        indicator = cards[0].find_element(By.CSS_SELECTOR, ".indicator")
        colour = indicator.value_of_css_property("color")
        assert colour not in ("", "rgba(0, 0, 0, 1)")  # the indicator is coloured
    if expected_tier is not None and not example.config:
        assert cards and cards[0].get_attribute("data-tier") == expected_tier
    for button in browser.find_elements(By.CSS_SELECTOR, ".suggestion-button"):
        actions = browser.find_element(By.ID, button.get_attribute("aria-controls"))
        assert actions.find_elements(By.TAG_NAME, "li"), "a suggestion lists the orders it creates or deletes"
    browser.save_screenshot(str(artifacts_dir() / f"{example.id}-screen.png"))  # what a 1280-px screen shows
    _full_page_screenshot(browser, artifacts_dir() / f"{example.id}.png")


def test_keyboard_only_run_and_suggestion_toggle(browser, preview_server):
    browser.get(preview_server.url("/preview"))
    select = browser.find_element(By.ID, "example")
    select.send_keys(Keys.ARROW_DOWN)          # the first example, chosen from the keyboard
    assert Select(select).first_selected_option.get_attribute("value") == examples.examples()[0].id
    old = browser.find_element(By.TAG_NAME, "html")
    browser.find_element(By.ID, "run").send_keys(Keys.ENTER)
    WebDriverWait(browser, WAIT_S).until(lambda d: old != d.find_element(By.TAG_NAME, "html"))
    assert browser.find_element(By.ID, "status").text.startswith("HTTP 200")
    buttons = browser.find_elements(By.CSS_SELECTOR, ".suggestion-button")
    if buttons:
        buttons[0].send_keys(Keys.ENTER)
        assert buttons[0].get_attribute("aria-expanded") == "false"
        assert not browser.find_element(By.ID, buttons[0].get_attribute("aria-controls")).is_displayed()


def test_what_if_in_the_browser(browser, preview_server):
    browser.get(preview_server.url("/preview?example=V01"))
    wells_before = browser.execute_script(
        "return [...document.querySelectorAll('.scores th')].find(t => t.textContent === 'wellsDvt')"
        ".nextElementSibling.textContent")
    _type(browser, "ka-calf-circumference-difference", "unknown")  # a quantity item: a text field
    _submit_and_wait(browser, "what-if-run")
    assert "calf-circumference-difference: 3.5 → unknown" in browser.find_element(By.ID, "changes").text
    wells_after = browser.execute_script(
        "return [...document.querySelectorAll('.scores th')].find(t => t.textContent === 'wellsDvt')"
        ".nextElementSibling.textContent")
    assert json.loads(wells_before)["min"] == 4 and json.loads(wells_after)["min"] == 3
    _full_page_screenshot(browser, artifacts_dir() / "what-if-V01.png")


def _type(driver, element_id: str, text: str) -> None:
    field = driver.find_element(By.ID, element_id)
    field.clear()
    field.send_keys(text)


def test_chart_text_cannot_inject_markup(browser, preview_server):
    example = examples.examples()[0]
    rendered = examples.example_chart(example)
    resources = [dict(r) for r in rendered.chart.resources]
    patient_id = next(r["id"] for r in resources if r["resourceType"] == "Patient")
    resources.append({"resourceType": "Condition", "id": "injected", "code": {"text": INJECTION},
                      "subject": {"reference": f"Patient/{patient_id}"}, "note": [{"text": INJECTION}]})
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]}
    browser.get(preview_server.url("/preview"))
    browser.execute_script("document.getElementById('document').value = arguments[0]", json.dumps(bundle))
    _submit_and_wait(browser, "run")
    assert browser.execute_script("return window.__injected === undefined")
    assert len(browser.find_elements(By.CSS_SELECTOR, "main script, main img")) == 0
    browser.find_element(By.CSS_SELECTOR, ".raw details:first-of-type summary").click()
    assert "<script>window.__injected = 1</script>" in browser.find_element(By.ID, "raw-request").text
    _full_page_screenshot(browser, artifacts_dir() / "injection.png")

"""The station console in a real browser: a whole hub (every data service, accounts and the
gateway) in the test process, Debian's Chromium driven by Playwright, and helpers to make a
user and log them in as a person would (docs/console.md)."""
import shutil

import pytest
from playwright.sync_api import sync_playwright

from support.hub import whole_hub

CHROMIUM = "/usr/bin/chromium"
PHONE = {"width": 360, "height": 760}
DESKTOP = {"width": 1280, "height": 800}
TOWNSHIP = "341721100"          # 尧渡镇 of the demo county, the station the tests work at


@pytest.fixture(scope="module")
def console_hub():
    with whole_hub("console") as hub:
        yield hub


_driver = []


def playwright():
    """The process's one Playwright driver, started at first use and never stopped: its stop()
    waits for the driver's exit through asyncio's child watcher, which never wakes in this
    eventlet-patched process, and a second sync_playwright() in the process is refused while the
    first lives. The driver ends when its pipe closes, with the test process. Every browser
    test module launches its browser from it (the `chromium` fixture)."""
    if not _driver:
        _driver.append(sync_playwright().start())
    return _driver[0]


@pytest.fixture(scope="module")
def chromium():
    """Debian's Chromium, headless, for one test module."""
    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: run scripts/ensure-test-tools.sh (Debian's chromium)")
    browser = playwright().chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
    yield browser
    browser.close()


def base_url(hub):
    return hub.settings.service_url("gateway")


def new_user(hub, username, role="station_worker", township=TOWNSHIP, display_name="王社工"):
    """A user made by a county admin; returns the initial password (to be changed at first
    login)."""
    resp = hub.client().post("/users", json={"username": username, "display_name": display_name,
                                             "role": role, "township": township})
    assert resp.status_code == 201, resp.text
    return resp.json()["initial_password"]


def log_in(page, hub, username, password, new_password=None):
    """Log in through the console's form; with `new_password`, change the first password when
    the console asks for it. Ends on the first page of the menu."""
    page.goto(base_url(hub) + "/")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#login-form button[type=submit]")
    if new_password:
        page.wait_for_selector("#password-form")
        page.fill("#current_password", password)
        page.fill("#new_password", new_password)
        page.fill("#new_password2", new_password)
        page.click("#password-form button[type=submit]")
    page.wait_for_selector("#menu a[data-page]", state="attached")

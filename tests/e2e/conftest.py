"""Browser fixtures: Debian's Chromium driven by Playwright, against our live server and the
sandbox process, both over real HTTP.

Chromium comes from the distribution (`apt-get install chromium`), never from
`playwright install`: the browser download needs a network this project does not assume.
Without the binary (or without Playwright) the tests here are skipped with the reason.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# The engine's own fixtures (connected shop, public live server, real worker), used here too.
from tests.automations.conftest import (  # noqa: F401  (fixtures are found by name)
    celery_worker,
    connection,
    owner,
    public_server,
)

try:
    from playwright.sync_api import Browser, Page, expect, sync_playwright
except ImportError:  # a checkout installed without the dev extra
    sync_playwright = None

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
# Headless in a container, and quiet: without the networking flags Chromium keeps trying to
# reach Google's services, and this closed network refuses those connections.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1280, "height": 800}  # the screenshots are 1280 wide, full page
REPO = Path(__file__).resolve().parents[2]
# The README's pictures are refreshed only on request, so a test run leaves the tree clean.
SCREENSHOTS = REPO / ("docs" if os.environ.get("UPDATE_SCREENSHOTS") else "var") / "screenshots"
FAILURES = REPO / "var" / "e2e-failures"  # a failing test's pages, for looking at afterwards
ACTION_TIMEOUT_MS = 30_000  # a page, not a run: generous for slow CI machines
EXPECT_TIMEOUT_MS = 20_000  # the builder's preview waits for a debounce and two requests
RUN_WAIT_SECONDS = 60.0  # a run goes through the sandbox, the broker and the worker
RELOAD_PAUSE_SECONDS = 0.5
ASYNC_UNSAFE = "DJANGO_ALLOW_ASYNC_UNSAFE"


def _why_no_browser() -> str | None:
    if sync_playwright is None:
        return "Playwright is not installed (pip install -e '.[dev]')"
    if not CHROMIUM.exists():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)"
    return None


HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config, items):
    """Skip the browser tests up front, before a sandbox or a server starts for nothing."""
    reason = _why_no_browser()
    if reason:
        for item in items:
            if HERE in Path(str(item.path)).resolve().parents:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the e2e package; skipped where the machine has none."""
    reason = _why_no_browser()
    if reason:
        pytest.skip(reason)
    # Playwright's sync API keeps an asyncio loop on this thread, so Django would refuse the
    # ORM calls tests and fixtures make here. Only while the browser lives, only this package.
    kept = os.environ.get(ASYNC_UNSAFE)
    os.environ[ASYNC_UNSAFE] = "true"
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        expect.set_options(timeout=EXPECT_TIMEOUT_MS)
        yield chromium
        chromium.close()
    finally:
        playwright.stop()
        if kept is None:
            os.environ.pop(ASYNC_UNSAFE, None)
        else:
            os.environ[ASYNC_UNSAFE] = kept


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.e2e_failed = report.failed
    return report


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh browser profile (no cookies) at 1280 px; a failing test leaves a screenshot."""
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    tab = context.new_page()
    try:
        yield tab
    finally:
        if getattr(request.node, "e2e_failed", False):
            FAILURES.mkdir(parents=True, exist_ok=True)
            name = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name)
            for i, open_tab in enumerate(context.pages):
                open_tab.screenshot(path=str(FAILURES / f"{name}-{i}.png"), full_page=True)
        context.close()


@pytest.fixture
def engine_url(public_server, cartly_settings, sandbox) -> str:  # noqa: F811
    """Our live server, known to the sandbox as a redirect URI and as the hooks' base URL,
    with sign-up open (SIGNUP_OPEN: closed by default in production)."""
    cartly_settings.SIGNUP_OPEN = True
    sandbox.manage(
        "sandbox_seed", "--redirect-uri", f"{public_server.url}/connections/cartly/callback/"
    )
    return public_server.url


def screenshot(page: Page, name: str, max_height: int | None = None) -> Path:
    """A full-page PNG (its top `max_height` px where given, for a very long page): under
    docs/screenshots/ with UPDATE_SCREENSHOTS=1, else var/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    clip = (
        {"x": 0, "y": 0, "width": VIEWPORT["width"], "height": max_height} if max_height else None
    )
    page.screenshot(path=str(path), full_page=True, clip=clip)
    return path


def reload_until(
    page: Page, ready: Callable[[], bool], what: str, timeout: float = RUN_WAIT_SECONDS
) -> None:
    """Reload the page, as a person waiting would, until `ready()`; fail naming `what`."""
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what} at {page.url}")
        time.sleep(RELOAD_PAUSE_SECONDS)
        page.reload()


def log_in_to_engine(page: Page, base_url: str, username: str, password: str) -> None:
    page.goto(f"{base_url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()


def log_in_to_sandbox(page: Page, merchant: dict) -> None:
    """On the sandbox's own login page (wherever it sent us), as the seeded merchant."""
    expect(page.get_by_role("heading", name="Log in to your Cartly shop")).to_be_visible()
    page.get_by_label("Username").fill(merchant["username"])
    page.get_by_label("Password").fill(merchant["password"])
    page.get_by_role("button", name="Log in").click()


PHONE = {"width": 390, "height": 844}  # a common phone's CSS width


def overflow_px(page: Page) -> int:
    """How far the page is wider than the window: 0 means no horizontal scrolling."""
    return page.evaluate(
        "Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
        " - document.documentElement.clientWidth"
    )


def check_both_widths(page: Page, what: str) -> None:
    """The page as it is, at 1280 px and at a phone's 390 px: no horizontal scrolling at
    either; the window is back at 1280 px afterwards."""
    for size in (VIEWPORT, PHONE, VIEWPORT):
        page.set_viewport_size(size)
        page.wait_for_timeout(50)  # one layout pass after the resize
        assert overflow_px(page) <= 0, f"{what} scrolls sideways at {size['width']} px"


def log_in_as(page: Page, base_url: str, user, password: str) -> None:
    log_in_to_engine(page, base_url, user.get_username(), password)


def document_of(page: Page) -> dict:
    """The builder's draft as the page would save it (the hidden #id_document field)."""
    import json

    return json.loads(page.locator("#id_document").input_value())

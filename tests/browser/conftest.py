"""Browser journeys: Playwright (sync API) driving Debian's Chromium against live_server.

Chromium comes from the system (apt-get install chromium), never from
`playwright install`. Without it the browser tests are skipped on a developer
machine and fail in CI (CI set), so that a broken CI image cannot pass silently.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.urls import reverse

from crm.management.commands.totp_code import current_totp_code
from tests.personas import PASSWORD

# Playwright's sync API runs an event loop in the test thread; Django's ORM, used by
# the test itself, would otherwise refuse to run "in an async context".
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM_PATH = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    # The machine's network is closed: no background connections to Google's hosts.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORTS = {
    "tablet": {"width": 768, "height": 1024},
    "laptop": {"width": 1366, "height": 768},
}
ARTIFACTS_DIR = Path(__file__).resolve().parents[2] / "test-artifacts"
BROWSER_TESTS_DIR = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test in tests/browser is a browser test, marked or not."""
    for item in items:
        if BROWSER_TESTS_DIR in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"Browser tests must run in CI: {reason}", pytrace=False)
    pytest.skip(f"{reason} (apt-get install chromium, or set CHROMIUM_PATH)")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not os.access(CHROMIUM_PATH, os.X_OK):
        _unavailable(f"no Chromium executable at {CHROMIUM_PATH}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM_PATH, args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        chromium.close()


@pytest.fixture
def viewport() -> str:
    """Screen size of `page`; override with @pytest.mark.parametrize("viewport", [...])."""
    return "tablet"


@dataclass
class PageLog:
    """What went wrong in the browser while a test ran, beyond what it asserts."""

    console_errors: list[str] = field(default_factory=list)
    failed_responses: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        return self.console_errors + self.failed_responses

    def record_console(self, message: Any) -> None:
        # Failed loads are recorded with their URL by record_response; the browser's
        # own guess at /favicon.ico is not something a page asked for.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.console_errors.append(message.text)

    def record_response(self, response: Any) -> None:
        if response.status >= 400:
            self.failed_responses.append(f"{response.status} {response.url}")


@pytest.fixture
def page_log() -> PageLog:
    return PageLog()


@pytest.fixture
def page(browser: Any, live_server: Any, viewport: str, page_log: PageLog) -> Iterator[Any]:
    """A fresh German-speaking browser tab; relative URLs go to the live server."""
    context = browser.new_context(
        base_url=live_server.url,
        viewport=VIEWPORTS[viewport],
        locale="de-DE",
        timezone_id="Europe/Berlin",
    )
    context.set_default_timeout(10_000)
    tab = context.new_page()
    # Content-Security-Policy violations and failing scripts show up as console errors.
    tab.on("console", page_log.record_console)
    tab.on("pageerror", lambda error: page_log.console_errors.append(str(error)))
    tab.on("response", page_log.record_response)
    yield tab
    context.close()


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    """Rate limits and used TOTP codes are cached; the live server shares our cache."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def login() -> Callable[..., None]:
    """Sign a user in through the real form, answering the TOTP step if there is one."""

    def sign_in(page: Any, user: AbstractBaseUser, *, password: str = PASSWORD) -> None:
        page.goto(reverse("account_login"))
        form = page.locator("main form")
        form.locator("input[name=login]").fill(user.get_username())
        form.locator("input[name=password]").fill(password)
        with page.expect_navigation():
            form.locator("button[type=submit]").click()
        if page.url.endswith(reverse("mfa_authenticate")):
            code = current_totp_code(user, min_seconds_left=3)
            form = page.locator("main form").first
            form.locator("input[name=code]").fill(code)
            with page.expect_navigation():
                form.locator("button[type=submit]").first.click()
        if page.url.endswith((reverse("account_login"), reverse("mfa_authenticate"))):
            raise AssertionError(f"sign-in of {user.get_username()} failed at {page.url}")

    return sign_in


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep a screenshot and the HTML of the page of a failed browser test."""
    report = yield
    tab = getattr(item, "funcargs", {}).get("page")
    if report.when == "call" and report.failed and tab is not None and not tab.is_closed():
        ARTIFACTS_DIR.mkdir(exist_ok=True)
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", item.nodeid)[-150:]
        try:
            tab.screenshot(path=str(ARTIFACTS_DIR / f"{stem}.png"), full_page=True)
            (ARTIFACTS_DIR / f"{stem}.html").write_text(tab.content(), encoding="utf-8")
            report.sections.append(("browser artifacts", f"{ARTIFACTS_DIR / stem}.png/.html"))
        except Exception as exc:  # noqa: BLE001 - never hide the test's own failure
            report.sections.append(("browser artifacts", f"could not be saved: {exc}"))
    return report

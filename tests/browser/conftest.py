"""Fixtures for the browser tests: Debian's Chromium driven by Playwright, and a real server.

No browser is ever downloaded: Playwright launches ``/usr/bin/chromium``
(``apt-get install chromium``), and these tests are skipped when it is absent.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.process import running_service

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "browser"

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Chromium for one module; skips when it is not installed.

    Module scope, not session: Playwright's sync API keeps an event loop
    running in this thread while it is started, and the asyncio tests that
    follow need the thread to themselves.
    """
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent: apt-get install chromium to run the browser tests")
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def console() -> list[str]:
    """Script and console errors of the test's page; a test removes those it expects."""
    return []


@pytest.fixture
def page(browser: Browser, served: str, console: list[str]) -> Iterator[Page]:
    """A fresh desktop-sized page; fails the test on any script error or console error.

    It asks for the server so that the server stops after the page, not under
    its polling script.
    """
    del served
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.on("pageerror", lambda error: console.append(f"page error: {error}"))
    page.on(
        "console",
        lambda message: console.append(message.text) if message.type == "error" else None,
    )
    yield page
    context.close()
    # CSP violations are reported as console errors: none may occur.
    assert console == []


@pytest.fixture
def templates_dir(tmp_path: Path) -> Path:
    """The server's ``EMAIL_TEMPLATES_DIR``, empty at first."""
    directory = tmp_path / "templates"
    directory.mkdir()
    return directory


@pytest.fixture
def served(tmp_path: Path, templates_dir: Path, mail_dir: Path) -> Iterator[str]:
    """``python -m service`` in development mode; yields its base URL."""
    env = {
        "PYTHONPATH": str(ROOT),  # this checkout, whatever the venv has installed
        "BRAND_NAME": "Example Ltd",
        "BRAND_URL": "https://example.com",
        "BRAND_ADDRESS": "1 Main Street, 10115 Berlin",
        "EMAIL_FROM": "owner@example.com",
        "EMAIL_FROM_NAME": "Example Ltd",
        "EMAIL_TEMPLATES_DIR": str(templates_dir),
        "EMAIL_FILE_DIR": str(mail_dir),
    }
    with running_service(tmp_path, env) as base_url:
        yield base_url


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where screenshots are saved (``test-artifacts/browser``, ignored by git)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS

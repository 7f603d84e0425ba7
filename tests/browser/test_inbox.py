"""The leads inbox in headless Chromium, JavaScript off: what a site owner does with it.

A real ``python -m service`` with ``ADMIN_TOKEN`` receives leads through its
public API (delivered by the ``file`` provider); one email is then made dead
in its database, as a provider outage would leave it. The owner signs in,
searches, filters, opens a lead, sends the dead email again, marks spam,
exports the CSV, erases a person and signs out. Every page is scanned with
axe-core (which needs script, so the scans run in a second, scripted page
with the same session).
"""

from __future__ import annotations

import codecs
import csv
import io
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.forms.examples import EXAMPLE
from tests.process import running_service

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

expect = pytest.importorskip("playwright.sync_api", reason="pip install playwright").expect
axe_playwright = pytest.importorskip("axe_playwright_python.sync_playwright")

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TIMEOUT_MS = 15_000
TOKEN = "inbox-token-0123456789abcdefghij"

LEADS = [
    {"name": "Grace Hopper", "email": "grace@example.org", "message": "A compiler, please.\nSoon."},
    {"name": "Ada Lovelace", "email": "ada@example.org", "message": "Engines and looms."},
    # A visitor who types a spreadsheet formula: the export must not run it.
    {
        "name": '=HYPERLINK("http://evil.example","x")',
        "email": "eve@example.org",
        "message": "+1 555 0100 call me",
    },
]
APPLICATION = {
    "name": "Linus Applicant",
    "email": "linus@example.org",
    "position": "Designer",
    "portfolio": "https://linus.example/work",
    "consent": True,
}
EMAILS = (len(LEADS) + 1) * 2


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The service with three delivered leads, Grace's notification then made dead."""
    directory = tmp_path_factory.mktemp("inbox")
    database = directory / "outbox.db"
    env = {
        "BRAND_NAME": "Example Ltd",
        "EMAIL_FROM": "owner@example.com",
        "EMAIL_FILE_DIR": str(directory / "mail"),
        "DATABASE_URL": f"sqlite:///{database}",
        "ADMIN_TOKEN": TOKEN,
        "CONTACT_RATE_LIMIT": "off",
        "FORMS_FILE": str(directory / "forms.toml"),
    }
    (directory / "forms.toml").write_text(EXAMPLE)
    with running_service(directory, env) as base_url:
        for lead in LEADS:
            response = httpx.post(f"{base_url}/api/contact", json=lead, timeout=10)
            assert response.status_code == 200, response.text
            time.sleep(0.01)  # distinct creation times, so the order is known
        response = httpx.post(f"{base_url}/api/forms/careers", json=APPLICATION, timeout=10)
        assert response.status_code == 200, response.text
        _wait_until_sent(database, EMAILS)
        with sqlite3.connect(database) as db:
            db.execute(
                "UPDATE emails SET state = 'dead', last_error = 'resend: unavailable [503]'"
                " WHERE kind = 'notification' AND submission_id ="
                " (SELECT id FROM submissions WHERE email = 'grace@example.org')"
            )
        yield base_url, database


def _wait_until_sent(database: Path, count: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with sqlite3.connect(database) as db:
            (sent,) = db.execute("SELECT count(*) FROM emails WHERE state = 'sent'").fetchone()
        if sent >= count:
            return
        time.sleep(0.1)
    raise AssertionError(f"only {sent} of {count} emails were sent")


@pytest.fixture(scope="module")
def owner(browser: Browser) -> Iterator[BrowserContext]:
    """The owner's browser, JavaScript off, as the pages must work without it."""
    context = browser.new_context(java_script_enabled=False, accept_downloads=True)
    yield context
    context.close()


def serious_violations(page: Page) -> list[tuple[str, str, list[Any]]]:
    """axe-core's serious and critical findings on the page as it is now."""
    results = axe_playwright.Axe().run(page)
    return [
        (violation["id"], violation["impact"], [node["target"] for node in violation["nodes"]])
        for violation in results.response["violations"]
        if violation["impact"] in ("serious", "critical")
    ]


def assert_accessible(
    browser: Browser, owner: BrowserContext, url: str, *, locale: str = "en-GB"
) -> None:
    """axe-core finds no serious or critical violation on ``url``, seen with the owner's session."""
    scripted = browser.new_context(locale=locale)
    try:
        scripted.add_cookies(owner.cookies())
        page = scripted.new_page()
        page.goto(url)
        assert serious_violations(page) == [], url
    finally:
        scripted.close()


def rows(page: Page) -> list[str]:
    return page.locator("tbody tr").all_inner_texts()


def test_the_owner_reads_searches_exports_and_erases_leads(
    browser: Browser, owner: BrowserContext, served: tuple[str, Path], artifacts: Path
) -> None:
    base_url, database = served
    page = owner.new_page()
    page.goto(f"{base_url}/admin")
    assert_accessible(browser, owner, f"{base_url}/admin")
    page.fill("#token", TOKEN)
    page.click("button:has-text('Sign in')")
    expect(page.locator("h1")).to_have_text("Inbox")
    page.screenshot(path=artifacts / "inbox.png", full_page=True)
    assert_accessible(browser, owner, page.url)
    listed = rows(page)
    assert len(listed) == 4
    assert "Linus Applicant" in listed[0]  # newest first
    assert "Grace Hopper" in listed[3]
    assert "A compiler, please." in listed[3]
    assert "Soon." not in listed[3]  # the first line only
    assert "dead" in listed[3]

    # Search, then filter.
    page.fill("#q", "looms")
    page.click("button:has-text('Show')")
    assert [row.split("\t")[2] for row in rows(page)] == ["Ada Lovelace"]
    today = datetime.now(UTC).date()
    page.goto(f"{base_url}/admin")
    page.select_option("#form", "contact")
    page.fill("#since", today.isoformat())
    page.fill("#until", today.isoformat())
    page.click("button:has-text('Show')")
    assert len(rows(page)) == 3  # not the application to the careers form
    page.fill("#until", (today - timedelta(days=1)).isoformat())
    page.click("button:has-text('Show')")
    assert rows(page) == []
    assert "No leads match." in page.inner_text("main")
    page.goto(f"{base_url}/admin")
    page.select_option("#state", "dead")
    page.click("button:has-text('Show')")
    (dead,) = rows(page)
    assert "Grace Hopper" in dead

    # A lead of a form with its own fields, and consent.
    page.goto(f"{base_url}/admin")
    page.click("text=Linus Applicant")
    fields = page.inner_text("dl.fields")
    assert "Position\tDesigner" in fields or "Position\nDesigner" in fields
    assert "https://linus.example/work" in fields
    assert "English" in fields
    consent = page.inner_text("main")
    assert "“I agree that my application is kept for six months.”, given" in consent

    # One lead, its dead notification sent again.
    page.goto(f"{base_url}/admin?state=dead")
    page.click("tbody tr a")
    expect(page.locator("h1")).to_contain_text("Grace Hopper")
    assert "resend: unavailable [503]" in page.inner_text("main")
    assert_accessible(browser, owner, page.url)
    page.click("button:has-text('Send again')")
    expect(page.locator(".notice")).to_contain_text("queued again")
    _wait_until_sent(database, EMAILS)

    # Spam.
    page.click("button:has-text('Mark as spam')")
    expect(page.locator(".notice")).to_contain_text("Marked as spam")
    expect(page.locator("h1 .badge")).to_have_text("spam")
    page.screenshot(path=artifacts / "submission.png", full_page=True)

    # The export of the whole inbox, formulas neutralised.
    page.goto(f"{base_url}/admin")
    with page.expect_download() as download:
        page.click("text=Download these leads as CSV")
    raw = Path(download.value.path()).read_bytes()
    assert raw.startswith(codecs.BOM_UTF8)
    table = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    names = {row["name"]: row["state"] for row in table}
    assert names["Grace Hopper"] == "spam"
    assert "Grace Hopper" in names
    assert '\'=HYPERLINK("http://evil.example","x")' in names
    assert any(row["message"].startswith("'+1 555") for row in table)
    assert {row["position"] for row in table} == {"", "Designer"}

    # Erase Ada, with a confirmation step.
    page.fill("#q", "ada@example.org")
    page.click("button:has-text('Show')")
    page.click("tbody tr a")
    page.click("text=Erase this person")
    expect(page.locator("h1")).to_have_text("Erase a person")
    assert_accessible(browser, owner, page.url)
    page.click("button:has-text('Erase everything')")
    expect(page.locator(".notice")).to_contain_text("1 submissions and 2 emails")
    assert len(rows(page)) == 3
    assert "Ada" not in page.inner_text("main")


def test_the_outbox_and_suppressions_pages(
    browser: Browser, owner: BrowserContext, served: tuple[str, Path]
) -> None:
    base_url, database = served
    page = owner.new_page()
    page.goto(f"{base_url}/admin")
    if page.locator("#token").count():
        page.fill("#token", TOKEN)
        page.click("button:has-text('Sign in')")
    with sqlite3.connect(database) as db:
        db.execute(
            "UPDATE emails SET state = 'rejected', last_error = 'smtp: 550 <eve@example.org>'"
            " WHERE kind = 'confirmation' AND submission_id ="
            " (SELECT id FROM submissions WHERE email = 'eve@example.org')"
        )
        db.execute(
            "INSERT INTO suppressions (address_hash, masked, reason, provider, detail, created_at)"
            " VALUES ('abc123', 'e**@example.org', 'bounced', 'resend', 'mailbox full',"
            " 1767225600.0)"
        )
    page.click("nav >> text=Outbox")
    assert_accessible(browser, owner, page.url)
    assert "e**@example.org" not in page.inner_text("main")
    assert "<eve@example.org>" not in page.inner_text("main")  # masked
    page.click("button:has-text('Send all of them again')")
    expect(page.locator(".notice")).to_contain_text("Emails queued again: 1")

    page.click("nav >> text=Suppressions")
    assert_accessible(browser, owner, page.url)
    assert_accessible(browser, owner, page.url, locale="nl-NL")
    assert "e**@example.org" in page.inner_text("tbody")
    page.click("tbody button:has-text('Remove')")
    expect(page.locator(".notice")).to_contain_text("removed")
    assert page.locator("tbody").count() == 0

    # Signing out ends it: the pages send the browser to the sign-in form.
    page.click("button:has-text('Sign out')")
    expect(page.locator(".notice")).to_contain_text("signed out")
    page.goto(f"{base_url}/admin/outbox")
    expect(page.locator("#token")).to_be_visible()


def test_a_forged_form_gets_an_accessible_403_page(
    browser: Browser, served: tuple[str, Path]
) -> None:
    base_url, _ = served
    context = browser.new_context(locale="nl-NL")
    try:
        page = context.new_page()
        page.goto(f"{base_url}/admin")
        page.fill("#token", TOKEN)
        page.click("button[type=submit]")
        expect(page.locator("h1")).to_have_text("Inbox")  # Dutch: the same word
        assert_accessible(browser, context, page.url, locale="nl-NL")
        page.goto(f"{base_url}/admin/outbox")
        page.evaluate(
            "document.querySelectorAll('input[name=csrf]').forEach((i) => { i.value = 'forged'; })"
        )
        with page.expect_response(lambda response: response.request.method == "POST") as posted:
            page.click("header button[type=submit]")  # sign out, with a forged token
        assert posted.value.status == 403
        expect(page.locator("h1")).to_have_text("Dit formulier is verlopen")
        assert serious_violations(page) == []
        page.goto(f"{base_url}/admin/outbox")  # still signed in: nothing was changed
        expect(page.locator("h1")).to_have_text("Outbox")
    finally:
        context.close()

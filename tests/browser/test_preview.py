"""The preview studio in headless Chromium: widths, tabs, sample data, test send, live reload."""

from __future__ import annotations

import email
import email.policy
import re
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from service.emails.spamcheck import spamassassin_path

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Frame, Page

expect = pytest.importorskip("playwright.sync_api", reason="pip install playwright").expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Generous: the first render compiles MJML; SpamAssassin takes seconds to start.
TIMEOUT_MS = 30_000


def email_frame(page: Page) -> Frame:
    element = page.wait_for_selector("#email-frame", timeout=TIMEOUT_MS)
    assert element is not None
    frame = element.content_frame()
    assert frame is not None
    return frame


def wait_for_email(page: Page) -> Frame:
    frame = email_frame(page)
    frame.wait_for_selector("div[role=article]", timeout=TIMEOUT_MS)
    return frame


def layout(frame: Frame) -> dict[str, float]:
    """Widths and the vertical positions of two side-by-side fields, inside the email."""
    return frame.evaluate(
        """() => {
            const labels = Array.from(document.querySelectorAll("div"))
                .filter((d) => d.children.length === 0);
            const find = (text) => labels.find((d) => d.textContent.trim() === text);
            const card = document.querySelector("div[role=article] > div");
            return {
                viewport: document.documentElement.clientWidth,
                scroll: document.documentElement.scrollWidth,
                card: card.getBoundingClientRect().width,
                emailTop: find("Email").getBoundingClientRect().top,
                companyTop: find("Company").getBoundingClientRect().top,
            };
        }"""
    )


def test_the_studio_reflows_the_email_between_desktop_and_mobile(
    page: Page, served: str, artifacts: Path
) -> None:
    page.goto(f"{served}/dev/preview")
    page.wait_for_selector("text=Template files")
    page.screenshot(path=artifacts / "index.png", full_page=True)
    page.click(".card a:has-text('notification')")
    desktop = layout(wait_for_email(page))
    assert desktop["viewport"] > 600
    assert 590 <= desktop["card"] <= 600  # a centred 600 px email on a wide screen
    assert desktop["emailTop"] == desktop["companyTop"]  # two columns side by side
    page.screenshot(path=artifacts / "notification-desktop.png")

    page.click("button[data-view=mobile]")
    page.wait_for_selector("#frame[data-view=mobile]")
    mobile = layout(email_frame(page))
    assert mobile["viewport"] == 375
    assert mobile["scroll"] <= 375  # no horizontal scrolling
    assert mobile["card"] <= 375
    assert mobile["companyTop"] > mobile["emailTop"]  # the columns stacked
    page.screenshot(path=artifacts / "notification-mobile.png")


def test_every_email_fits_every_width(
    browser: Browser, page: Page, served: str, artifacts: Path
) -> None:
    # The studio's page gives the exact HTML that would be sent; a reader's
    # window of each width shows it as a mail client's web view would.
    readers = {
        width: browser.new_context(viewport={"width": width, "height": 800}).new_page()
        for width in (375, 600, 1024)
    }
    too_wide = []
    try:
        for kind in ("notification", "confirmation"):
            for preset in ("sample", "long-name", "non-latin", "long-message"):
                page.goto(f"{served}/dev/preview/{kind}?preset={preset}")
                html = page.get_attribute("#email-frame", "srcdoc")
                assert html is not None
                for width, reader in readers.items():
                    reader.set_content(html)
                    scroll = reader.evaluate("document.documentElement.scrollWidth")
                    if scroll > width:
                        too_wide.append(f"{kind}/{preset} at {width} px: {scroll} px")
                    name = f"email-{kind}-{preset}-{width}.png"
                    reader.screenshot(path=artifacts / name, full_page=True)
    finally:
        for reader in readers.values():
            reader.context.close()
    assert too_wide == []


def test_tabs_and_edited_sample_data(page: Page, served: str, artifacts: Path) -> None:
    page.goto(f"{served}/dev/preview/confirmation")
    wait_for_email(page)

    page.click("#tab-text")
    assert page.is_visible("#plain-text")
    assert not page.is_visible("#email-frame")
    assert "Thank you, Zoë Ångström!" in page.inner_text("#plain-text")

    page.click("#tab-headers")
    headers = page.inner_text("#panel-headers")
    assert "Auto-Submitted\tauto-replied" in headers
    assert "From\tExample Ltd <owner@example.com>" in headers
    page.screenshot(path=artifacts / "confirmation-headers.png")

    page.click("#tab-source")
    assert "<mj-include" in page.inner_text("#panel-source")

    page.click("#tab-spam")
    if spamassassin_path() is None:
        page.wait_for_selector("[data-unavailable]", timeout=TIMEOUT_MS)
    else:
        score = page.wait_for_selector(".score", timeout=TIMEOUT_MS)
        assert score is not None
        assert float(score.inner_text().split()[0]) <= 1.0
        assert page.is_visible("table.rules")
    page.screenshot(path=artifacts / "confirmation-spam.png")

    page.click("#tab-text")
    page.fill("input[name=name]", "Grace Hopper")
    page.click("#sample button[type=submit]")
    page.wait_for_selector("text=Thank you, Grace Hopper!", timeout=TIMEOUT_MS)
    # The tab the author was on survives the new render.
    assert page.get_attribute("#tab-text", "aria-selected") == "true"
    page.click("#tab-html")
    frame = wait_for_email(page)
    assert "Thank you, Grace Hopper!" in frame.inner_text("body")


def test_send_test_writes_the_email(
    page: Page, served: str, mail_dir: Path, console: list[str]
) -> None:
    page.goto(f"{served}/dev/preview/notification?preset=non-latin")
    wait_for_email(page)
    page.fill("input[name=to]", "author@example.net")
    page.click("#send button[type=submit]")
    page.wait_for_selector("#send-result.ok", timeout=TIMEOUT_MS)
    result = page.inner_text("#send-result")
    assert result.startswith("Sent to author@example.net by file (")
    stem = result.rsplit("(", 1)[1].rstrip(").")
    message = email.message_from_bytes(
        (mail_dir / f"{stem}.eml").read_bytes(), policy=email.policy.default
    )
    assert message["To"] == "author@example.net"
    assert message["Reply-To"] == "li.lei@example.cn"

    page.fill("input[name=to]", "not-an-address@")
    page.evaluate(
        "document.querySelector('input[name=to]').type = 'text'"
    )  # skip the browser check
    page.click("#send button[type=submit]")
    page.wait_for_selector("#send-result.bad", timeout=TIMEOUT_MS)
    assert "valid email address" in page.inner_text("#send-result")
    expected = "Failed to load resource: the server responded with a status of 422"
    console[:] = [line for line in console if not line.startswith(expected)]


def test_the_page_reloads_when_a_template_changes(
    page: Page, served: str, templates_dir: Path, artifacts: Path
) -> None:
    page.goto(f"{served}/dev/preview/notification?preset=long-name&view=mobile")
    wait_for_email(page)
    page.wait_for_selector("#live.on", timeout=TIMEOUT_MS)
    (templates_dir / "notification.subject").write_text("Edited: a lead for {{ brand.name }}\n")
    page.wait_for_selector("#subject >> text=Edited: a lead for Example Ltd", timeout=TIMEOUT_MS)
    assert page.get_attribute("#frame", "data-view") == "mobile"
    assert page.get_attribute(".presets a[aria-current]", "href") is not None

    footer = templates_dir / "layout" / "footer.mjml"
    footer.parent.mkdir()
    footer.write_text(
        '<mj-section background-color="#f3f4f6"><mj-column>'
        '<mj-text color="#111827">Edited footer of {{ brand.name }}</mj-text>'
        "</mj-column></mj-section>"
    )
    # Locator assertions poll without eval, which the page's CSP forbids.
    expect(page.locator("#email-frame")).to_have_attribute(
        "srcdoc", re.compile("Edited footer of Example Ltd"), timeout=TIMEOUT_MS
    )
    page.screenshot(path=artifacts / "live-reload.png")

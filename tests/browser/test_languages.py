"""Every language in Chromium: emails fit a phone, the preview switches language, pages pass axe."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlencode

import pytest

from service.i18n import LOCALES

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

expect = pytest.importorskip("playwright.sync_api", reason="pip install playwright").expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TIMEOUT_MS = 30_000
PHONE = 375

# German writes nouns together; a mail client must break them rather than scroll sideways.
COMPOUND = {
    "name": "Bartholomäa Donaudampfschifffahrtsgesellschaftskapitänsstellvertreterin",
    "company": "Rindfleischetikettierungsüberwachungsaufgabenübertragungsgesellschaft",
    "email": "kapitaenin@example.de",
    "message": "Grundstücksverkehrsgenehmigungszuständigkeitsübertragungsverordnung?",
}


def email_html(page: Page, served: str, kind: str, query: dict[str, str]) -> str:
    page.goto(f"{served}/dev/preview/{kind}?{urlencode(query)}")
    html = page.get_attribute("#email-frame", "srcdoc")
    assert html is not None
    return html


def test_every_email_in_every_language_fits_a_phone(
    browser: Browser, page: Page, served: str, artifacts: Path
) -> None:
    reader = browser.new_context(viewport={"width": PHONE, "height": 800}).new_page()
    too_wide = []
    try:
        for locale in LOCALES:
            for kind in ("notification", "confirmation"):
                for label, sample in (("sample", {"preset": "sample"}), ("compound", COMPOUND)):
                    html = email_html(page, served, kind, {**sample, "locale": locale})
                    assert f'<html lang="{locale}"' in html
                    reader.set_content(html)
                    scroll = reader.evaluate("document.documentElement.scrollWidth")
                    if scroll > PHONE:
                        too_wide.append(f"{locale} {kind}/{label}: {scroll} px")
                    shot = artifacts / f"email-{locale}-{kind}-{label}-{PHONE}.png"
                    reader.screenshot(path=shot, full_page=True)
    finally:
        reader.context.close()
    assert too_wide == []


def test_the_language_switch_sits_beside_the_widths_and_keeps_the_edits(
    page: Page, served: str, artifacts: Path
) -> None:
    page.goto(f"{served}/dev/preview/confirmation")
    page.wait_for_selector("#email-frame", timeout=TIMEOUT_MS)
    switch = page.locator("[role=group][aria-label=Language] button")
    assert switch.all_inner_texts() == ["English", "Nederlands", "Deutsch", "français"]
    assert page.get_attribute("button[value=en][form=sample]", "aria-pressed") == "true"

    page.fill("input[name=name]", "Grace Hopper")
    page.click("button[value=nl][form=sample]")
    page.wait_for_selector("#subject:has-text('Bedankt voor je bericht aan Example Ltd')")
    assert page.get_attribute("button[value=nl][form=sample]", "aria-pressed") == "true"
    assert page.input_value("input[name=name]") == "Grace Hopper"
    frame = page.frame_locator("#email-frame")
    assert "Bedankt, Grace Hopper!" in frame.locator("body").inner_text()
    page.screenshot(path=artifacts / "preview-language-nl.png")

    # The language stays when the author renders again and when a preset is picked.
    page.fill("input[name=name]", "Ada Lovelace")
    page.click("#sample button[type=submit]")
    expect(page.frame_locator("#email-frame").locator("body")).to_contain_text(
        "Bedankt, Ada Lovelace!", timeout=TIMEOUT_MS
    )
    page.click("a:has-text('No company')")
    page.wait_for_selector("#subject:has-text('Bedankt')", timeout=TIMEOUT_MS)

    # The sample data is translated too: the notification's sample message is German.
    page.goto(f"{served}/dev/preview/notification?locale=de")
    assert "Hallo,\nwir planen" in page.input_value("textarea[name=message]")
    assert page.inner_text("#subject") == "Neue Nachricht über das Kontaktformular von Example Ltd"


def test_pages_in_every_language_pass_axe(
    page: Page, served: str, artifacts: Path, console: list[str]
) -> None:
    axe_module = pytest.importorskip("axe_playwright_python.sync_playwright")
    axe = axe_module.Axe()
    serious = []
    for locale in LOCALES:
        page.goto(f"{served}/thanks?locale={locale}")
        assert page.get_attribute("html", "lang") == locale
        serious += [(locale, "thanks", v["id"]) for v in _serious(axe.run(page))]
        # The error page a browser gets for a plain form post with a bad field.
        page.set_content(
            f'<form method="post" action="{served}/api/contact">'
            f'<input name="name" value="Zoë"><input name="email" value="nope">'
            f'<input name="message" value="hi"><input name="locale" value="{locale}">'
            "<button>Send</button></form>"
        )
        with page.expect_navigation():
            page.click("button")
        assert page.get_attribute("html", "lang") == locale
        page.screenshot(path=artifacts / f"error-page-{locale}.png")
        serious += [(locale, "error", v["id"]) for v in _serious(axe.run(page))]
    page.goto(f"{served}/dev/preview/confirmation?locale=fr")
    serious += [("fr", "preview", v["id"]) for v in _serious(axe.run(page))]
    assert serious == []
    # Chromium reports the error page's own 422 status; nothing else may show.
    expected = [message for message in console if "status of 422" in message]
    assert len(expected) == len(LOCALES)
    for message in expected:
        console.remove(message)


def _serious(results: object) -> list[dict]:
    violations = results.response["violations"]  # type: ignore[attr-defined]
    return [v for v in violations if v.get("impact") in ("serious", "critical")]

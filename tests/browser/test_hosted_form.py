"""The hosted form page in headless Chromium: JavaScript on and off, keyboard only, axe-core.

The server is a real ``python -m service`` with the issue's example forms plus
a form with every other field type. Each state a visitor sees (the empty
form, its errors with and without JavaScript, the thank-you message and page)
is scanned with axe-core; no serious or critical violation may be found.
"""

from __future__ import annotations

import email
import email.policy
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.forms.examples import EXAMPLE
from tests.process import running_service

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

expect = pytest.importorskip("playwright.sync_api", reason="pip install playwright").expect
axe_playwright = pytest.importorskip("axe_playwright_python.sync_playwright")

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TIMEOUT_MS = 15_000

EVERY_TYPE = """
[forms.survey]
title = "Survey"
message = "off"
company = "off"

[[forms.survey.fields]]
name = "visits"
type = "number"
label = "Visits per month"
min = 0
max = 100

[[forms.survey.fields]]
name = "since"
type = "date"
label = "Customer since"

[[forms.survey.fields]]
name = "phone"
type = "tel"
label = "Phone"

[[forms.survey.fields]]
name = "ideas"
type = "textarea"
label = "Ideas"

[[forms.survey.fields]]
name = "newsletter"
type = "checkbox"
label = "Send me the newsletter"
"""

APPLICANT = {
    "#f-name": "Ada Lovelace",
    "#f-email": "ada@example.org",
    "#f-portfolio": "https://ada.example/work",
}


@pytest.fixture
def served(tmp_path: Path, mail_dir: Path) -> Iterator[str]:
    """``python -m service`` with FORMS_FILE; yields its base URL."""
    (tmp_path / "forms.toml").write_text(EXAMPLE + EVERY_TYPE)
    env = {
        "BRAND_NAME": "Example Ltd",
        "EMAIL_FROM": "owner@example.com",
        "EMAIL_FILE_DIR": str(mail_dir),
        "FORMS_FILE": str(tmp_path / "forms.toml"),
        "CONTACT_RATE_LIMIT": "off",
    }
    with running_service(tmp_path, env) as base_url:
        yield base_url


@pytest.fixture
def no_script_page(browser: Browser, served: str, console: list[str]) -> Iterator[Page]:
    """A page with JavaScript turned off."""
    del served
    context = browser.new_context(java_script_enabled=False, viewport={"width": 900, "height": 900})
    page = context.new_page()
    page.on(
        "console",
        lambda message: console.append(message.text) if message.type == "error" else None,
    )
    yield page
    context.close()
    assert console == []


def assert_accessible(page: Page) -> None:
    """axe-core finds no serious or critical violation on the page as it is now."""
    results = axe_playwright.Axe().run(page)
    bad = [
        (violation["id"], violation["impact"], [node["target"] for node in violation["nodes"]])
        for violation in results.response["violations"]
        if violation["impact"] in ("serious", "critical")
    ]
    assert bad == []


def notifications(mail_dir: Path, count: int) -> list[email.message.EmailMessage]:
    """Poll until ``count`` notifications were written; return them."""
    deadline = time.monotonic() + 15
    while True:
        found = []
        for path in sorted(mail_dir.glob("*notification*.eml")):
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            found.append(message)
        if len(found) >= count or time.monotonic() > deadline:
            return found  # type: ignore[return-value]
        time.sleep(0.05)


def expect_refusals(console: list[str], count: int) -> None:
    """Chromium logs every 4xx answer to a fetch as an error; remove the expected 422s."""
    refused = [line for line in console if "status of 422" in line]
    assert len(refused) == count
    for line in refused:
        console.remove(line)


def focused_id(page: Page) -> Any:
    return page.evaluate("() => document.activeElement && document.activeElement.id")


def test_with_javascript_errors_show_beside_fields_and_success_in_place(
    page: Page, served: str, mail_dir: Path, artifacts: Path, console: list[str]
) -> None:
    page.goto(f"{served}/f/careers")
    expect(page.locator("h1")).to_have_text("Careers")
    assert_accessible(page)

    page.fill("#f-email", "not an address")
    page.click("button[type=submit]")
    expect(page.locator("#f-name-error")).to_have_text("This field is required.")
    expect(page.locator("#f-email-error")).to_have_text("Must be a valid email address.")
    expect(page.locator("#f-position-error")).to_have_text("This field is required.")
    expect(page.locator("#f-consent-error")).to_have_text("Must be checked.")
    expect(page.locator("#f-portfolio-error")).to_be_hidden()
    assert focused_id(page) == "f-name"
    expect(page.locator("#f-email")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#form-status")).to_contain_text("Please correct the highlighted fields.")
    expect_refusals(console, 1)
    page.screenshot(path=artifacts / "hosted-errors.png", full_page=True)
    assert_accessible(page)

    for selector, value in APPLICANT.items():
        page.fill(selector, value)
    page.select_option("#f-position", "Designer")
    page.check("#f-consent")
    page.click("button[type=submit]")
    expect(page.locator("#form-success")).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.locator("#hosted-form")).to_be_hidden()
    assert focused_id(page) == "form-success"
    assert page.url == f"{served}/f/careers"  # no navigation: the answer came as JSON
    page.screenshot(path=artifacts / "hosted-success.png", full_page=True)
    assert_accessible(page)

    (notification,) = notifications(mail_dir, 1)
    assert notification["To"] == "jobs@example.com"
    text = notification.get_body(("plain",)).get_content()
    assert "Position: Designer" in text
    assert "I agree that my application is kept for six months.: Yes" in text


def test_without_javascript_the_page_posts_and_keeps_the_values(
    no_script_page: Page, served: str, mail_dir: Path, artifacts: Path, console: list[str]
) -> None:
    page = no_script_page
    page.goto(f"{served}/f/careers")
    page.fill("#f-name", "Ada Lovelace")
    page.fill("#f-email", "not an address")
    page.select_option("#f-position", "Backend engineer")
    page.fill("#f-message", "Line one\nLine two")
    page.click("button[type=submit]")

    expect(page).to_have_title("Error: Careers")
    assert page.url == f"{served}/f/careers"
    expect(page.locator("#f-name")).to_have_value("Ada Lovelace")
    expect(page.locator("#f-email")).to_have_value("not an address")
    expect(page.locator("#f-position")).to_have_value("Backend engineer")
    expect(page.locator("#f-message")).to_have_value("Line one\nLine two")
    expect(page.locator("#f-email-error")).to_have_text("Must be a valid email address.")
    expect(page.locator("#f-consent-error")).to_have_text("Must be checked.")
    expect(page.locator("#form-status a[href='#f-email']")).to_be_visible()
    expect_refusals(console, 1)
    page.screenshot(path=artifacts / "hosted-no-script-errors.png", full_page=True)

    page.fill("#f-email", "ada@example.org")
    page.check("#f-consent")
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{served}/f/careers/thanks")
    expect(page.locator("h1")).to_have_text("Thank you for your message!")
    (notification,) = notifications(mail_dir, 1)
    assert "Line one" in notification.get_body(("plain",)).get_content()


def test_the_pages_of_a_plain_post_are_accessible(
    page: Page, served: str, console: list[str]
) -> None:
    """The no-script pages again, scanned: axe-core needs script, so only the form's is blocked."""
    page.route("**/static/form.js", lambda route: route.abort())
    page.goto(f"{served}/f/careers")
    page.fill("#f-email", "not an address")
    page.click("button[type=submit]")
    expect(page).to_have_title("Error: Careers")
    expect(page.locator("#f-email-error")).to_have_text("Must be a valid email address.")
    assert_accessible(page)
    page.fill("#f-name", "Ada")
    page.fill("#f-email", "ada@example.org")
    page.select_option("#f-position", "Designer")
    page.check("#f-consent")
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{served}/f/careers/thanks")
    assert_accessible(page)
    expect_refusals(console, 1)  # the page answering the refused post
    blocked = [line for line in console if "ERR_FAILED" in line]
    assert len(blocked) == 2  # the script of both form pages; the thank-you page has none
    for line in blocked:
        console.remove(line)


def test_a_keyboard_alone_fills_in_and_sends_the_form(
    page: Page, served: str, mail_dir: Path, console: list[str]
) -> None:
    page.goto(f"{served}/f/survey")
    expect(page.locator("h1")).to_have_text("Survey")
    assert_accessible(page)
    order: list[str] = []
    page.keyboard.press("Tab")
    while page.evaluate("() => document.activeElement.type") != "submit" and len(order) < 20:
        if focused_id(page) not in order:  # a date input stops at month, day and year
            order.append(focused_id(page))
        page.keyboard.press("Tab")
    # Every field in order, then the button: the honeypot is never reached.
    assert order == [
        "f-name",
        "f-email",
        "f-visits",
        "f-since",
        "f-phone",
        "f-ideas",
        "f-newsletter",
    ]

    page.locator("#f-name").focus()
    page.keyboard.type("Grace Hopper")
    page.keyboard.press("Tab")
    page.keyboard.type("grace@example.org")
    page.keyboard.press("Tab")
    page.keyboard.type("250")  # over the maximum: refused, and focus comes back to it
    while focused_id(page) != "f-phone":  # past the date's month, day and year, left empty
        page.keyboard.press("Tab")
    page.keyboard.type("+1 555 0100")
    page.keyboard.press("Tab")
    page.keyboard.type("Faster compilers")
    page.keyboard.press("Tab")
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.locator("#f-visits-error")).to_have_text("Must be at most 100.")
    assert focused_id(page) == "f-visits"
    expect_refusals(console, 1)
    assert_accessible(page)

    page.keyboard.press("Control+A")
    page.keyboard.type("12")
    page.keyboard.press("Enter")  # Enter in a field submits the form
    expect(page.locator("#form-success")).to_be_visible(timeout=TIMEOUT_MS)
    assert focused_id(page) == "form-success"
    (notification,) = notifications(mail_dir, 1)
    text = notification.get_body(("plain",)).get_content()
    assert "Visits per month: 12" in text
    assert "Send me the newsletter: Yes" in text
    assert "Ideas: Faster compilers" in text
    assert "Customer since" not in text  # left empty: not listed
    assert "Phone: +1 555 0100" in text


def test_an_unknown_form_is_a_page_saying_so(page: Page, served: str, console: list[str]) -> None:
    response = page.goto(f"{served}/f/nothing-here")
    assert response is not None
    assert response.status == 404
    console.remove("Failed to load resource: the server responded with a status of 404 (Not Found)")
    expect(page.locator("h1")).to_have_text("Form not found")
    assert_accessible(page)


# The Dutch page ----------------------------------------------------------------------------


def test_a_dutch_browser_gets_the_dutch_page_with_javascript(
    browser: Browser, served: str, mail_dir: Path, console: list[str]
) -> None:
    """Accept-Language: nl, JavaScript on: every word Dutch, the JSON answers too."""
    context = browser.new_context(extra_http_headers={"Accept-Language": "nl-BE,nl;q=0.9,en;q=0.5"})
    page = context.new_page()
    page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
    try:
        page.goto(f"{served}/f/careers")
        assert page.get_attribute("html", "lang") == "nl"
        expect(page.locator("label[for=f-name]")).to_have_text("Naam *")
        expect(page.locator("button[type=submit]")).to_have_text("Versturen")
        expect(page.locator("#f-position option").first).to_have_text("Kies…")
        assert_accessible(page)

        page.fill("#f-email", "geen adres")
        page.click("button[type=submit]")
        expect(page.locator("#f-name-error")).to_have_text("Dit veld is verplicht.")
        expect(page.locator("#f-email-error")).to_have_text("Moet een geldig e-mailadres zijn.")
        expect(page.locator("#f-consent-error")).to_have_text("Moet aangevinkt zijn.")
        expect(page.locator("#form-status")).to_contain_text("Verbeter de gemarkeerde velden.")
        assert focused_id(page) == "f-name"
        expect_refusals(console, 1)
        assert_accessible(page)

        for selector, value in APPLICANT.items():
            page.fill(selector, value)
        page.select_option("#f-position", "Designer")
        page.check("#f-consent")
        page.click("button[type=submit]")
        expect(page.locator("#form-success h2")).to_have_text(
            "Bedankt voor je bericht!", timeout=TIMEOUT_MS
        )
        assert_accessible(page)
    finally:
        context.close()
    assert console == []
    (notification,) = notifications(mail_dir, 1)
    assert "Dutch" in notification.get_body(("plain",)).get_content()  # the owner's language: en


def test_without_javascript_the_dutch_page_stays_dutch_to_the_thanks(
    no_script_page: Page, served: str, console: list[str]
) -> None:
    """?locale=nl beats an English browser; the hidden field carries it through the plain post."""
    page = no_script_page
    page.set_extra_http_headers({"Accept-Language": "en"})
    page.goto(f"{served}/f/careers?locale=nl")
    assert page.get_attribute("html", "lang") == "nl"
    page.fill("#f-name", "Ada Lovelace")
    page.fill("#f-email", "geen adres")
    page.click("button[type=submit]")
    expect(page).to_have_title("Fout: Careers")
    assert page.get_attribute("html", "lang") == "nl"
    expect(page.locator("#f-email-error")).to_have_text("Moet een geldig e-mailadres zijn.")
    expect(page.locator("#f-name")).to_have_value("Ada Lovelace")
    expect_refusals(console, 1)

    page.fill("#f-email", "ada@example.org")
    page.select_option("#f-position", "Designer")
    page.check("#f-consent")
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{served}/f/careers/thanks?locale=nl")
    expect(page.locator("h1")).to_have_text("Bedankt voor je bericht!")
    assert page.get_attribute("html", "lang") == "nl"


def test_the_dutch_pages_of_a_plain_post_are_accessible(
    page: Page, served: str, console: list[str]
) -> None:
    """axe-core needs script: the form's own is blocked, so the page posts as without it."""
    page.route("**/static/form.js", lambda route: route.abort())
    page.goto(f"{served}/f/careers?locale=nl")
    page.click("button[type=submit]")
    expect(page).to_have_title("Fout: Careers")
    assert_accessible(page)
    expect_refusals(console, 1)
    blocked = [line for line in console if "ERR_FAILED" in line]
    assert len(blocked) == 2
    for line in blocked:
        console.remove(line)


# The captcha widget ------------------------------------------------------------------------

# Stands in for Cloudflare's api.js (no test reaches the internet): what the real one does to
# the page that matters here is put its token field into the widget's element.
TURNSTILE_STUB = """
for (const element of document.querySelectorAll(".cf-turnstile")) {
  const token = document.createElement("input");
  token.type = "hidden";
  token.name = "cf-turnstile-response";
  token.value = "stub:" + element.dataset.sitekey + ":" + element.dataset.language;
  element.append(token);
}
window.turnstile = { reset() { window.captchaResets = (window.captchaResets || 0) + 1; } };
"""


@pytest.fixture
def captcha_served(tmp_path: Path, mail_dir: Path) -> Iterator[str]:
    """``python -m service`` with Turnstile configured; yields its base URL."""
    env = {
        "BRAND_NAME": "Example Ltd",
        "EMAIL_FROM": "owner@example.com",
        "EMAIL_FILE_DIR": str(mail_dir),
        "CAPTCHA_PROVIDER": "turnstile",
        "CAPTCHA_SECRET": "1x0000000000000000000000000000000AA",
        "CAPTCHA_SITE_KEY": "1x00000000000000000000AA",
    }
    with running_service(tmp_path, env) as base_url:
        yield base_url


def test_the_captcha_widget_loads_under_the_page_s_policy_and_nothing_else_does(
    browser: Browser, captcha_served: str, console: list[str]
) -> None:
    context = browser.new_context(extra_http_headers={"Accept-Language": "nl"})
    page = context.new_page()
    page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
    provider_requests: list[str] = []

    def turnstile(route: Any) -> None:
        provider_requests.append(route.request.url)
        route.fulfill(status=200, content_type="text/javascript", body=TURNSTILE_STUB)

    context.route("https://challenges.cloudflare.com/**", turnstile)
    context.route("https://js.hcaptcha.com/**", lambda route: route.abort())
    try:
        page.goto(f"{captcha_served}/f/contact")
        token = page.locator("#hosted-form .cf-turnstile input[name=cf-turnstile-response]")
        expect(token).to_have_value("stub:1x00000000000000000000AA:nl")
        assert provider_requests == ["https://challenges.cloudflare.com/turnstile/v0/api.js"]
        assert console == []  # the provider's script ran: the policy allowed it
        # Another provider's script is refused by the same policy.
        with page.expect_console_message(lambda m: "Content Security Policy" in m.text):
            page.evaluate(
                """() => { const s = document.createElement("script");
                           s.src = "https://js.hcaptcha.com/1/api.js"; document.head.append(s); }"""
            )
        refused = [line for line in console if "Content Security Policy" in line]
        assert len(refused) == 1
        assert "js.hcaptcha.com" in refused[0]
        console.remove(refused[0])
        assert_accessible(page)
    finally:
        context.close()
    assert console == []


def test_a_refused_post_asks_the_captcha_widget_for_a_new_token(
    browser: Browser, captcha_served: str
) -> None:
    # Captcha tokens are single-use: a second try with the first token would always fail.
    context = browser.new_context()
    context.route(
        "https://challenges.cloudflare.com/**",
        lambda route: route.fulfill(
            status=200, content_type="text/javascript", body=TURNSTILE_STUB
        ),
    )
    page = context.new_page()
    try:
        page.goto(f"{captcha_served}/f/contact")
        expect(page.locator(".cf-turnstile input")).to_have_count(1)
        assert page.evaluate("window.captchaResets") is None
        page.get_by_role("button", name="Send").click()  # every required field empty: refused
        # "status info" while sending; the answer's message replaces it (the page's CSP
        # forbids eval, so the page is not polled with a JavaScript expression).
        expect(page.locator("#form-status")).not_to_have_class(re.compile(r"\binfo\b"))
        assert page.evaluate("window.captchaResets") == 1
    finally:
        context.close()

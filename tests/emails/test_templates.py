"""What the built-in templates say and how they look: content, branding, escaping, contrast."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from html.parser import HTMLParser

import pytest
from markupsafe import escape

from service.config import Settings
from service.emails import EmailRenderer, Submission, compose_confirmation, compose_notification
from service.emails.colors import contrast, readable_on, text_safe
from service.emails.compose import COMPOSERS, sample_submission
from service.emails.samples import PRESETS, long_message
from service.submission import FormInfo
from service.validation import greeting_name
from tests.emails.conftest import parse, parts

HOSTILE = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "&lt;b&gt;",
    "{{ 7*7 }}",
    "{% raw %}",
]


def both_parts(email_bytes: bytes) -> tuple[str, str]:
    return parts(parse(email_bytes))


# Notification


def test_notification_lays_out_every_field(settings: Settings, renderer: EmailRenderer) -> None:
    submission = replace(sample_submission(), id="ref-42")
    email = compose_notification(submission, settings, renderer)
    text, html = both_parts(email.to_bytes())
    for value in ("Zoë Ångström", "zoe@example.org", "ref-42", "Example & Co."):
        assert value in text
        assert str(escape(value)) in html
    # Babel's long date in OWNER_LOCALE (en), in OWNER_TIMEZONE (UTC), zone named.
    assert f"Received:  {submission.created_at:%B} {submission.created_at.day}, " in text
    assert "(Coordinated Universal Time)" in text
    assert 'href="mailto:zoe@example.org"' in html
    assert "Reply to Zoë Ångström" in html
    assert "reply to this email" in html
    assert "Reply to this email" in text


def test_notification_says_when_the_company_is_missing(
    settings: Settings, renderer: EmailRenderer
) -> None:
    email = compose_notification(replace(sample_submission(), company=None), settings, renderer)
    text, html = both_parts(email.to_bytes())
    assert "Company:   Not given" in text
    assert "Not given" in html
    assert "None" not in text + html


def _address_column(html: str) -> str:
    """The class of the column that holds the visitor's address (MJML's width class)."""
    before = html[: html.index('href="mailto:zoe@example.org"')]
    return re.findall(r'class="mj-outlook-group-fix (mj-column-per-\d+)"', before)[-1]


def test_without_a_company_field_the_address_takes_the_whole_width(
    settings: Settings, renderer: EmailRenderer
) -> None:
    """MJML sizes columns when it compiles: the address must not keep the company's half."""
    form = FormInfo(id="survey", title="Survey", company=False)
    submission = replace(sample_submission(), company=None, form=form)
    text, html = both_parts(compose_notification(submission, settings, renderer).to_bytes())
    assert _address_column(html) == "mj-column-per-100"
    assert "Company" not in text + html
    assert "Not given" not in text + html
    with_company = compose_notification(sample_submission(), settings, renderer).to_bytes()
    assert _address_column(both_parts(with_company)[1]) == "mj-column-per-50"


def test_line_breaks_survive_in_both_parts(settings: Settings, renderer: EmailRenderer) -> None:
    submission = replace(sample_submission(), message="one\r\ntwo\n\nthree")
    text, html = both_parts(compose_notification(submission, settings, renderer).to_bytes())
    assert "one\ntwo\n\nthree" in text
    assert "one<br>\ntwo<br>\n<br>\nthree" in html


@pytest.mark.parametrize("hostile", HOSTILE)
@pytest.mark.parametrize("field", ["name", "company", "message"])
def test_hostile_input_is_literal_text_in_the_notification(
    settings: Settings, renderer: EmailRenderer, field: str, hostile: str
) -> None:
    submission = replace(sample_submission(), **{field: f"before {hostile} after"})
    text, html = both_parts(compose_notification(submission, settings, renderer).to_bytes())
    assert f"before {hostile} after" in text
    assert f"before {escape(hostile)} after" in html
    assert "<script" not in html
    assert "<img src=x" not in html


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_name_is_literal_text_in_the_confirmation(
    settings: Settings, renderer: EmailRenderer, hostile: str
) -> None:
    submission = replace(sample_submission(), name=f"Eve {hostile}")
    text, html = both_parts(compose_confirmation(submission, settings, renderer).to_bytes())
    if greeting_name(submission.name) is None:
        # Not name-like (a slash, a colon...): the greeting is generic, the text not echoed.
        assert text.startswith("Thank you for your message!")
        assert hostile not in text
    else:
        assert f"Thank you, Eve {hostile}!" in text
        assert f"Thank you, Eve {escape(hostile)}!" in html
    assert "<script" not in html


# Confirmation


def test_confirmation_says_what_happens_next_and_echoes_no_free_text(
    settings: Settings, renderer: EmailRenderer
) -> None:
    submission = replace(sample_submission(), message="Secret plans\nfor the merger")
    email = compose_confirmation(submission, settings, renderer)
    text, html = both_parts(email.to_bytes())
    for part in (text, html):
        assert "What happens next" in part
        assert "usually within one business day" in part
        for echoed in ("Secret plans", "Example &", "zoe@example.org"):
            assert echoed not in part
    assert parse(email.to_bytes())["Auto-Submitted"] == "auto-replied"


def test_confirmation_greets_generically_when_the_name_is_a_link(
    settings: Settings, renderer: EmailRenderer
) -> None:
    submission = replace(sample_submission(), name="Cheap pills at https://spam.example")
    text, html = both_parts(compose_confirmation(submission, settings, renderer).to_bytes())
    assert text.startswith("Thank you for your message!")
    assert "Thank you for your message!" in html
    assert "spam.example" not in text + html


# Branding


def test_branding_comes_from_the_settings(
    make_settings: Callable[..., Settings], renderer: EmailRenderer
) -> None:
    settings = make_settings(
        brand_name="Zeta Widgets",
        brand_url="https://zeta.example/",
        brand_logo_url="https://zeta.example/logo.png",
        brand_color="#7c3aed",
        brand_address="Hauptstraße 1, 10115 Berlin",
    )
    for compose in COMPOSERS.values():
        email = compose(sample_submission(), settings, renderer)
        text, html = both_parts(email.to_bytes())
        assert "Zeta Widgets" in email.subject
        assert '<img alt="Zeta Widgets"' in html
        assert 'src="https://zeta.example/logo.png"' in html
        assert "border-top:4px solid #7c3aed" in html
        assert 'href="https://zeta.example/"' in html
        assert "Hauptstraße 1, 10115 Berlin" in html
        assert text.endswith(
            "--\nZeta Widgets\nHauptstraße 1, 10115 Berlin\nhttps://zeta.example/\n"
        )
    confirmation = compose_confirmation(sample_submission(), settings, renderer)
    assert "contact form on zeta.example" in confirmation.text
    assert "Visit Zeta Widgets" in confirmation.html


def test_each_settings_object_gets_its_own_branding_and_addresses(
    make_settings: Callable[..., Settings], renderer: EmailRenderer
) -> None:
    first = make_settings(brand_name="First Co", contact_recipients="one@example.com")
    second = make_settings(brand_name="Second Co", contact_recipients="two@example.com")
    for settings, name, owner in (
        (first, "First Co", "one@example.com"),
        (second, "Second Co", "two@example.com"),
        (first, "First Co", "one@example.com"),
    ):
        email = compose_notification(sample_submission(), settings, renderer)
        assert name in email.subject
        assert [address.addr_spec for address in email.to] == [owner]


def test_without_logo_or_url_the_header_shows_the_name(
    settings: Settings, renderer: EmailRenderer
) -> None:
    html = compose_confirmation(sample_submission(), settings, renderer).html
    assert "<img" not in html
    assert ">Example Ltd</div>" in html
    assert "Visit Example Ltd" not in html
    assert "contact form." in html


def test_a_pale_brand_colour_gets_dark_button_text_and_a_darker_link_colour() -> None:
    assert readable_on("#fde047") == "#111827"
    assert readable_on("#1e3a8a") == "#ffffff"
    assert contrast(text_safe("#fde047"), "#ffffff") >= 4.5
    assert text_safe("#2563eb") == "#2563eb"
    assert text_safe("#36c") == "#3366cc"
    assert contrast("#000000", "#ffffff") == pytest.approx(21)


# Every text has an explicit colour on an explicit background, and reads well


class _TextColours(HTMLParser):
    """Collects (text, colour, background) for every visible text node of an email."""

    VOID = {"br", "img", "meta", "link", "hr", "input", "col", "area", "base", "source", "wbr"}
    INVISIBLE = {"head", "style", "title", "script"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, str | None, str | None, bool]] = []
        self.found: list[tuple[str, str | None, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.VOID:
            return
        attributes = dict(attrs)
        style = attributes.get("style") or ""
        colour = re.search(r"(?:^|;)\s*color\s*:\s*(#[0-9a-fA-F]{3,6})", style)
        background = re.search(r"background(?:-color)?\s*:\s*(#[0-9a-fA-F]{3,6})", style)
        hidden = tag in self.INVISIBLE or bool(re.search(r"display\s*:\s*none", style))
        self.stack.append(
            (
                tag,
                colour[1] if colour else None,
                background[1] if background else attributes.get("bgcolor"),
                hidden,
            )
        )

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self.stack) - 1, -1, -1):
            if self.stack[index][0] == tag:
                del self.stack[index:]
                return

    def handle_data(self, data: str) -> None:
        if not data.strip() or any(hidden for *_, hidden in self.stack):
            return
        colour = next((c for _, c, _, _ in reversed(self.stack) if c), None)
        background = next((b for _, _, b, _ in reversed(self.stack) if b), None)
        self.found.append((data.strip(), colour, background))


@pytest.mark.parametrize("brand_color", ["#2563eb", "#fde047", "#10b981", "#000"])
@pytest.mark.parametrize("preset", ["sample", "no-company"])
@pytest.mark.parametrize("kind", ["notification", "confirmation"])
def test_every_text_has_an_explicit_readable_colour_on_an_explicit_background(
    make_settings: Callable[..., Settings],
    renderer: EmailRenderer,
    kind: str,
    preset: str,
    brand_color: str,
) -> None:
    # A dark-mode client that inverts or keeps colours does it to colour and
    # background together; a text that inherits either can vanish.
    settings = make_settings(brand_color=brand_color, brand_url="https://example.com")
    email = COMPOSERS[kind](PRESETS[preset].submission, settings, renderer)
    parser = _TextColours()
    parser.feed(email.html)
    assert len(parser.found) > 10
    for text, colour, background in parser.found:
        assert colour is not None, f"no colour for {text!r}"
        assert background is not None, f"no background for {text!r}"
        assert contrast(colour, background) >= 4.5, f"{text!r}: {colour} on {background}"
    assert '<meta name="color-scheme" content="light" />' in email.html


def test_presets_are_valid_submissions() -> None:
    assert len(long_message()) == 5000
    assert len(PRESETS["long-message"].submission.message) == 5000
    assert PRESETS["no-company"].submission.company is None
    assert all(isinstance(preset.submission, Submission) for preset in PRESETS.values())


def test_the_shipped_templates_go_out_without_quoted_printable(
    settings: Settings, renderer: EmailRenderer
) -> None:
    # An ASCII submission: both parts of both emails are sent as they are (7bit).
    submission = replace(
        sample_submission(),
        name="Zoe Angstrom",
        company="Example and Co.",
        message="Could we talk next week?\nZoe",
    )
    for compose in COMPOSERS.values():
        raw = compose(submission, settings, renderer).to_bytes()
        assert raw.count(b"Content-Transfer-Encoding: 7bit") == 2, compose
        assert b"quoted-printable" not in raw
        assert max(len(line) for line in raw.split(b"\r\n")) <= 998

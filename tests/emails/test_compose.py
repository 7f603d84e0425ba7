"""The two emails, parsed back with the ``email`` package."""

from __future__ import annotations

import pytest
from markupsafe import escape

from service.config import Settings
from service.emails import EmailRenderer, Submission, compose_confirmation, compose_notification
from service.validation import greeting_name
from tests.emails.conftest import parse, parts


@pytest.fixture
def submission() -> Submission:
    return Submission(
        id="s1",
        name="Zoë Ångström",
        email="zoe@example.org",
        message="First line\nSecond line with 李雷",
        company="Ångström & Co.",
    )


def test_notification_headers(
    settings: Settings, renderer: EmailRenderer, submission: Submission
) -> None:
    raw = compose_notification(submission, settings, renderer).to_bytes()
    message = parse(raw)
    assert message["From"] == "Example Ltd <owner@example.com>"
    assert message["To"] == "sales@example.com, ops@example.com"
    assert message["Reply-To"] == "zoe@example.org"
    assert "contact form" in message["Subject"]
    assert message["Message-ID"].startswith("<")
    assert message["Message-ID"].endswith("@example.com>")
    assert message["Date"].datetime == submission.created_at.replace(microsecond=0)
    assert max(len(line) for line in raw.splitlines()) <= 998


def test_notification_carries_every_field_in_both_parts(
    settings: Settings, renderer: EmailRenderer, submission: Submission
) -> None:
    text, html = parts(parse(compose_notification(submission, settings, renderer).to_bytes()))
    for value in ("Zoë Ångström", "zoe@example.org", "First line\nSecond line with 李雷"):
        assert value in text
    assert "Ångström &amp; Co." in html
    assert 'href="mailto:zoe@example.org"' in html
    assert "Second line with 李雷" in html


def test_confirmation_thanks_the_visitor_without_echoing_the_message(
    settings: Settings, renderer: EmailRenderer, submission: Submission
) -> None:
    message = parse(compose_confirmation(submission, settings, renderer).to_bytes())
    assert message["To"] == "zoe@example.org"
    assert message["From"] == "Example Ltd <owner@example.com>"
    assert message["Auto-Submitted"] == "auto-replied"
    assert message["Reply-To"] is None
    text, html = parts(message)
    assert "Thank you, Zoë Ångström!" in text
    for part in (text, html):
        assert "First line" not in part
        assert "Ångström & Co." not in part


@pytest.mark.parametrize(
    "hostile",
    ["<script>alert(1)</script>", '<img src=x onerror="alert(1)">', "&lt;b&gt;", "{{ 7*7 }}"],
)
def test_hostile_text_is_literal_in_html_and_text(
    settings: Settings, renderer: EmailRenderer, hostile: str
) -> None:
    submission = Submission(id="s2", name="Eve", email="eve@example.org", message=hostile)
    text, html = parts(parse(compose_notification(submission, settings, renderer).to_bytes()))
    assert hostile in text
    assert str(escape(hostile)) in html
    assert "<script>" not in html
    assert "<img" not in html


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Zoë Ångström", "Zoë Ångström"),
        ("李雷", "李雷"),
        ("Win money at http://spam.example", None),
        ("www.spam.example", None),
        ("call 0123456789", None),
        ("victim@example.net", None),
        ("J.R.R. Tolkien", "J.R.R. Tolkien"),
        ("Mary-Jane O'Neil", "Mary-Jane O'Neil"),
        ("Louis XIV", "Louis XIV"),
        ("Louis 14", None),
        ("Mr. Smith", "Mr. Smith"),
        ("Anne-Marie d\u2019Arc", "Anne-Marie d\u2019Arc"),
        # A zero-width non-joiner inside a Persian name is part of its spelling.
        ("\u0645\u062d\u0645\u062f\u200c\u0631\u0636\u0627",) * 2,
        ("Visit cheap-pills.example now", None),
        ("+1 555 123 4567", None),
        ("\uff57\uff57\uff57\uff0espam\uff0eexample", None),
        ("spam。example", None),
        ("victim\uff20example.net", None),
        ("javascript:alert(1)", None),
        ("HTTPS://SPAM.EXAMPLE", None),
        # What a hostile review got echoed to a victim as "Thank you, ...!"
        ("evil\u200b.\u200bcom", None),
        ("evil.c\u00adom", None),
        ("Eve\u202emoc\u200b.live", None),
        ("evil\u06d4com", None),
        ("evil[.]com", None),
        ("evil. com", None),
        ("evil dot com", None),
        ("WIN 1000$ CLAIM AT EVIL (DOT) COM", None),
        ("Your account is locked - reply with your password", None),
        ("Reply with your password", None),
        ("Anna Maria Luisa de Medici", None),
        ("Wolfeschlegelsteinhausenbergerdorff Senior", None),
        ("...", None),
    ],
)
def test_greeting_uses_the_name_only_when_it_looks_like_one(
    name: str, expected: str | None
) -> None:
    assert greeting_name(name) == expected

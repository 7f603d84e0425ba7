"""SpamAssassin, run offline: report parsing, its absence, and both emails' scores."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from service.config import Settings
from service.emails import EmailRenderer, sample_submission
from service.emails.compose import COMPOSERS
from service.emails.spamcheck import (
    SpamCheckError,
    SpamCheckUnavailable,
    check_spam,
    parse_report,
    spamassassin_path,
)
from service.i18n import LOCALES

needs_spamassassin = pytest.mark.skipif(
    spamassassin_path() is None, reason="SpamAssassin is absent: apt-get install spamassassin"
)

REPORT = """\
Subject: hi

body, which quotes an old report: Content analysis details:   (9.9 points, 5.0 required)

Spam detection software, running on the system "vm", has NOT identified this incoming email as spam.

Content analysis details:   (1.3 points, 5.0 required)

 pts rule name              description
---- ---------------------- --------------------------------------------------
-0.0 NO_RELAYS              Informational: message was not relayed via SMTP
 0.7 HTML_FONT_LOW_CONTRAST BODY: HTML font color similar or identical to
                            background
 0.6 MISSING_MID            Missing Message-Id: header

"""


def test_parse_report_reads_the_last_report_and_wrapped_descriptions() -> None:
    report = parse_report(REPORT)
    assert report.score == 1.3
    assert report.required == 5.0
    assert [(rule.name, rule.score) for rule in report.rules] == [
        ("NO_RELAYS", -0.0),
        ("HTML_FONT_LOW_CONTRAST", 0.7),
        ("MISSING_MID", 0.6),
    ]
    assert report.rules[1].description == (
        "BODY: HTML font color similar or identical to background"
    )


def test_output_without_a_report_is_an_error() -> None:
    with pytest.raises(SpamCheckError, match="no report"):
        parse_report("Subject: hi\n\nhello\n")


async def test_without_spamassassin_the_check_says_it_is_unavailable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert spamassassin_path() is None
    with pytest.raises(SpamCheckUnavailable, match="not installed"):
        await check_spam(b"Subject: hi\r\n\r\nhello\r\n")
    with pytest.raises(SpamCheckUnavailable, match="cannot run"):
        await check_spam(b"Subject: hi\r\n\r\nhello\r\n", executable=str(tmp_path / "missing"))


async def test_a_failing_command_is_an_error(tmp_path: Path) -> None:
    script = tmp_path / "spamassassin"
    script.write_text("#!/bin/sh\ncat >/dev/null\nexit 3\n")
    script.chmod(0o755)
    with pytest.raises(SpamCheckError, match="status 3"):
        await check_spam(b"Subject: hi\r\n\r\nhello\r\n", executable=str(script))


async def test_a_slow_command_is_killed(tmp_path: Path) -> None:
    script = tmp_path / "spamassassin"
    script.write_text("#!/bin/sh\nexec sleep 30\n")
    script.chmod(0o755)
    with pytest.raises(SpamCheckError, match=r"longer than 0\.2 s"):
        await check_spam(b"", executable=str(script), time_limit=0.2)


@needs_spamassassin
async def test_spam_is_recognised() -> None:
    # Proves the check can fail: the same runner scores obvious spam high.
    spam = (
        b"Subject: FREE VIAGRA!!!\r\n\r\n"
        b"BUY VIAGRA NOW CHEAP!!! CLICK HERE FOR FREE MONEY http://bit.ly/x\r\n"
    )
    report = await check_spam(spam)
    assert report.score > 5.0
    assert "MISSING_FROM" in {rule.name for rule in report.rules}


@needs_spamassassin
@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("branded", [False, True], ids=["plain", "logo and url"])
async def test_both_emails_score_at_most_one_point(
    make_settings: Callable[..., Settings], branded: bool, locale: str
) -> None:
    brand = (
        {
            "brand_url": "https://example.com",
            "brand_logo_url": "https://example.com/logo.png",
            "brand_address": "1 Main Street, 10115 Berlin",
        }
        if branded
        else {}
    )
    settings = make_settings(
        email_from="owner@example.com",
        email_from_name="Example Ltd",
        contact_recipients="sales@example.com",
        brand_name="Example Ltd",
        **brand,
    )
    renderer = EmailRenderer()
    # In each language as its reader gets it: the owner's notification and the visitor's
    # confirmation, with the sample message written in that language.
    emails = [
        compose(sample_submission(locale), settings, renderer, locale=locale)
        for compose in COMPOSERS.values()
    ]
    reports = await asyncio.gather(*(check_spam(email.to_bytes()) for email in emails))
    for email, report in zip(emails, reports, strict=True):
        fired = {rule.name: rule.score for rule in report.rules}
        assert report.score <= 1.0, f"{email.kind}: {report.score} points, {fired}"

"""Hostile submissions cannot add a header or a recipient, nor markup, to either email.

This machine's Python (3.11.7) predates the fix for CVE-2024-6923: an RFC 2047
encoded word such as ``=?UTF-8?Q?=0A?=`` in a header value is written out as a
real line break. The defence is that user text never reaches a header except
the visitor's validated address in ``Reply-To``, without a display name.
"""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from email.utils import getaddresses

import pytest
from markupsafe import escape
from pydantic import ValidationError

from service.api.schemas import ContactForm
from service.config import Settings
from service.emails import EmailRenderer, Submission, compose_confirmation, compose_notification
from service.validation import greeting_name

ENCODED_BCC = "x=?UTF-8?Q?=0A?=Bcc: victim@example.net"
ENCODED_CRLF = "=?UTF-8?Q?=0D=0ABcc:_victim@example.net?="

NOTIFICATION_HEADERS = [
    "From",
    "To",
    "Reply-To",
    "Subject",
    "Date",
    "Message-ID",
    "Content-Language",
    "MIME-Version",
    "Content-Type",
]
CONFIRMATION_HEADERS = [
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "Auto-Submitted",
    "Content-Language",
    "MIME-Version",
    "Content-Type",
]


def header_block(raw: bytes) -> list[bytes]:
    """The top-level header lines as a mail server reads them: any CR or LF ends a line."""
    return raw.split(b"\r\n\r\n", 1)[0].splitlines()


def header_names(raw: bytes) -> list[str]:
    """Every top-level header name, in order, read both by line and by the parser."""
    lines = header_block(raw)
    names = [line.split(b":", 1)[0].decode() for line in lines if line[:1] not in b" \t"]
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert list(parsed.keys()) == names
    return names


def recipients(raw: bytes) -> list[str]:
    """Every address a server would deliver to (To, Cc, Bcc), from the parsed message."""
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    fields = [value for name in ("To", "Cc", "Bcc") for value in message.get_all(name, [])]
    return sorted(address for _, address in getaddresses(fields))


def compose_both(settings: Settings, **fields: str) -> tuple[bytes, bytes]:
    form = ContactForm.model_validate(
        {"name": "Eve", "email": "eve@example.org", "message": "Hello", **fields}
    )
    submission = Submission(
        id="s1",
        name=form.name,
        email=str(form.email),
        message=form.message,
        company=form.company or None,
    )
    renderer = EmailRenderer()
    return (
        compose_notification(submission, settings, renderer).to_bytes(),
        compose_confirmation(submission, settings, renderer).to_bytes(),
    )


def test_the_detector_sees_the_injection_when_user_text_reaches_a_subject() -> None:
    # The control: the same name put where this service never puts it.
    message = EmailMessage(policy=email.policy.SMTP)
    message["To"] = "zoe@example.org"
    message["Subject"] = f"Message from {ENCODED_BCC}"
    message.set_content("body")
    raw = message.as_bytes()
    if "Bcc" not in header_names(raw):
        pytest.skip("this Python's email package has the CVE-2024-6923 fix")
    assert recipients(raw) == ["victim@example.net", "zoe@example.org"]


@pytest.mark.parametrize(
    "fields",
    [
        {"name": ENCODED_BCC},
        {"name": ENCODED_CRLF},
        {"company": ENCODED_BCC},
        {"message": f"{ENCODED_BCC}\r\nBcc: victim@example.net\r\n\r\nbody"},
        {"name": "=?UTF-8?B?DQpCY2M6IHZpY3RpbUBleGFtcGxlLm5ldA==?="},
    ],
    ids=["name-q", "name-crlf", "company", "message", "name-b"],
)
def test_encoded_words_add_no_header_and_no_recipient(
    settings: Settings, fields: dict[str, str]
) -> None:
    notification, confirmation = compose_both(settings, **fields)
    assert header_names(notification) == NOTIFICATION_HEADERS
    assert header_names(confirmation) == CONFIRMATION_HEADERS
    assert recipients(notification) == ["ops@example.com", "sales@example.com"]
    visitor = fields.get("email", "eve@example.org")
    assert recipients(confirmation) == [visitor]
    for raw in (notification, confirmation):
        assert b"victim@example.net" not in b"\n".join(header_block(raw))


ENCODED_LOCAL_PART = "=?x?q?v=40evil.com=3e=00?=foo@example.com"


def test_the_detector_reads_an_encoded_word_in_a_local_part_as_another_address() -> None:
    # The control: Python's own parser decodes the local part into a whole other mailbox.
    raw = f"Reply-To: {ENCODED_LOCAL_PART}\r\n\r\nbody".encode()
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert [address.addr_spec for address in parsed["Reply-To"].addresses] == ["v@evil.com"]


@pytest.mark.parametrize(
    "address",
    [
        ENCODED_LOCAL_PART,
        "x=?utf-8?q?=0a?=@example.org",
        "x?bcc=attacker%40evil.com&subject=hi@example.com",
        "a#b@example.com",
        "100%@example.com",
        "a&b@example.com",
        "l" * 65 + "@example.com",
    ],
)
def test_an_address_a_reader_or_a_mailto_would_rewrite_is_refused(address: str) -> None:
    with pytest.raises(ValidationError) as caught:
        ContactForm.model_validate({"name": "Eve", "email": address, "message": "Hello"})
    assert [error["loc"] for error in caught.value.errors()] == [("email",)]


def test_the_subjects_carry_the_brand_only(settings: Settings) -> None:
    notification, confirmation = compose_both(settings, name=ENCODED_BCC, company="ACME")
    for raw in (notification, confirmation):
        subject = email.message_from_bytes(raw, policy=email.policy.default)["Subject"]
        assert "Example Ltd" in subject
        assert "=?" not in subject
        assert "ACME" not in subject


def test_reply_to_is_the_bare_visitor_address(settings: Settings) -> None:
    notification, _ = compose_both(settings, name=ENCODED_BCC)
    message = email.message_from_bytes(notification, policy=email.policy.default)
    [address] = message["Reply-To"].addresses
    assert address.display_name == ""
    assert address.addr_spec == "eve@example.org"


HOSTILE = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "&lt;b&gt;",
    "javascript:alert(document.cookie)",
    '"><a href="javascript:alert(1)">click</a>',
    "{{ 7*7 }}",
    "{% raw %}x{% endraw %}",
]


def html_part(raw: bytes) -> str:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    part = message.get_body(("html",))
    assert part is not None
    return part.get_content()


@pytest.mark.parametrize("hostile", HOSTILE)
@pytest.mark.parametrize("field", ["name", "company", "message"])
def test_every_field_is_escaped_in_both_emails(
    settings: Settings, field: str, hostile: str
) -> None:
    notification, confirmation = compose_both(settings, **{field: hostile})
    for raw in (notification, confirmation):
        html = html_part(raw)
        assert "<script" not in html
        assert "<img" not in html
        assert 'href="javascript:' not in html.replace(" ", "")
    notification_html = html_part(notification)
    assert str(escape(hostile)) in notification_html
    if field == "name" and greeting_name(hostile) is not None:
        assert f"Thank you, {escape(hostile)}!" in html_part(confirmation)
    if hostile == "&lt;b&gt;":
        assert "&amp;lt;b&amp;gt;" in notification_html


def test_only_the_validated_address_becomes_a_link(settings: Settings) -> None:
    notification, confirmation = compose_both(
        settings, name='<a href="https://spam.example">x</a>', message="https://spam.example"
    )
    html = html_part(notification)
    links = [chunk.split('"', 1)[0] for chunk in html.split('href="')[1:]]
    assert [link for link in links if "spam" in link] == []
    assert "mailto:eve@example.org" in links
    assert "spam.example" not in html_part(confirmation)

"""The email model: storage round trip and MIME form."""

from __future__ import annotations

import email
import email.policy
from email.headerregistry import Address

import pytest

from service.message import OutgoingEmail, make_message_id


def sample(**changes) -> OutgoingEmail:
    fields = {
        "kind": "notification",
        "sender": Address("Zoë Ångström", addr_spec="zoe@example.com"),
        "to": (Address("李雷", addr_spec="li@example.com"),),
        "reply_to": Address(addr_spec="visitor@example.org"),
        "subject": "Grüße",
        "text": "Line one\nLine two",
        "html": "<p>" + "x" * 5000 + "</p>",
        "message_id": make_message_id("example.com"),
        "headers": {"Auto-Submitted": "auto-replied"},
    }
    return OutgoingEmail(**(fields | changes))


def test_dict_round_trip_is_lossless() -> None:
    original = sample()
    assert OutgoingEmail.from_dict(original.to_dict()) == original


def test_mime_is_seven_bit_with_short_lines_and_survives_utf8() -> None:
    raw = sample().to_bytes()
    raw.decode("ascii")
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["From"] == "Zoë Ångström <zoe@example.com>"
    assert parsed["To"] == "李雷 <li@example.com>"
    assert parsed["Subject"] == "Grüße"
    assert parsed["Auto-Submitted"] == "auto-replied"
    assert parsed.get_body(("plain",)).get_content() == "Line one\r\nLine two\r\n"


def test_message_ids_are_unique() -> None:
    assert len({make_message_id("example.com") for _ in range(1000)}) == 1000


def test_addresses_refuse_line_breaks() -> None:
    with pytest.raises(ValueError, match="CR or LF"):
        sample(reply_to=Address(addr_spec="a@example.org\r\nBcc: victim@example.net")).to_bytes()

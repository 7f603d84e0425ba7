"""MAIL, RCPT and DATA without aiosmtplib's re-parsing, against the real aiosmtpd server."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from aiosmtplib import SMTPDataError, SMTPRecipientRefused, SMTPSenderRefused

from service.message import OutgoingEmail
from service.providers.smtp import SmtpProvider
from service.providers.smtp_dialogue import (
    data,
    data_payload,
    envelope_address,
    mail_from,
    rcpt_to,
)
from tests.smtp_server import USERNAME, SmtpServer

MakeProvider = Callable[..., SmtpProvider]
MakeEmail = Callable[..., OutgoingEmail]

DOTTED_TEXT = ".starts with a dot\n..two dots\n.\nend\n"


def _crlf_only(raw: bytes) -> bool:
    crlf = raw.count(b"\r\n")
    return raw.count(b"\r") == crlf and raw.count(b"\n") == crlf


async def test_lines_starting_with_a_dot_arrive_unchanged(
    make_smtp_provider: MakeProvider, smtp_server: SmtpServer, make_email: MakeEmail
) -> None:
    email = make_email(text=DOTTED_TEXT, html="<p>\n.dot</p>\n.\n")

    await make_smtp_provider().send(email)

    [received] = smtp_server.messages
    message = received.parsed()
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None
    assert html is not None
    # As they are (7bit), so the dots really went through the dot-stuffing.
    assert text["Content-Transfer-Encoding"] == "7bit"
    assert text.get_content().replace("\r\n", "\n") == DOTTED_TEXT
    assert html.get_content().replace("\r\n", "\n") == "<p>\n.dot</p>\n.\n"
    assert _crlf_only(received.data)


async def test_a_lone_cr_or_lf_never_reaches_the_wire(
    make_smtp_provider: MakeProvider, smtp_server: SmtpServer
) -> None:
    raw = b"Subject: raw\nX-A: 1\r\n\r\nfirst\rsecond\n.third\r\n.\nlast"
    provider = make_smtp_provider()

    async with provider.pool.lease() as lease:
        await mail_from(lease.smtp, USERNAME, raw)
        await rcpt_to(lease.smtp, "sales@example.com")
        await data(lease.smtp, data_payload(raw))

    [received] = smtp_server.messages
    expected = b"Subject: raw\r\nX-A: 1\r\n\r\nfirst\r\nsecond\r\n.third\r\n.\r\nlast\r\n"
    assert received.data == expected
    assert received.rcpt_tos == ("sales@example.com",)


async def test_refusals_raise_what_aiosmtplib_raises(
    make_smtp_provider: MakeProvider, smtp_server: SmtpServer
) -> None:
    provider = make_smtp_provider()
    smtp_server.handler.reply_once("MAIL", "553 5.7.1 sender not allowed")
    smtp_server.handler.reply_once("DATA", "554 5.6.0 message refused")
    smtp_server.handler.refuse("nobody@example.com", "550 5.1.1 no such user")

    async with provider.pool.lease() as lease:
        with pytest.raises(SMTPSenderRefused) as sender:
            await mail_from(lease.smtp, USERNAME, b"x\r\n")
        await mail_from(lease.smtp, USERNAME, b"x\r\n")
        with pytest.raises(SMTPRecipientRefused) as recipient:
            await rcpt_to(lease.smtp, "nobody@example.com")
        await rcpt_to(lease.smtp, "sales@example.com")
        with pytest.raises(SMTPDataError) as refused:
            await data(lease.smtp, data_payload(b"x\r\n"))

    assert (sender.value.code, sender.value.sender) == (553, USERNAME)
    assert (recipient.value.code, recipient.value.recipient) == (550, "nobody@example.com")
    assert refused.value.code == 554
    assert smtp_server.messages == []


async def test_a_421_closes_the_session_as_aiosmtplib_does(
    make_smtp_provider: MakeProvider, smtp_server: SmtpServer
) -> None:
    provider = make_smtp_provider()
    smtp_server.handler.reply_once("MAIL", "421 4.7.0 closing, try again later")

    async with provider.pool.lease() as lease:
        with pytest.raises(SMTPSenderRefused) as closing:
            await mail_from(lease.smtp, USERNAME, b"x\r\n")
        assert not lease.smtp.is_connected

    assert closing.value.code == 421


async def test_a_control_character_in_a_command_is_refused_before_it_is_sent(
    make_smtp_provider: MakeProvider, smtp_server: SmtpServer
) -> None:
    provider = make_smtp_provider()

    async with provider.pool.lease() as lease:
        with pytest.raises(ValueError, match="control character"):
            # A quoted local part may hold a control character; a command line may not.
            await rcpt_to(lease.smtp, '"a\x0bb"@example.com')

    assert smtp_server.messages == []


async def test_mail_from_announces_the_size(
    make_smtp_provider: MakeProvider, smtp_server: SmtpServer, make_email: MakeEmail
) -> None:
    await make_smtp_provider().send(make_email())

    [received] = smtp_server.messages
    assert received.mail_from == USERNAME
    assert received.mail_options == (f"SIZE={len(received.data)}",)


@pytest.mark.parametrize(
    ("message", "payload"),
    [
        (b"a\r\nb\r\n", b"a\r\nb\r\n.\r\n"),
        (b"a\r\nb", b"a\r\nb\r\n.\r\n"),
        (b".a\r\n.b\r\n..c\r\n", b"..a\r\n..b\r\n...c\r\n.\r\n"),
        (b"a\nb\rc\r\n", b"a\r\nb\r\nc\r\n.\r\n"),
        (b"a\n\n.b\r\r", b"a\r\n\r\n..b\r\n\r\n.\r\n"),
        (b"", b"\r\n.\r\n"),
    ],
)
def test_data_payload_is_crlf_dot_stuffed_and_terminated(message: bytes, payload: bytes) -> None:
    assert data_payload(message) == payload


def test_data_payload_of_bytes_known_to_be_crlf_is_only_dot_stuffed_and_terminated() -> None:
    # What OutgoingEmail.to_bytes writes (tests/test_message.py checks it has no lone CR or LF).
    assert data_payload(b".a\r\n.b\r\nc", crlf=True) == b"..a\r\n..b\r\nc\r\n.\r\n"
    assert data_payload(b"a\r\n", crlf=True) == b"a\r\n.\r\n"


@pytest.mark.parametrize(
    ("address", "path"),
    [
        ("sales@example.com", b"<sales@example.com>"),
        ("first.last+tag@mail.example.co.uk", b"<first.last+tag@mail.example.co.uk>"),
        ('"two words"@example.com', b'<"two words"@example.com>'),
        # Not plain: aiosmtplib's parser keeps the address and nothing around it.
        ("Sales <sales@example.com>", b"<sales@example.com>"),
        ("a@example.com\r\nRSET", b"<a@example.com>"),
        ("<a@example.com> SIZE=1", b"<a@example.com>"),
    ],
)
def test_envelope_address(address: str, path: bytes) -> None:
    assert envelope_address(address) == path


def test_envelope_address_refuses_a_space_that_would_add_a_parameter() -> None:
    with pytest.raises(ValueError, match="not permitted"):
        envelope_address("a b@example.com")

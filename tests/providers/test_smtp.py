"""The ``smtp`` provider against a real aiosmtpd server: STARTTLS, AUTH, trustme certificates."""

from __future__ import annotations

import asyncio
import errno
import socket
import ssl
from collections.abc import Callable
from pathlib import Path

import pytest
import trustme
from aiosmtplib import (
    SMTPAuthenticationError,
    SMTPConnectResponseError,
    SMTPConnectTimeoutError,
    SMTPDataError,
    SMTPNotSupported,
    SMTPReadTimeoutError,
    SMTPRecipientRefused,
    SMTPRecipientsRefused,
    SMTPSenderRefused,
    SMTPServerDisconnected,
)
from pydantic import SecretStr

from service.config import ConfigError, load_settings
from service.message import Address, OutgoingEmail
from service.providers.base import SendResult
from service.providers.errors import (
    MessageRejected,
    ProviderUnavailable,
    SendError,
    TransientError,
)
from service.providers.smtp import SmtpProvider
from tests.smtp_server import PASSWORD, USERNAME, SmtpServer

MakeProvider = Callable[..., SmtpProvider]
MakeEmail = Callable[..., OutgoingEmail]

SALES = Address("Zoë Ça", addr_spec="sales@example.com")
OPS = Address("", addr_spec="ops@example.com")
NOBODY = Address("", addr_spec="nobody@example.com")


async def test_delivers_the_email_with_an_explicit_envelope(
    make_smtp_provider: MakeProvider, smtp_server: SmtpServer, make_email: MakeEmail
) -> None:
    email = make_email(to=(SALES, OPS))

    result = await make_smtp_provider().send(email)

    assert result == SendResult(provider="smtp", message_id=email.message_id)
    [received] = smtp_server.messages
    assert received.mail_from == USERNAME
    assert received.rcpt_tos == ("sales@example.com", "ops@example.com")
    message = received.parsed()
    [sender] = message["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("Exämple Ltd", USERNAME)
    assert [a.display_name for a in message["To"].addresses] == ["Zoë Ça", ""]
    assert message["Reply-To"].addresses[0].addr_spec == "visitor@example.org"
    assert message["Subject"] == "New message — from Zoë"
    assert message["Message-ID"] == email.message_id
    assert message["Auto-Submitted"] == "auto-generated"
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None
    assert html is not None
    # Line endings are CRLF on the wire.
    assert text.get_content().replace("\r\n", "\n") == email.text
    assert html.get_content().rstrip("\r\n") == email.html
    assert smtp_server.authenticator.successes == 1


async def test_sequential_sends_reuse_one_login(
    make_smtp_provider: MakeProvider, smtp_server: SmtpServer, make_email: MakeEmail
) -> None:
    provider = make_smtp_provider()

    for _ in range(3):
        await provider.send(make_email())

    assert len(smtp_server.messages) == 3
    assert (smtp_server.connections, smtp_server.logins) == (1, 1)


async def test_a_burst_logs_in_once_per_pooled_connection(
    make_smtp_provider: MakeProvider, smtp_server: SmtpServer, make_email: MakeEmail
) -> None:
    provider = make_smtp_provider(pool_size=2)
    emails = [make_email() for _ in range(20)]

    await asyncio.gather(*(provider.send(email) for email in emails))

    received = {message.parsed()["Message-ID"] for message in smtp_server.messages}
    assert received == {email.message_id for email in emails}
    assert (smtp_server.connections, smtp_server.logins) == (2, 2)


async def test_a_refused_login_is_unavailable_after_exactly_one_attempt(
    make_smtp_provider: MakeProvider, smtp_server: SmtpServer, make_email: MakeEmail
) -> None:
    provider = make_smtp_provider(password=SecretStr("wrong-app-password"))

    with pytest.raises(ProviderUnavailable) as caught:
        await provider.send(make_email())

    assert caught.value.code == 535
    assert "wrong-app-password" not in str(caught.value)
    assert smtp_server.logins == 1
    assert smtp_server.messages == []


async def test_a_burst_with_a_bad_password_costs_one_login(
    make_smtp_provider: MakeProvider, smtp_server: SmtpServer, make_email: MakeEmail
) -> None:
    provider = make_smtp_provider(password=SecretStr("wrong-app-password"), pool_size=2)

    outcomes = await asyncio.gather(
        *(provider.send(make_email()) for _ in range(10)), return_exceptions=True
    )

    assert all(isinstance(o, ProviderUnavailable) and o.code == 535 for o in outcomes)
    assert smtp_server.logins == 1


async def test_421_on_data_is_transient_and_the_retry_is_delivered_once(
    make_smtp_provider: MakeProvider, smtp_server: SmtpServer, make_email: MakeEmail
) -> None:
    provider = make_smtp_provider()
    email = make_email()
    smtp_server.handler.reply_once("DATA", "421 4.3.0 Temporary System Problem. Try again later")

    with pytest.raises(TransientError) as caught:
        await provider.send(email)
    await provider.send(email)

    assert caught.value.code == 421
    [received] = smtp_server.messages
    assert received.parsed()["Message-ID"] == email.message_id
    # The connection that answered 421 was discarded, not handed out again.
    assert smtp_server.logins == 2


@pytest.mark.parametrize("command", ["MAIL", "RCPT", "DATA"])
async def test_the_daily_quota_makes_the_provider_unavailable(
    command: str, make_smtp_provider: MakeProvider, smtp_server: SmtpServer, make_email: MakeEmail
) -> None:
    smtp_server.handler.reply_once(command, "550 5.4.5 Daily user sending limit exceeded. - gsmtp")

    with pytest.raises(ProviderUnavailable) as caught:
        await make_smtp_provider().send(make_email())

    assert caught.value.code == 550
    assert "quota" in str(caught.value)


@pytest.mark.parametrize(
    "reply",
    [
        "550 5.1.1 The email account that you tried to reach does not exist.",
        "553 5.1.3 The recipient address is not a valid RFC 5321 address.",
    ],
)
async def test_an_unknown_recipient_rejects_the_message(
    reply: str, make_smtp_provider: MakeProvider, smtp_server: SmtpServer, make_email: MakeEmail
) -> None:
    smtp_server.handler.refuse(NOBODY.addr_spec, reply)

    with pytest.raises(MessageRejected) as caught:
        await make_smtp_provider().send(make_email(to=(NOBODY,)))

    assert caught.value.code == int(reply[:3])
    assert NOBODY.addr_spec in str(caught.value)
    assert smtp_server.messages == []


async def test_a_partly_refused_message_is_rejected_naming_the_refused(
    make_smtp_provider: MakeProvider, smtp_server: SmtpServer, make_email: MakeEmail
) -> None:
    smtp_server.handler.refuse(NOBODY.addr_spec, "550 5.1.1 No such user")
    provider = make_smtp_provider()

    with pytest.raises(MessageRejected) as caught:
        await provider.send(make_email(to=(SALES, NOBODY)))

    assert caught.value.code == 550
    assert NOBODY.addr_spec in str(caught.value)
    assert SALES.addr_spec not in str(caught.value)
    [received] = smtp_server.messages
    assert received.rcpt_tos == (SALES.addr_spec,)


async def test_a_refused_connection_is_unavailable(
    make_smtp_provider: MakeProvider, make_email: MakeEmail
) -> None:
    # A bound socket that never listens: connecting to it is refused.
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        provider = make_smtp_provider(port=closed.getsockname()[1])

        with pytest.raises(ProviderUnavailable) as caught:
            await provider.send(make_email())

    assert "cannot connect" in str(caught.value)


async def test_a_server_slower_than_the_timeout_is_transient(
    make_smtp_provider: MakeProvider, smtp_server: SmtpServer, make_email: MakeEmail
) -> None:
    smtp_server.handler.stall("DATA")

    with pytest.raises(TransientError) as caught:
        await make_smtp_provider(timeout=0.3).send(make_email())

    assert "within 0.3 s" in str(caught.value)


async def test_a_pooled_connection_the_server_dropped_is_replaced(
    make_smtp_provider: MakeProvider, smtp_server: SmtpServer, make_email: MakeEmail
) -> None:
    provider = make_smtp_provider()
    await provider.send(make_email())

    smtp_server.drop_connections()
    await provider.send(make_email())

    assert len(smtp_server.messages) == 2
    assert (smtp_server.connections, smtp_server.logins) == (2, 2)


async def test_421_to_mail_on_a_reused_connection_reconnects_transparently(
    make_smtp_provider: MakeProvider, smtp_server: SmtpServer, make_email: MakeEmail
) -> None:
    provider = make_smtp_provider()
    await provider.send(make_email())
    smtp_server.handler.reply_once("MAIL", "421 4.4.2 mx.example.test Error: timeout exceeded")

    await provider.send(make_email())

    assert len(smtp_server.messages) == 2
    assert smtp_server.logins == 2


async def test_421_to_mail_on_a_fresh_connection_is_transient(
    make_smtp_provider: MakeProvider, smtp_server: SmtpServer, make_email: MakeEmail
) -> None:
    smtp_server.handler.reply_once("MAIL", "421 4.7.0 Try again later, closing connection.")

    with pytest.raises(TransientError) as caught:
        await make_smtp_provider().send(make_email())

    assert caught.value.code == 421
    assert smtp_server.logins == 1


async def test_an_idle_connection_is_closed_after_the_idle_limit(
    make_smtp_provider: MakeProvider, smtp_server: SmtpServer, make_email: MakeEmail
) -> None:
    provider = make_smtp_provider(pool_idle_seconds=0.05)
    await provider.send(make_email())

    assert await asyncio.to_thread(smtp_server.wait_for_disconnects, 1, timeout=5)
    assert smtp_server.handler.quits == 1
    assert provider.pool.idle == 0


async def test_close_says_quit_and_stops_sending(
    make_smtp_provider: MakeProvider, smtp_server: SmtpServer, make_email: MakeEmail
) -> None:
    provider = make_smtp_provider()
    await provider.send(make_email())
    assert provider.pool.idle == 1

    await provider.close()

    assert smtp_server.handler.quits == 1
    with pytest.raises(ProviderUnavailable, match="closed"):
        await provider.send(make_email())


async def test_starttls_is_required_and_no_password_goes_out_in_plaintext(
    make_smtp_provider: MakeProvider, make_email: MakeEmail
) -> None:
    with SmtpServer(None, tls="none", auth=True) as plaintext:
        provider = make_smtp_provider(port=plaintext.port)

        with pytest.raises(ProviderUnavailable) as caught:
            await provider.send(make_email())

    assert "STARTTLS" in str(caught.value)
    assert plaintext.logins == 0
    assert plaintext.messages == []


async def test_an_untrusted_certificate_is_unavailable(
    make_smtp_provider: MakeProvider, smtp_server: SmtpServer, make_email: MakeEmail
) -> None:
    # The system trust store does not know the test CA.
    provider = make_smtp_provider(ssl_context=ssl.create_default_context())

    with pytest.raises(ProviderUnavailable) as caught:
        await provider.send(make_email())

    assert "certificate" in str(caught.value)
    assert smtp_server.logins == 0


async def test_implicit_tls_delivers(
    make_smtp_provider: MakeProvider, smtp_certificate: trustme.LeafCert, make_email: MakeEmail
) -> None:
    with SmtpServer(smtp_certificate, tls="implicit") as server:
        await make_smtp_provider(port=server.port, security="tls").send(make_email())

    assert len(server.messages) == 1
    assert server.logins == 1


async def test_no_security_delivers_to_a_local_catcher_without_login(
    make_smtp_provider: MakeProvider, make_email: MakeEmail
) -> None:
    with SmtpServer(None, tls="none", auth=False) as catcher:
        provider = make_smtp_provider(port=catcher.port, security="none", password=None)
        await provider.send(make_email())

    assert len(catcher.messages) == 1
    assert catcher.logins == 0


def test_no_security_is_refused_for_a_remote_host() -> None:
    with pytest.raises(ConfigError, match=r"^SMTP_SECURITY: .*loopback"):
        SmtpProvider("smtp.gmail.com", 25, security="none")


def test_no_security_refuses_to_send_a_password() -> None:
    with pytest.raises(ConfigError, match=r"^EMAIL_PASSWORD: never sent without TLS"):
        SmtpProvider("127.0.0.1", 1025, security="none", password=SecretStr(PASSWORD))


async def test_from_settings_verifies_against_ssl_cert_file(
    smtp_server: SmtpServer,
    smtp_ca: trustme.CA,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_email: MakeEmail,
) -> None:
    bundle = tmp_path / "ca.pem"
    smtp_ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    settings = load_settings(
        email_providers="smtp",
        smtp_host=smtp_server.host,
        smtp_port=smtp_server.port,
        email_address=USERNAME,
        # Pasted the way Gmail displays App Passwords; the settings remove the spaces.
        email_password="abcd efgh ijkl mnop",
    )
    provider = SmtpProvider.from_settings(settings)

    await provider.open()
    try:
        await provider.send(make_email())
    finally:
        await provider.close()

    assert len(smtp_server.messages) == 1
    assert smtp_server.authenticator.successes == 1


@pytest.mark.parametrize(
    ("error", "kind", "code"),
    [
        (SMTPDataError(421, "4.3.0 Temporary System Problem"), TransientError, 421),
        (SMTPConnectResponseError(421, "4.7.0 Try again later"), TransientError, 421),
        (SMTPSenderRefused(450, "4.2.1 Peak SMTP relay limit", USERNAME), TransientError, 450),
        (SMTPDataError(451, "4.3.0 Mail server temporarily rejected"), TransientError, 451),
        (
            SMTPRecipientsRefused([SMTPRecipientRefused(452, "4.5.3 Too many", "a@example.com")]),
            TransientError,
            452,
        ),
        (SMTPAuthenticationError(454, "4.7.0 Too many login attempts"), TransientError, 454),
        (SMTPServerDisconnected("Connection lost"), TransientError, None),
        (SMTPReadTimeoutError("Timed out waiting for server response"), TransientError, None),
        (SMTPConnectTimeoutError("Timed out connecting"), TransientError, None),
        (TimeoutError(), TransientError, None),
        (ConnectionResetError(errno.ECONNRESET, "Connection reset"), TransientError, None),
        (
            SMTPAuthenticationError(535, "5.7.8 Username and Password not accepted"),
            ProviderUnavailable,
            535,
        ),
        (
            SMTPAuthenticationError(534, "5.7.9 Application-specific password required"),
            ProviderUnavailable,
            534,
        ),
        (
            SMTPSenderRefused(530, "5.7.0 Authentication Required", USERNAME),
            ProviderUnavailable,
            530,
        ),
        (SMTPDataError(550, "5.4.5 Daily user sending limit exceeded"), ProviderUnavailable, 550),
        # The sender is this account's own address: no other email would get through either.
        (SMTPSenderRefused(553, "5.7.1 Sender not allowed", USERNAME), ProviderUnavailable, 553),
        (SMTPConnectResponseError(554, "5.3.2 No service"), ProviderUnavailable, 554),
        (
            ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"),
            ProviderUnavailable,
            None,
        ),
        (ssl.SSLCertVerificationError(1, "certificate verify failed"), ProviderUnavailable, None),
        (SMTPNotSupported("SMTPUTF8 is not supported by this server"), ProviderUnavailable, None),
        (RuntimeError("unexpected"), ProviderUnavailable, None),
        (
            SMTPRecipientsRefused([SMTPRecipientRefused(553, "5.1.3 Bad address", "a@x")]),
            MessageRejected,
            553,
        ),
        (SMTPDataError(554, "5.7.0 Message rejected as spam"), MessageRejected, 554),
        (
            SMTPSenderRefused(552, "5.3.4 Message size exceeds limit", USERNAME),
            MessageRejected,
            552,
        ),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else None,
)
def test_translate_maps_every_failure_to_one_kind(
    error: Exception, kind: type[SendError], code: int | None
) -> None:
    verdict = SmtpProvider("smtp.example.com", 587).translate(error)

    assert type(verdict) is kind
    assert (verdict.provider, verdict.code) == ("smtp", code)


def test_a_reply_echoing_the_password_is_scrubbed() -> None:
    provider = SmtpProvider(
        "smtp.example.com", 587, username=USERNAME, password=SecretStr(PASSWORD)
    )

    verdict = provider.translate(SMTPAuthenticationError(535, f"5.7.8 {PASSWORD} not accepted"))

    assert PASSWORD not in str(verdict)
    assert "535" in str(verdict)

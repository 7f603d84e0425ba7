"""``EMAIL_PROVIDERS=smtp,<api>`` end to end: Gmail-style SMTP first, an HTTP API when it fails.

Real parts on both sides: the chain is built from settings as the app builds
it, SMTP talks to a real aiosmtpd server (STARTTLS + AUTH) and the API to respx.
Resend is the API behind SMTP in the detailed tests; every other HTTP provider
has one row in :data:`tests.provider_doubles.API_ACCEPTS` (its documented acceptance), run by
:func:`test_each_api_takes_over_when_smtp_is_down` on the same fixture.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
import respx
import trustme

from service.config import load_settings
from service.message import OutgoingEmail
from service.providers import ProviderChain, build_providers
from service.providers.http import make_http_client
from tests.process import free_port
from tests.provider_doubles import API_ACCEPTS, provider_variables
from tests.smtp_server import PASSWORD, USERNAME, SmtpServer

RESEND = "https://api.resend.com/emails"

BuildChain = Callable[..., ProviderChain]


@pytest.fixture
async def smtp_then(
    smtp_server: SmtpServer,
    smtp_ca: trustme.CA,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[BuildChain]:
    """Build the app's chain for ``EMAIL_PROVIDERS=smtp,<behind>`` (Resend unless named).

    The provider behind SMTP gets its declared variables as the HTTP tests set
    them (a fake value for each secret); closed after the test.
    """
    bundle = tmp_path / "ca.pem"
    smtp_ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    opened: list[tuple[ProviderChain, httpx.AsyncClient]] = []

    async def build(behind: str = "resend", **overrides: object) -> ProviderChain:
        settings = load_settings(
            **{
                **provider_variables(behind),
                "email_providers": f"smtp,{behind}",
                "smtp_host": smtp_server.host,
                "smtp_port": smtp_server.port,
                "email_address": USERNAME,
                "email_password": PASSWORD,
                "smtp_timeout": 2.0,
                "retry_max_seconds": 2.0,
                **overrides,
            }
        )
        client = make_http_client(settings)
        chain = ProviderChain.from_settings(settings, build_providers(settings, http_client=client))
        await chain.open()
        opened.append((chain, client))
        return chain

    yield build
    for chain, client in opened:
        await chain.close()
        await client.aclose()


async def test_smtp_delivers_when_it_is_up(
    smtp_then: BuildChain, smtp_server: SmtpServer, make_email
) -> None:
    chain = await smtp_then()
    with respx.mock(assert_all_called=False) as mock:
        resend = mock.post(RESEND)
        result = await chain.send(make_email())
    assert result.provider == "smtp"
    assert len(smtp_server.messages) == 1
    assert not resend.called


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param("down", id="smtp-server-down"),
        pytest.param("login", id="smtp-login-refused"),
        pytest.param("quota", id="gmail-daily-quota"),
    ],
)
async def test_resend_takes_over_when_smtp_cannot_send(
    failure: str,
    smtp_then: BuildChain,
    smtp_server: SmtpServer,
    make_email: Callable[..., OutgoingEmail],
) -> None:
    overrides: dict[str, object] = {}
    if failure == "down":
        overrides["smtp_port"] = free_port()
    elif failure == "login":
        overrides["email_password"] = "not-the-app-password"
    else:
        smtp_server.handler.reply_once(
            "MAIL", "550 5.4.5 Daily user sending limit exceeded. - gsmtp"
        )
    chain = await smtp_then(**overrides)
    email = make_email()

    with respx.mock() as mock:
        resend = mock.post(RESEND).respond(200, json={"id": "re-1"})
        result = await chain.send(email)

    assert (result.provider, result.message_id) == ("resend", "re-1")
    assert resend.call_count == 1
    assert smtp_server.messages == []
    # A refused login is never retried: retrying a 535 earns a lockout.
    failed_logins = smtp_server.authenticator.attempts - smtp_server.authenticator.successes
    assert failed_logins == (1 if failure == "login" else 0)
    assert chain.stats["smtp"]["failed_over"] == 1
    assert "smtp" in chain.cooldowns


async def test_a_transient_421_is_retried_on_smtp_and_delivered_once(
    smtp_then: BuildChain,
    smtp_server: SmtpServer,
    make_email: Callable[..., OutgoingEmail],
) -> None:
    smtp_server.handler.reply_once("DATA", "421 4.3.0 Temporary System Problem. Try again later")
    chain = await smtp_then()
    email = make_email()

    with respx.mock(assert_all_called=False) as mock:
        resend = mock.post(RESEND)
        result = await chain.send(email)

    assert result.provider == "smtp"
    assert not resend.called
    [received] = smtp_server.messages
    assert received.parsed()["Message-ID"] == email.message_id
    assert chain.stats["smtp"] == {"sent": 1, "retried": 1, "failed_over": 0, "rejected": 0}


@pytest.mark.parametrize("behind", API_ACCEPTS)
async def test_each_api_takes_over_when_smtp_is_down(
    behind: str,
    smtp_then: BuildChain,
    smtp_server: SmtpServer,
    make_email: Callable[..., OutgoingEmail],
) -> None:
    accepts = API_ACCEPTS[behind]
    chain = await smtp_then(behind, smtp_port=free_port())
    email = replace(make_email(), outbox_id="outbox-failover-1")

    with respx.mock() as mock:
        route = mock.post(accepts.url).respond(
            accepts.status, json=accepts.json, headers=accepts.headers
        )
        result = await chain.send(email)

    assert (result.provider, result.message_id) == (behind, accepts.message_id)
    assert route.call_count == 1
    assert b"outbox-failover-1" in route.calls.last.request.content
    assert smtp_server.messages == []
    assert chain.stats["smtp"]["failed_over"] == 1
    assert chain.stats[behind]["sent"] == 1

"""Fixtures for provider tests: emails to send, and a real SMTP server with its certificates."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import trustme
from pydantic import SecretStr

from service.message import Address, OutgoingEmail, make_message_id
from service.providers.smtp import SmtpProvider
from tests.smtp_server import PASSWORD, USERNAME, SmtpServer, ca_client_context


@pytest.fixture
def make_email() -> Callable[..., OutgoingEmail]:
    """Build an :class:`OutgoingEmail` with a Reply-To, an extra header and non-ASCII text."""

    def make(**overrides: Any) -> OutgoingEmail:
        fields: dict[str, Any] = {
            "kind": "notification",
            "sender": Address("Exämple Ltd", addr_spec=USERNAME),
            "to": (Address("Zoë Ça", addr_spec="sales@example.com"),),
            "reply_to": Address("Visitör", addr_spec="visitor@example.org"),
            "subject": "New message — from Zoë",
            "text": "Hello Zoë,\nsomeone wrote: «bonjour»\n",
            "html": "<p>Hello Zoë,</p><p>someone wrote: «bonjour»</p>",
            "message_id": make_message_id("example.com"),
            "headers": {"Auto-Submitted": "auto-generated"},
            "date": datetime(2026, 11, 26, 9, 30, tzinfo=UTC),
        }
        return OutgoingEmail(**(fields | overrides))

    return make


@pytest.fixture(scope="session")
def smtp_ca() -> trustme.CA:
    """A throwaway certificate authority that only the tests trust."""
    return trustme.CA()


@pytest.fixture(scope="session")
def smtp_certificate(smtp_ca: trustme.CA) -> trustme.LeafCert:
    """The test server's certificate, valid for 127.0.0.1 and localhost."""
    return smtp_ca.issue_cert("127.0.0.1", "localhost")


@pytest.fixture
def client_ssl_context(smtp_ca: trustme.CA) -> ssl.SSLContext:
    """A verifying client context that trusts the test CA."""
    return ca_client_context(smtp_ca)


@pytest.fixture
def smtp_server(smtp_certificate: trustme.LeafCert) -> Iterator[SmtpServer]:
    """An aiosmtpd server requiring STARTTLS, then AUTH as ``USERNAME``/``PASSWORD``."""
    with SmtpServer(smtp_certificate) as server:
        yield server


@pytest.fixture
async def make_smtp_provider(
    smtp_server: SmtpServer, client_ssl_context: ssl.SSLContext
) -> AsyncIterator[Callable[..., SmtpProvider]]:
    """Build :class:`SmtpProvider` instances for ``smtp_server``; all are closed afterwards."""
    providers: list[SmtpProvider] = []

    def make(**overrides: Any) -> SmtpProvider:
        options: dict[str, Any] = {
            "host": smtp_server.host,
            "port": smtp_server.port,
            "security": "starttls",
            "username": USERNAME,
            "password": SecretStr(PASSWORD),
            "timeout": 5.0,
            "pool_size": 2,
            "pool_idle_seconds": 60.0,
            "ssl_context": client_ssl_context,
        }
        provider = SmtpProvider(**(options | overrides))
        providers.append(provider)
        return provider

    yield make
    for provider in providers:
        await provider.close()

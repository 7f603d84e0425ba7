"""Fixtures for the provider tests.

Chain tests: a test email, fake time and scripted providers. HTTP API tests:
settings with every API key, the shared client and a sample email (names are
specific, ``http_*`` and ``sample_email``, since all provider tests share this file).
The doubles and builders themselves live in :mod:`tests.provider_doubles`.
SMTP tests: ``make_email`` and ``make_smtp_provider`` for the aiosmtpd server in
``tests/conftest.py``.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from service.config import Settings
from service.message import Address, OutgoingEmail, make_message_id
from service.providers.http import HttpProvider, make_http_client
from service.providers.registry import build_providers
from service.providers.smtp import SmtpProvider
from tests.aws_doubles import aws_environment
from tests.provider_doubles import (
    FAKE_SECRETS,
    FakeTime,
    ScriptedProvider,
    Step,
    make_http_settings,
)
from tests.smtp_server import PASSWORD, USERNAME, SmtpServer

# Appears only in the email body: a log line containing it leaked the body.
CHAIN_BODY_MARKER = "body-marker-7f3a"


@pytest.fixture(autouse=True)
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Fake AWS keys for botocore's default chain (``ses``); no real account is ever reached."""
    env = aws_environment()
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        monkeypatch.delenv(name, raising=False)
    return env


@pytest.fixture
def chain_email() -> OutgoingEmail:
    """A confirmation email whose body holds :data:`CHAIN_BODY_MARKER`."""
    return OutgoingEmail(
        kind="confirmation",
        sender=Address("Site", addr_spec="contact@example.com"),
        to=(Address("Zoë Visitor", addr_spec="visitor@example.org"),),
        subject="We received your message",
        text=f"Hello, {CHAIN_BODY_MARKER}",
        html=f"<p>Hello, {CHAIN_BODY_MARKER}</p>",
        message_id="<0123456789abcdef@example.com>",
        date=datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
    )


@pytest.fixture
def fake_time() -> FakeTime:
    """Pass ``clock=fake_time, sleep=fake_time.sleep`` to a chain; nothing really sleeps."""
    return FakeTime()


@pytest.fixture
def provider_journal() -> list[str]:
    """The names of scripted providers, one entry per ``deliver`` call, in call order."""
    return []


@pytest.fixture
def scripted_provider(
    fake_time: FakeTime, provider_journal: list[str]
) -> Callable[..., ScriptedProvider]:
    """Build a :class:`ScriptedProvider`: ``scripted_provider("smtp", ["transient", "sent"])``.

    ``duration`` is how far each call moves ``fake_time``.
    """

    def build(name: str, script: Sequence[Step], *, duration: float = 0.0) -> ScriptedProvider:
        return ScriptedProvider(
            script, name=name, journal=provider_journal, clock=fake_time, duration=duration
        )

    return build


@pytest.fixture
def http_settings_factory() -> Callable[..., Settings]:
    """Build HTTP provider settings with overrides, e.g. ``http_timeout=0.2``."""
    return make_http_settings


@pytest.fixture
def http_settings() -> Settings:
    """Settings with every HTTP provider configured."""
    return make_http_settings()


@pytest.fixture
async def http_client(http_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The shared client as the app makes it, closed after the test."""
    async with make_http_client(http_settings) as client:
        yield client


@pytest.fixture
def http_keys() -> dict[str, str]:
    """The fake secrets in :func:`http_settings`, by variable in lower case."""
    return dict(FAKE_SECRETS)


@pytest.fixture
def http_provider(http_client: httpx.AsyncClient) -> Callable[..., HttpProvider]:
    """Build a provider through the registry, exactly as the app does, on the shared client."""

    def build(
        name: str, *, client: httpx.AsyncClient | None = None, **overrides: object
    ) -> HttpProvider:
        settings = make_http_settings(**overrides)
        (provider,) = build_providers(settings, [name], http_client=client or http_client)
        assert isinstance(provider, HttpProvider)
        return provider

    return build


@pytest.fixture
def sample_email() -> OutgoingEmail:
    """A notification with a Reply-To, an extra header and non-ASCII names."""
    return OutgoingEmail(
        kind="notification",
        sender=Address(display_name="Acme Contact", addr_spec="contact@acme.example"),
        to=(
            Address(display_name="李雷", addr_spec="li.lei@example.org"),
            Address(display_name="Smith, John", addr_spec="john@example.org"),
        ),
        reply_to=Address(display_name="Zoë Ångström", addr_spec="zoe@example.net"),
        subject="Nouveau message de Zoë Ångström",
        text="Zoë a écrit :\n你好世界",
        html="<p>Zoë a écrit :</p><p>你好世界</p>",
        message_id="<0123456789abcdef0123456789abcdef@acme.example>",
        headers={"Auto-Submitted": "auto-generated"},
        date=datetime(2026, 11, 26, 9, 30, tzinfo=UTC),
    )


@pytest.fixture
def stored_email(sample_email: OutgoingEmail) -> OutgoingEmail:
    """The sample notification as the worker hands it over: with its outbox id."""
    return replace(sample_email, outbox_id="0193a4b5-outbox-id")


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

"""Fixtures for the HTTP API providers: settings with every API key, the shared client, an email.

Names are specific (``http_*``, ``sample_email``) because other provider tests
share this directory.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import httpx
import pytest

from service.config import Settings, load_settings
from service.message import Address, OutgoingEmail
from service.providers.http import HttpProvider, make_http_client
from service.providers.registry import build_providers

# Distinct fake keys, so that a test can tell whether one leaked into a message.
HTTP_KEYS = {
    "resend_api_key": "re_test_9f8e7d6c5b4a",
    "postmark_server_token": "pm-test-0a1b2c3d-4e5f",
    "sendgrid_api_key": "SG.test-key.abcdef123456",
    "mailgun_api_key": "key-test-1234567890abcdef",
}


def make_http_settings(**overrides: object) -> Settings:
    """Settings for the HTTP providers; explicit keys and URLs keep the environment out."""
    values: dict[str, object] = {
        **HTTP_KEYS,
        "mailgun_domain": "mg.example.com",
        "resend_base_url": "https://api.resend.com",
        "postmark_base_url": "https://api.postmarkapp.com",
        "postmark_message_stream": "outbound",
        "sendgrid_base_url": "https://api.sendgrid.com",
        "mailgun_base_url": "https://api.mailgun.net",
        "http_timeout": 5.0,
        "retry_max_seconds": 20.0,
    }
    values.update(overrides)
    return load_settings(**values)


@pytest.fixture
def http_settings_factory() -> Callable[..., Settings]:
    """Build HTTP provider settings with overrides, e.g. ``http_timeout=0.2``."""
    return make_http_settings


@pytest.fixture
def http_settings() -> Settings:
    """Settings with all four HTTP providers configured."""
    return make_http_settings()


@pytest.fixture
async def http_client(http_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The shared client as the app makes it, closed after the test."""
    async with make_http_client(http_settings) as client:
        yield client


@pytest.fixture
def http_keys() -> dict[str, str]:
    """The fake API keys in :func:`http_settings`, by setting name."""
    return dict(HTTP_KEYS)


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

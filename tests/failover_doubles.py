"""A chain as the app builds it with ``smtp`` down, for each API provider's failover test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from service.config import load_settings
from service.providers import ProviderChain, build_providers
from service.providers.http import make_http_client
from tests.process import free_port

__all__ = ["smtp_down_chain"]


@asynccontextmanager
async def smtp_down_chain(provider: str, **settings: object) -> AsyncIterator[ProviderChain]:
    """``EMAIL_PROVIDERS=smtp,<provider>`` from settings, with nothing listening on the SMTP port.

    ``settings`` configure ``provider``; the chain and the shared client are
    opened and closed as the app does.
    """
    loaded = load_settings(
        email_providers=f"smtp,{provider}",
        smtp_host="127.0.0.1",
        smtp_port=free_port(),
        email_address="owner@example.com",
        email_password="app-password",
        smtp_timeout=2.0,
        retry_max_seconds=2.0,
        **settings,
    )
    async with make_http_client(loaded) as client:
        chain = ProviderChain.from_settings(loaded, build_providers(loaded, http_client=client))
        await chain.open()
        try:
            yield chain
        finally:
            await chain.close()

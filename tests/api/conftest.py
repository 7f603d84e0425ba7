"""Fixtures for the HTTP surface: an in-process ASGI client and form helpers."""

from __future__ import annotations

import asyncio
import email
import email.policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sanic import Sanic
from sanic_testing.testing import SanicASGITestClient

from service.config import Settings
from service.emails import EmailRenderer
from service.outbox import DeliveryWorker, EmailState, open_store
from service.outbox.rendering import ClaimRenderer
from service.providers import ProviderChain, build_providers

VALID_FORM: dict[str, Any] = {
    "name": "Zoë Ångström",
    "email": "zoe@example.org",
    "message": "Hello,\nI would like a quote.",
    "company": "Example & Co.",
}


@pytest.fixture
def client(app: Sanic) -> SanicASGITestClient:
    """Sends requests to the app in-process, running its server listeners."""
    return app.asgi_client


@pytest.fixture
def valid_form() -> dict[str, Any]:
    """A submission every validator accepts (a fresh copy per test)."""
    return dict(VALID_FORM)


def read_mail(directory: Path) -> list[EmailMessage]:
    """Every ``.eml`` file the ``file`` provider wrote, parsed, oldest first."""
    messages = []
    for path in sorted(directory.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        messages.append(message)
    return messages


async def deliver_outbox(settings: Settings) -> int:
    """Render and deliver everything due in the outbox, as the app's worker would; how many.

    The in-process test client stops the app after each request, so its own
    worker may leave emails queued; this finishes the job with a real worker.
    """
    chain = ProviderChain.from_settings(settings, build_providers(settings))
    await chain.open()
    delivered = 0
    async with open_store(settings.database_url) as store:
        render = ClaimRenderer(store, settings, EmailRenderer.from_settings(settings))
        worker = DeliveryWorker.from_settings(store, chain, settings, render=render)
        while deliveries := await worker.run_once():
            delivered += len(deliveries)
    await chain.close()
    return delivered


async def drain_outbox(app: Sanic) -> None:
    """``before_server_stop`` listener for tests: deliver what is due before the app stops.

    Registered after the app's own listeners, it runs before them at shutdown
    (Sanic runs stop listeners in reverse), so the in-process client's
    per-request stop leaves nothing pending. Emails scheduled for a later retry
    are left alone.
    """
    async with asyncio.timeout(10):
        while True:
            counts = (await app.ctx.store.stats()).counts
            if not counts.get(EmailState.PENDING) and not counts.get(EmailState.SENDING):
                return
            if not await app.ctx.worker.run_once():
                # The app's own worker holds the rest; poll until its sends finish.
                await asyncio.sleep(0.01)

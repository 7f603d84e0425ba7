"""Fixtures for the HTTP surface: an in-process ASGI client and form helpers."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sanic import Sanic
from sanic_testing.testing import SanicASGITestClient

from service.config import Settings
from service.outbox import DeliveryWorker, open_store
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
    """Deliver everything due in the outbox, as the app's worker would; return how many.

    The in-process test client stops the app after each request, so its own
    worker may leave emails queued; this finishes the job with a real worker.
    """
    chain = ProviderChain.from_settings(settings, build_providers(settings))
    await chain.open()
    delivered = 0
    async with open_store(settings.database_url) as store:
        worker = DeliveryWorker.from_settings(store, chain, settings)
        while deliveries := await worker.run_once():
            delivered += len(deliveries)
    await chain.close()
    return delivered

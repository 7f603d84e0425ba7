"""Fixtures for the abuse tests: apps built with extra settings, and a Redis when there is one."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from limits.aio.storage import RedisStorage
from limits.storage import storage_from_string
from sanic import Sanic
from sanic_testing.testing import SanicASGITestClient

from service.app import create_app
from service.config import Settings
from tests.api.conftest import drain_outbox

# The settings every app here starts from; tests add what they exercise.
BASE: dict[str, Any] = {
    "email_from": "owner@example.com",
    "email_from_name": "Example Ltd",
    "contact_recipients": "sales@example.com,ops@example.com",
    "brand_name": "Example Ltd",
}


@pytest.fixture
def make_client(
    make_settings: Callable[..., Settings],
) -> Iterator[Callable[..., SanicASGITestClient]]:
    """Build an app from :data:`BASE` plus overrides and return its in-process client."""
    apps: list[Sanic] = []

    def make(**overrides: Any) -> SanicASGITestClient:
        app = create_app(settings=make_settings(**(BASE | overrides)))
        app.register_listener(drain_outbox, "before_server_stop")
        apps.append(app)
        return app.asgi_client

    yield make
    for app in apps:
        Sanic._app_registry.pop(app.name, None)


@pytest.fixture
def redis_url() -> str:
    """``TEST_REDIS_URL`` (``.ci/run`` sets it); the test is skipped without one."""
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        pytest.skip("TEST_REDIS_URL is not set")
    return url


@pytest.fixture
async def redis_prefix(redis_url: str) -> AsyncIterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    prefix = f"test-{uuid.uuid4().hex}"
    yield prefix
    storage = storage_from_string(f"async+{redis_url}", key_prefix=prefix)
    assert isinstance(storage, RedisStorage)
    await storage.reset()
    storage.bridge.storage.connection_pool.disconnect()

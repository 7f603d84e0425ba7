"""The routes sanic-ext adds at startup: still there, for one build of the signal router."""

from __future__ import annotations

from typing import Any

import pytest
from sanic import Sanic

from tests.api.served import served


async def test_startup_builds_the_signal_router_once_for_the_head_and_options_routes(
    app: Sanic, monkeypatch: pytest.MonkeyPatch
) -> None:
    builds = []
    build = app.signal_router.finalize

    def counted(*args: Any, **kwargs: Any) -> Any:
        builds.append(args)
        return build(*args, **kwargs)

    monkeypatch.setattr(app.signal_router, "finalize", counted)
    async with served(app) as client:
        head = await client.head("/api/health")
        options = await client.options("/api/health")
    assert head.status_code == 200
    assert head.content == b""
    assert options.status_code == 204
    assert set(options.headers["allow"].split(",")) == {"GET", "HEAD", "OPTIONS"}
    # Sanic's own build at startup, and one after sanic-ext's routes (one per route before).
    assert len(builds) == 2

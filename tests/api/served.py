"""Serve an app over ASGI with its listeners run once, as a real server runs them.

sanic-testing's client runs the startup and shutdown listeners around every
request, which costs more than a hundred milliseconds each; property tests
send hundreds of requests, so they start the app once here instead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from sanic import Sanic

__all__ = ["served"]


@asynccontextmanager
async def served(
    app: Sanic, peer: tuple[str, int] = ("203.0.113.1", 50000)
) -> AsyncIterator[httpx.AsyncClient]:
    """Start ``app`` (the same private steps sanic-testing takes), yield a client, stop it."""
    app.asgi = True
    await app._startup()
    await app._server_event("init", "before")
    await app._server_event("init", "after")
    try:
        transport = httpx.ASGITransport(app=app, client=peer)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client
    finally:
        await app._server_event("shutdown", "before")
        await app._server_event("shutdown", "after")

"""Serve an app over ASGI with its listeners run once, as a real server runs them.

sanic-testing's client runs the startup and shutdown listeners around every
request, which costs more than a hundred milliseconds each; property tests
send hundreds of requests, so they start the app once here instead. The
client also replaces ``Sanic.__call__`` for the whole process with one that
cannot answer an ASGI lifespan, so :func:`with_lifespan` answers it instead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from sanic import Sanic

__all__ = ["served", "start", "stop", "with_lifespan"]

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[dict[str, Any], Receive, Send], Awaitable[Any]]


async def start(app: Sanic) -> None:
    """Run ``app``'s startup listeners (the same private steps sanic-testing takes)."""
    app.asgi = True
    await app._startup()
    await app._server_event("init", "before")
    await app._server_event("init", "after")


async def stop(app: Sanic) -> None:
    """Run ``app``'s shutdown listeners."""
    await app._server_event("shutdown", "before")
    await app._server_event("shutdown", "after")


@asynccontextmanager
async def served(
    app: Sanic, peer: tuple[str, int] = ("203.0.113.1", 50000)
) -> AsyncIterator[httpx.AsyncClient]:
    """Start ``app``, yield a client talking to it from ``peer``, stop it."""
    await start(app)
    try:
        transport = httpx.ASGITransport(app=app, client=peer)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client
    finally:
        await stop(app)


def with_lifespan(app: Sanic) -> ASGIApp:
    """``app`` as an ASGI application whose lifespan runs :func:`start` and :func:`stop`."""

    async def application(scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await app(scope, receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await start(app)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await stop(app)
                await send({"type": "lifespan.shutdown.complete"})
                return

    return application

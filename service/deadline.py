"""A total deadline for receiving each request's head and body (``REQUEST_DEADLINE_SECONDS``).

Sanic's ``REQUEST_TIMEOUT`` counts from the last byte received, and its
``RESPONSE_TIMEOUT`` (which covers reading the body) too: a client trickling
one byte every few seconds holds a connection, and a worker's slot, for as
long as it likes. :class:`DeadlineProtocol` starts a timer when a request's
first byte is read; if the head and the whole body have not arrived when it
fires, the connection gets a 408 and is closed. The handler's own time is not
counted. ``python -m service`` serves with it; an ASGI server has its own
timeouts.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sanic.exceptions import RequestTimeout
from sanic.http import Http, Stage
from sanic.server.protocols.http_protocol import HttpProtocol

__all__ = ["DeadlineHttp", "DeadlineProtocol"]

MESSAGE = "The request took too long to arrive."


class DeadlineHttp(Http):
    """Sanic's HTTP/1.1 connection, with a deadline for each request's head and body."""

    __slots__ = ("_deadline",)

    def __init__(self, protocol: Any) -> None:
        super().__init__(protocol)
        self._deadline: asyncio.TimerHandle | None = None

    def init_for_request(self) -> None:
        """Per request: the previous request's deadline no longer applies."""
        super().init_for_request()
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    async def http1_request_header(self) -> None:
        """Start the clock when the request starts to arrive, then read its head."""
        limit = self.protocol.app.config.REQUEST_DEADLINE
        self._deadline = self.protocol.loop.call_later(limit, self._expire)
        await super().http1_request_header()

    def _expire(self) -> None:
        self._deadline = None
        receiving = self.stage is Stage.REQUEST or (
            self.stage is Stage.HANDLER and bool(self.request_body)
        )
        task = self.protocol._task
        if receiving and task is not None:
            # As Sanic's own timeouts do: the connection task answers the exception and closes.
            self.exception = RequestTimeout(MESSAGE)
            self.keep_alive = False
            task.cancel()


class DeadlineProtocol(HttpProtocol):
    """Sanic's HTTP protocol with :class:`DeadlineHttp` connections."""

    HTTP_CLASS = DeadlineHttp

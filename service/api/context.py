"""Per-request context: the request id, the start time, and the one record of a post's outcome.

The request id is the client's ``X-Request-ID`` when it is short and made of
safe characters (a proxy's id then ties its logs to ours), else a new random
one. It is returned in the ``X-Request-ID`` response header and set in
:data:`service.logs.request_id_var`, so every log line the request causes
carries it. The variable is set, not reset: Sanic writes its access log line
after the response middleware, and each request sets its own id first.
"""

from __future__ import annotations

import re
import time

from sanic import HTTPResponse, Request

from service.abuse.events import count
from service.ids import random_bytes
from service.logs import access_fields_var, request_id_var

__all__ = [
    "REQUEST_ID_HEADER",
    "record_outcome",
    "request_id",
    "return_request_id",
    "start_request",
]

REQUEST_ID_HEADER = "X-Request-ID"

# Short, and nothing that could forge a log line or a header: letters, digits, . _ : -
_SAFE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def request_id(request: Request) -> str:
    """This request's id, chosen on first use (see the module's docstring)."""
    current: str | None = getattr(request.ctx, "request_id", None)
    if current is None:
        offered = request.headers.get(REQUEST_ID_HEADER, "")
        current = offered if _SAFE_ID.fullmatch(offered) else random_bytes(16).hex()
        request.ctx.request_id = current
    return current


async def start_request(request: Request) -> None:
    """Request middleware: note the start time and make the request id current for logs."""
    request.ctx.started = time.perf_counter()
    request_id_var.set(request_id(request))
    # The connection's task runs its requests one after another, in one context.
    access_fields_var.set(None)


async def return_request_id(request: Request, response: HTTPResponse) -> None:
    """Response middleware: echo the request id, also on answers that skipped the handler."""
    response.headers[REQUEST_ID_HEADER] = request_id(request)


def record_outcome(request: Request, form: str, outcome: str) -> None:
    """Record how a post to ``form`` ended, once; an accepted one also times the request.

    A refusal for flooding is an abuse event too, reported through the same
    call as the other defences' (:func:`service.abuse.events.count`).
    """
    started: float | None = getattr(request.ctx, "started", None)
    seconds = time.perf_counter() - started if started is not None else None
    request.app.ctx.metrics.submission(outcome, form=form, seconds=seconds)
    if outcome == "rate_limited":
        count("rate_limited")

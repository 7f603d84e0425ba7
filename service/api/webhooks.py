"""``POST /api/webhooks/{provider}``: delivery events from the providers, verified first.

A route is added per provider whose webhook secret is configured
(:func:`add_webhook_routes`); any other provider's path is a 404. The handler
is the same for all: a size limit (``WEBHOOK_MAX_BYTES``), then
:class:`~service.webhooks.receive.WebhookReceiver` (verify, replay window,
parse, record). Answers: ``200 {"success": true, "events": {...}}`` once every
event is recorded, duplicate, ignored or unmatched (so the provider stops
retrying), or the provider's own answer to a verified subscription handshake;
``401`` for a missing or wrong signature or a stale timestamp;
``400`` for a malformed body; ``413`` for a body over the limit; ``503`` when
the outbox cannot record or SNS cannot be reached (the provider retries
later). Never a 500 for what a client sends, never a secret in an answer or a log.
"""

from __future__ import annotations

import logging
from functools import partial

from sanic import HTTPResponse, Request, Sanic, json
from sanic.exceptions import PayloadTooLarge

from service.webhooks.base import WebhookRefused, WebhookRequest

__all__ = ["add_webhook_routes"]

logger = logging.getLogger(__name__)


def add_webhook_routes(app: Sanic, providers: list[str]) -> None:
    """Add ``POST /api/webhooks/<name>`` for each of ``providers`` (those with a secret)."""
    for name in providers:
        app.add_route(
            partial(receive, provider=name),
            f"/api/webhooks/{name}",
            methods=["POST"],
            name=f"webhook_{name}",
        )


async def receive(request: Request, *, provider: str) -> HTTPResponse:
    """Verify and record one webhook request of ``provider``."""
    ctx = request.app.ctx
    if len(request.body) > ctx.settings.webhook_max_bytes:
        raise PayloadTooLarge("Request body exceeds the size limit")
    incoming = WebhookRequest(
        headers={name.lower(): value for name, value in request.headers.items()},
        body=request.body,
        query={name: values[0] for name, values in request.args.items() if values},
    )
    try:
        answer = await ctx.webhooks.receive(provider, incoming)
    except WebhookRefused as refused:
        logger.warning("webhook %s refused (%d): %s", provider, refused.status, refused)
        return json({"success": False, "message": str(refused)}, status=refused.status)
    except Exception:
        logger.exception("webhook %s: could not record the events", provider)
        return json(
            {"success": False, "message": "The events could not be recorded; retry later."},
            status=503,
            headers={"Retry-After": "60"},
        )
    return json(answer)

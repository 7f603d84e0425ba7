"""``/api/admin/outbox``: the emails the service sends, for the site's operator.

Registered only when ``ADMIN_TOKEN`` is set (otherwise every ``/api/admin``
path is a 404). Each request must carry ``Authorization: Bearer <token>``,
compared in constant time: 401 without it, 403 when it is wrong.

* ``GET /api/admin/outbox``: counts by state and a page of emails, newest
  first: delivery metadata only, never a body or an address (addresses quoted
  in provider errors are masked).
* ``POST /api/admin/outbox/{id}/retry``: a ``dead`` or ``rejected`` email
  back to ``pending``, due now; the worker is woken.

The leads themselves are :mod:`.submissions`'s.

Pages are ``?limit=`` (1-200, default 50) and ``?offset=``; ``next_offset`` is
the offset of the next page, ``null`` on the last one. A bad value or an
unknown parameter is a 400 naming it.
"""

from __future__ import annotations

from sanic import Blueprint, HTTPResponse, Request, json
from sanic_ext import openapi

from service.api.admin.bearer import require_admin_token
from service.api.admin.openapi_docs import (
    AUTH_ERRORS,
    PAGE_PARAMETERS,
    SECURITY_SCHEME,
    error,
    json_schema,
)
from service.api.admin.queries import OutboxQuery, json_query, next_offset
from service.api.admin.schemas import (
    OutboxPage,
    RetryResponse,
    email_summary,
)
from service.api.errors import error_response
from service.outbox import EmailState

__all__ = ["bp"]

bp = Blueprint("admin", url_prefix="/api/admin")
bp.on_request(require_admin_token)


@bp.get("/outbox")
@openapi.definition(
    summary="Outbox counts and recent emails",
    description=(
        "Counts of emails by state and a page of emails, newest first. Delivery metadata "
        "only: no body, no address."
    ),
    tag="admin",
    secured=SECURITY_SCHEME,
    parameter=[
        openapi.definitions.Parameter(
            "state",
            openapi.String(enum=[str(state) for state in EmailState]),
            description="Only emails in this state.",
        ),
        *PAGE_PARAMETERS,
    ],
    response=[
        openapi.definitions.Response(json_schema(OutboxPage), status=200),
        error(400, "A query parameter is invalid"),
        *AUTH_ERRORS,
    ],
)
async def outbox(request: Request) -> HTTPResponse:
    """Counts by state and a page of the outbox's emails."""
    query = json_query(request, OutboxQuery)
    if isinstance(query, HTTPResponse):
        return query
    store = request.app.ctx.store
    stats = await store.stats()
    records = await store.list_emails(state=query.state, limit=query.limit + 1, offset=query.offset)
    total = stats.counts.get(query.state, 0) if query.state else sum(stats.counts.values())
    oldest = stats.oldest_unsent_age
    shown = records[: query.limit]
    events = await store.events_of([record.id for record in shown])
    page = OutboxPage(
        counts={str(state): count for state, count in stats.counts.items()},
        depth=stats.depth,
        oldest_unsent_seconds=round(oldest, 1) if oldest is not None else None,
        total=total,
        limit=query.limit,
        offset=query.offset,
        next_offset=next_offset(query, len(records)),
        emails=[email_summary(record, events.get(record.id, [])) for record in shown],
    )
    return json(page.model_dump(mode="json"))


@bp.post("/outbox/<email_id:str>/retry")
@openapi.definition(
    summary="Re-queue a dead or rejected email",
    description=(
        "Moves the email back to `pending`, due now, and wakes the delivery worker. "
        "Its age for the give-up rule restarts."
    ),
    tag="admin",
    secured=SECURITY_SCHEME,
    parameter=openapi.definitions.Parameter(
        "email_id",
        openapi.String(format="uuid"),
        location="path",
        required=True,
        description="The email's `id`, as `GET /api/admin/outbox` lists it.",
    ),
    response=[
        openapi.definitions.Response(json_schema(RetryResponse), status=200),
        *AUTH_ERRORS,
        error(404, "No dead or rejected email with this id, or its body was purged"),
    ],
)
async def retry(request: Request, email_id: str) -> HTTPResponse:
    """Put one dead or rejected email back in the queue and wake the worker."""
    ctx = request.app.ctx
    if not await ctx.store.requeue(email_id):
        return error_response(
            request,
            404,
            "No dead or rejected email has this id (purged emails cannot be re-queued).",
        )
    ctx.worker.notify()
    return json(RetryResponse(id=email_id).model_dump(mode="json"))

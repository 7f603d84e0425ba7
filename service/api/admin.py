"""``/api/admin``: the outbox and the submissions, for the site's operator.

Registered only when ``ADMIN_TOKEN`` is set (otherwise every ``/api/admin``
path is a 404). Each request must carry ``Authorization: Bearer <token>``,
compared in constant time: 401 without it, 403 when it is wrong.

* ``GET /api/admin/outbox``: counts by state and a page of emails, newest
  first: delivery metadata only, never a body or an address (addresses quoted
  in provider errors are masked).
* ``POST /api/admin/outbox/{id}/retry``: a ``dead`` or ``rejected`` email
  back to ``pending``, due now; the worker is woken.
* ``GET /api/admin/submissions``: the leads themselves, newest first, with
  their form, its declared fields, the consent records and their emails'
  states, so none is lost even when every email bounced; ``?form=`` lists
  one form's only.

Pages are ``?limit=`` (1-200, default 50) and ``?offset=``; ``next_offset`` is
the offset of the next page, ``null`` on the last one. A bad value or an
unknown parameter is a 400 naming it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sanic import Blueprint, HTTPResponse, Request, json
from sanic.exceptions import NotFound
from sanic_ext import openapi

from service.api.auth import check_bearer
from service.api.errors import error_response
from service.api.schemas import ErrorResponse, field_errors
from service.logs import mask_addresses
from service.outbox import EmailRecord, EmailState, SubmissionRecord
from service.outbox.delivery import EventRecord

__all__ = ["SECURITY_SCHEME", "bp", "describe_security"]

SECURITY_SCHEME = "adminToken"

MAX_LIMIT = 200
# Beyond any real outbox, and within a 64-bit integer for every database.
MAX_OFFSET = 1_000_000_000

bp = Blueprint("admin", url_prefix="/api/admin")


class PageQuery(BaseModel):
    """``?limit=&offset=``: which page of a newest-first listing."""

    # A mistyped parameter (``?stat=dead``) must not silently list everything.
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=50, ge=1, le=MAX_LIMIT)
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET)


class SubmissionsQuery(PageQuery):
    """``?form=&limit=&offset=``: a page of submissions, optionally of one form only."""

    form: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")


class OutboxQuery(PageQuery):
    """``?state=&limit=&offset=``: a page of emails, optionally in one state only."""

    state: EmailState | None = None


class DeliveryEventSummary(BaseModel):
    """One event a provider's webhook reported for an email: no body, no address."""

    provider: str
    event: str = Field(description="delivered, deferred, bounced, complained or rejected.")
    bounce: str | None = Field(description="hard or soft, for a bounce.")
    reason: str | None = Field(description="The provider's short reason, addresses masked.")
    occurred_at: datetime


class EmailSummary(BaseModel):
    """One email's delivery metadata: no body, no address."""

    id: str
    submission_id: str
    kind: str
    message_id: str
    state: EmailState
    provider: str | None
    provider_message_id: str | None
    attempts: int
    last_error: str | None = Field(
        description="The last provider error, or why the outbox did not send it; addresses masked."
    )
    created_at: datetime
    queued_at: datetime
    updated_at: datetime
    next_attempt_at: datetime | None
    sent_at: datetime | None
    purged: bool = Field(description="The body was deleted after the retention period.")
    delivery: str | None = Field(description="What the provider's webhook last reported.")
    events: list[DeliveryEventSummary] = Field(description="The latest webhook events.")


class OutboxPage(BaseModel):
    """The outbox: counts by state, and a page of its emails."""

    counts: dict[str, int]
    depth: int = Field(description="Emails still to deliver: pending, retrying or sending.")
    oldest_unsent_seconds: float | None
    total: int = Field(description="Emails matching the filter, for paging.")
    limit: int
    offset: int
    next_offset: int | None
    emails: list[EmailSummary]


class SubmissionEmail(BaseModel):
    """How one email of a submission fared."""

    id: str
    kind: str
    state: EmailState
    provider: str | None
    attempts: int
    sent_at: datetime | None
    delivery: str | None
    events: list[DeliveryEventSummary]


class ConsentRecord(BaseModel):
    """A consent box the visitor checked: the label text as shown, and when."""

    field: str
    label: str
    given_at: datetime


class SubmissionSummary(BaseModel):
    """One lead as the visitor submitted it; the personal fields are ``null`` once purged."""

    id: str
    created_at: datetime
    form: str = Field(description="The form's id, as `FORMS_FILE` declares it.")
    name: str | None
    email: str | None
    company: str | None
    message: str | None
    fields: dict[str, str | int | float | bool] | None = Field(
        description="The form's declared fields that were filled in, by name."
    )
    consent: list[ConsentRecord] | None
    locale: str | None = Field(
        description="The visitor's language (en, nl, de, fr); `null` if stored before it was kept."
    )
    purged: bool
    emails: list[SubmissionEmail]


class SubmissionsPage(BaseModel):
    """A page of submissions, newest first."""

    limit: int
    offset: int
    next_offset: int | None
    submissions: list[SubmissionSummary]


class RetryResponse(BaseModel):
    """The email is queued again."""

    success: Literal[True] = True
    id: str
    state: EmailState = EmailState.PENDING


Query = TypeVar("Query", bound=PageQuery)


def describe_security(app: Any) -> None:
    """Declare the bearer scheme the admin operations name in the OpenAPI document."""
    app.ext.openapi.add_security_scheme(
        SECURITY_SCHEME,
        "http",
        scheme="bearer",
        description="`ADMIN_TOKEN`, sent as `Authorization: Bearer <token>`.",
    )


@bp.on_request
async def require_admin_token(request: Request) -> HTTPResponse | None:
    """Every admin route: 401 without the bearer token, 403 with a wrong one."""
    token = request.app.ctx.settings.admin_token
    if token is None:
        # Fail closed should the blueprint ever be registered without a token.
        raise NotFound("Not found.")
    return check_bearer(request, token)


def _json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """``model``'s JSON Schema with nested models inlined.

    Pydantic puts them under ``$defs`` with ``#/$defs/...`` references, which
    an OpenAPI document resolves from its own root, where they are not.
    """
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            reference = node.get("$ref", "")
            if reference.startswith("#/$defs/"):
                return inline(definitions[reference.removeprefix("#/$defs/")])
            return {key: inline(value) for key, value in node.items()}
        if isinstance(node, list):
            return [inline(item) for item in node]
        return node

    return {"application/json": inline(schema)}


def _error(status: int, description: str) -> openapi.definitions.Response:
    return openapi.definitions.Response(
        _json_schema(ErrorResponse), status=status, description=description
    )


_AUTH_ERRORS = (
    _error(401, "No bearer token"),
    _error(403, "Wrong bearer token"),
)
_PAGE_PARAMETERS = (
    openapi.definitions.Parameter(
        "limit",
        openapi.Integer(minimum=1, maximum=MAX_LIMIT, default=50),
        description="Page size.",
    ),
    openapi.definitions.Parameter(
        "offset",
        openapi.Integer(minimum=0, maximum=MAX_OFFSET, default=0),
        description="How many to skip; use the previous page's `next_offset`.",
    ),
)


def _query(request: Request, model: type[Query]) -> Query | HTTPResponse:
    """The query string as ``model``, or the 400 answer naming each bad parameter."""
    # Blank values (``?state=``) are kept, and refused like any other bad value; a
    # repeated parameter stays a list, which no field accepts.
    args = request.get_args(keep_blank_values=True)
    fields = {key: values[0] if len(values) == 1 else values for key, values in args.items()}
    try:
        return model.model_validate(fields)
    except ValidationError as err:
        return error_response(request, 400, "Invalid query parameters.", field_errors(err))


def _next_offset(query: PageQuery, fetched: int) -> int | None:
    # One row more than a page was asked for: its presence says there is a next page.
    return query.offset + query.limit if fetched > query.limit else None


def _events(records: list[EventRecord]) -> list[DeliveryEventSummary]:
    return [
        DeliveryEventSummary(
            provider=record.provider,
            event=record.event,
            bounce=record.bounce,
            # Providers quote the refused address in their reasons.
            reason=mask_addresses(record.reason) if record.reason else None,
            occurred_at=record.occurred_at,
        )
        for record in records
    ]


def _email_summary(record: EmailRecord, events: list[EventRecord]) -> EmailSummary:
    return EmailSummary(
        id=record.id,
        submission_id=record.submission_id,
        kind=record.kind,
        message_id=record.message_id,
        state=record.state,
        provider=record.provider,
        provider_message_id=record.provider_message_id,
        attempts=record.attempts,
        # Providers quote refused recipients in their answers.
        last_error=mask_addresses(record.last_error) if record.last_error else None,
        created_at=record.created_at,
        queued_at=record.queued_at,
        updated_at=record.updated_at,
        next_attempt_at=record.next_attempt_at,
        sent_at=record.sent_at,
        purged=record.purged,
        delivery=record.delivery,
        events=_events(events),
    )


def _submission_summary(
    record: SubmissionRecord,
    emails: list[EmailRecord],
    events: dict[str, list[EventRecord]],
) -> SubmissionSummary:
    return SubmissionSummary(
        id=record.id,
        created_at=record.created_at,
        form=record.form,
        name=record.name,
        email=record.email,
        company=record.company or None,
        message=record.message,
        fields=record.fields if record.purged_at is None else None,
        consent=[ConsentRecord.model_validate(item) for item in record.consent or ()]
        if record.purged_at is None
        else None,
        locale=record.locale,
        purged=record.purged_at is not None,
        emails=[
            SubmissionEmail(
                id=email.id,
                kind=email.kind,
                state=email.state,
                provider=email.provider,
                attempts=email.attempts,
                sent_at=email.sent_at,
                delivery=email.delivery,
                events=_events(events.get(email.id, [])),
            )
            for email in emails
        ],
    )


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
        *_PAGE_PARAMETERS,
    ],
    response=[
        openapi.definitions.Response(_json_schema(OutboxPage), status=200),
        _error(400, "A query parameter is invalid"),
        *_AUTH_ERRORS,
    ],
)
async def outbox(request: Request) -> HTTPResponse:
    """Counts by state and a page of the outbox's emails."""
    query = _query(request, OutboxQuery)
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
        next_offset=_next_offset(query, len(records)),
        emails=[_email_summary(record, events.get(record.id, [])) for record in shown],
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
        openapi.definitions.Response(_json_schema(RetryResponse), status=200),
        *_AUTH_ERRORS,
        _error(404, "No dead or rejected email with this id, or its body was purged"),
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


@bp.get("/submissions")
@openapi.definition(
    summary="Recent submissions (the leads)",
    description=(
        "Submissions newest first, as the visitors sent them, with each email's state: "
        "no lead is lost even when every email bounced. Personal fields are `null` once "
        "the retention period purged them."
    ),
    tag="admin",
    secured=SECURITY_SCHEME,
    parameter=[
        openapi.definitions.Parameter(
            "form", openapi.String(), description="Only submissions of this form."
        ),
        *_PAGE_PARAMETERS,
    ],
    response=[
        openapi.definitions.Response(_json_schema(SubmissionsPage), status=200),
        _error(400, "A query parameter is invalid"),
        *_AUTH_ERRORS,
    ],
)
async def submissions(request: Request) -> HTTPResponse:
    """A page of submissions with their emails' states."""
    query = _query(request, SubmissionsQuery)
    if isinstance(query, HTTPResponse):
        return query
    store = request.app.ctx.store
    records = await store.list_submissions(
        form=query.form, limit=query.limit + 1, offset=query.offset
    )
    shown = records[: query.limit]
    emails = await store.emails_of([record.id for record in shown])
    by_submission: dict[str, list[EmailRecord]] = {record.id: [] for record in shown}
    for email in emails:
        by_submission[email.submission_id].append(email)
    events = await store.events_of([email.id for email in emails])
    page = SubmissionsPage(
        limit=query.limit,
        offset=query.offset,
        next_offset=_next_offset(query, len(records)),
        submissions=[
            _submission_summary(record, by_submission[record.id], events) for record in shown
        ],
    )
    return json(page.model_dump(mode="json"))

"""``/api/admin/submissions``: the leads, for the site's operator.

* ``GET /api/admin/submissions``: newest first, with their form, its
  declared fields, the consent records, a delivery badge and their emails'
  states, so none is lost even when every email bounced. Filters:
  ``?form=&q=&since=&until=&state=`` (:class:`~.queries.SubmissionFilters`);
  pages: ``?limit=`` (1-200, default 50) and ``?offset=``, ``next_offset``
  ``null`` on the last page.
* ``GET /api/admin/submissions.csv``: the same filters, every match, as a
  streamed CSV (:mod:`.export`).
* ``POST /api/admin/submissions/{id}/spam`` and ``.../not-spam``: the spam
  mark; marking stops the submission's unsent confirmation and is counted in
  ``contact_mailer_spam_marks_total``.

A bad value or an unknown parameter is a 400 naming it.
"""

from __future__ import annotations

from sanic import Blueprint, HTTPResponse, Request, json
from sanic_ext import openapi

from service.api.admin.actions import mark_spam as record_spam_mark
from service.api.admin.bearer import require_admin_token
from service.api.admin.export import send_csv
from service.api.admin.openapi_docs import (
    AUTH_ERRORS,
    FILTER_PARAMETERS,
    PAGE_PARAMETERS,
    SECURITY_SCHEME,
    error,
    json_schema,
)
from service.api.admin.queries import SubmissionFilters, SubmissionsQuery, json_query, next_offset
from service.api.admin.schemas import SpamResponse, SubmissionsPage, submission_summary
from service.api.errors import error_response
from service.outbox import EmailRecord

__all__ = ["bp"]

bp = Blueprint("admin_submissions", url_prefix="/api/admin")
bp.on_request(require_admin_token)

_SUBMISSION_ID = openapi.definitions.Parameter(
    "submission_id",
    openapi.String(format="uuid"),
    location="path",
    required=True,
    description="The submission's `id`, as `GET /api/admin/submissions` lists it.",
)


@bp.get("/submissions")
@openapi.definition(
    summary="Recent submissions (the leads)",
    description=(
        "Submissions newest first, as the visitors sent them, with a delivery badge and each "
        "email's state: no lead is lost even when every email bounced. Personal fields are "
        "`null` once the retention period purged them."
    ),
    tag="admin",
    secured=SECURITY_SCHEME,
    parameter=[*FILTER_PARAMETERS, *PAGE_PARAMETERS],
    response=[
        openapi.definitions.Response(json_schema(SubmissionsPage), status=200),
        error(400, "A query parameter is invalid"),
        *AUTH_ERRORS,
    ],
)
async def submissions(request: Request) -> HTTPResponse:
    """A page of submissions with their badges and emails' states."""
    query = json_query(request, SubmissionsQuery)
    if isinstance(query, HTTPResponse):
        return query
    store = request.app.ctx.store
    entries = await store.search_submissions(
        query.to_filter(), limit=query.limit + 1, offset=query.offset
    )
    shown = entries[: query.limit]
    emails = await store.emails_of([entry.submission.id for entry in shown])
    by_submission: dict[str, list[EmailRecord]] = {entry.submission.id: [] for entry in shown}
    for email in emails:
        by_submission[email.submission_id].append(email)
    events = await store.events_of([email.id for email in emails])
    page = SubmissionsPage(
        limit=query.limit,
        offset=query.offset,
        next_offset=next_offset(query, len(entries)),
        submissions=[
            submission_summary(entry, by_submission[entry.submission.id], events) for entry in shown
        ],
    )
    return json(page.model_dump(mode="json"))


@bp.get("/submissions.csv")
@openapi.definition(
    summary="Export the submissions as CSV",
    description=(
        "Every submission the filters select, newest first, streamed as UTF-8 CSV with a "
        "byte-order mark: the common columns, then one column per declared field across "
        "the forms. A cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return "
        "is prefixed with `'` so that spreadsheets do not run it."
    ),
    tag="admin",
    secured=SECURITY_SCHEME,
    parameter=list(FILTER_PARAMETERS),
    response=[
        openapi.definitions.Response(
            {"text/csv": openapi.String()}, status=200, description="The CSV file"
        ),
        error(400, "A query parameter is invalid"),
        *AUTH_ERRORS,
    ],
)
async def export(request: Request) -> HTTPResponse:
    """Stream the filtered submissions as CSV."""
    query = json_query(request, SubmissionFilters)
    if isinstance(query, HTTPResponse):
        return query
    return await send_csv(request, query.to_filter())


async def _mark(request: Request, submission_id: str, *, spam: bool) -> HTTPResponse:
    if await record_spam_mark(request.app.ctx, submission_id, spam=spam) is None:
        return error_response(request, 404, "No submission has this id.")
    return json(SpamResponse(id=submission_id, spam=spam).model_dump(mode="json"))


_SPAM_RESPONSES = [
    openapi.definitions.Response(json_schema(SpamResponse), status=200),
    *AUTH_ERRORS,
    error(404, "No submission with this id"),
]


@bp.post("/submissions/<submission_id:str>/spam")
@openapi.definition(
    summary="Mark a submission as spam",
    description=(
        "Records the mark (and counts it in the metrics). The submission's confirmation, "
        "if not sent yet, is not sent: it becomes `rejected` and cannot be re-queued "
        "while the mark stands."
    ),
    tag="admin",
    secured=SECURITY_SCHEME,
    parameter=_SUBMISSION_ID,
    response=_SPAM_RESPONSES,
)
async def mark_spam(request: Request, submission_id: str) -> HTTPResponse:
    """Mark one submission as spam."""
    return await _mark(request, submission_id, spam=True)


@bp.post("/submissions/<submission_id:str>/not-spam")
@openapi.definition(
    summary="Lift a submission's spam mark",
    description="Its stopped confirmation can then be re-queued from the outbox.",
    tag="admin",
    secured=SECURITY_SCHEME,
    parameter=_SUBMISSION_ID,
    response=_SPAM_RESPONSES,
)
async def mark_not_spam(request: Request, submission_id: str) -> HTTPResponse:
    """Lift the spam mark of one submission."""
    return await _mark(request, submission_id, spam=False)

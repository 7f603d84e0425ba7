"""The site owner's pages: the inbox, one lead, the outbox and the suppression list.

Server-rendered and usable without script; every page needs a signed-in
session (:mod:`.access`), and every form on them posts to :mod:`.page_actions`
with the session's CSRF token. Addresses quoted in provider errors are masked.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from pydantic import ValidationError
from sanic import Blueprint, HTTPResponse, Request
from sanic_ext import openapi

from service.api.admin.queries import MAX_OFFSET, SubmissionsQuery
from service.api.admin.schemas import ConsentRecord, email_summary
from service.api.admin.views import guard, harden, page
from service.api.errors import FIELD_LABELS
from service.api.locale import current_locale
from service.i18n import gettext_for, language_name
from service.outbox import EmailRecord, EmailState, SubmissionRecord
from service.outbox.inbox import INBOX_STATES

__all__ = ["bp", "filter_query", "inbox", "inbox_filters"]

bp = Blueprint("admin_pages", url_prefix="/admin")
bp.on_request(guard)
bp.on_response(harden)

INBOX_PAGE = 50
SUPPRESSIONS_PAGE = 50
FAILED_SHOWN = 200
"""Dead and rejected emails listed on the outbox page (of each state)."""
# What the pages' redirects add to a listing's address; not filters.
NOTICE_ARGS = frozenset({"done", "count", "submissions", "emails"})


def inbox_filters(request: Request) -> tuple[SubmissionsQuery, bool]:
    """The inbox's filters from the query string; a bad one is left out (``True`` says so).

    The same model as ``GET /api/admin/submissions`` reads, so the export of
    a page's filter selects exactly what the page lists.
    """
    args = {
        key: values[0]
        for key, values in request.get_args(keep_blank_values=True).items()
        if key not in NOTICE_ARGS and key != "limit" and values[0] != ""
    }
    try:
        return SubmissionsQuery.model_validate(args), False
    except ValidationError as err:
        bad = {str(error["loc"][0]) for error in err.errors() if error["loc"]}
        kept = {key: value for key, value in args.items() if key not in bad}
        try:
            return SubmissionsQuery.model_validate(kept), True
        except ValidationError:
            return SubmissionsQuery(), True


def filter_query(query: SubmissionsQuery, **changes: Any) -> str:
    """The query string (``?...``, or "") of ``query``'s filters, with ``changes``."""
    values = query.model_dump(exclude={"limit"}) | changes
    pairs = {key: str(value) for key, value in values.items() if value not in (None, "", 0)}
    return f"?{urlencode(pairs)}" if pairs else ""


def _page_link(query: SubmissionsQuery, offset: int) -> str:
    return filter_query(query, offset=max(0, offset)) or "/admin"


async def inbox(request: Request) -> HTTPResponse:
    """The leads, newest first, 50 a page, searched and filtered (``GET /admin``)."""
    query, invalid = inbox_filters(request)
    offset = query.offset
    found = await request.app.ctx.store.search_submissions(
        query.to_filter(), limit=INBOX_PAGE + 1, offset=offset
    )
    more = len(found) > INBOX_PAGE
    return page(
        request,
        "inbox",
        current="inbox",
        filters=query,
        invalid=invalid,
        forms=list(request.app.ctx.forms.values()),
        badges=INBOX_STATES,
        query=filter_query(query, offset=0),
        offset=offset,
        rows=found[:INBOX_PAGE],
        previous=_page_link(query, offset - INBOX_PAGE) if offset else None,
        following=_page_link(query, offset + INBOX_PAGE) if more else None,
    )


@bp.get("/submissions/<submission_id:str>")
@openapi.exclude()  # pages for people
async def submission(request: Request, submission_id: str) -> HTTPResponse:
    """One lead: every field with its label, consent, language and each email's timeline."""
    store = request.app.ctx.store
    record = await store.get_submission(submission_id)
    if record is None:
        return page(request, "missing", status=404)
    emails = await store.emails_of([record.id])
    events = await store.events_of([email.id for email in emails])
    return page(
        request,
        "submission",
        submission=record,
        form_title=_form_title(request, record.form),
        language=language_name(record.locale, current_locale(request)) if record.locale else None,
        fields=_labelled(request, record),
        consent=[ConsentRecord.model_validate(item) for item in record.consent or ()],
        purged=record.purged_at is not None,
        spam=record.spam,
        emails=[email_summary(email, events.get(email.id, [])) for email in emails],
    )


@bp.get("/submissions/<submission_id:str>/erase")
@openapi.exclude()
async def confirm_erase(request: Request, submission_id: str) -> HTTPResponse:
    """The confirmation step before erasing everything about the lead's sender."""
    record = await request.app.ctx.store.get_submission(submission_id)
    if record is None or not record.email:
        return page(request, "missing", status=404)
    return page(request, "erase", submission_id=record.id, address=record.email)


@bp.get("/outbox")
@openapi.exclude()
async def outbox(request: Request) -> HTTPResponse:
    """Counts by state, and the dead and rejected emails to send again."""
    store = request.app.ctx.store
    stats = await store.stats()
    failed: list[EmailRecord] = []
    for state in (EmailState.DEAD, EmailState.REJECTED):
        failed += await store.list_emails(state=state, limit=FAILED_SHOWN)
    failed.sort(key=lambda email: email.created_at, reverse=True)
    return page(
        request,
        "outbox",
        current="outbox",
        counts=[(str(state), stats.counts.get(state, 0)) for state in EmailState],
        failed=[email_summary(email, []) for email in failed],
    )


@bp.get("/suppressions")
@openapi.exclude()
async def suppressions(request: Request) -> HTTPResponse:
    """The suppressed visitor addresses, masked, newest first."""
    offset = _offset(request)
    found = await request.app.ctx.store.list_suppressions(
        limit=SUPPRESSIONS_PAGE + 1, offset=offset
    )
    return page(
        request,
        "suppressions",
        current="suppressions",
        suppressions=found[:SUPPRESSIONS_PAGE],
        previous=f"?offset={max(0, offset - SUPPRESSIONS_PAGE)}" if offset else None,
        following=f"?offset={offset + SUPPRESSIONS_PAGE}"
        if len(found) > SUPPRESSIONS_PAGE
        else None,
    )


def _offset(request: Request) -> int:
    raw = request.args.get("offset", "0")
    # isascii: "²" is a digit to str.isdigit, not to int().
    return min(int(raw), MAX_OFFSET) if raw.isascii() and raw.isdigit() else 0


def _form_title(request: Request, form_id: str) -> str:
    form = request.app.ctx.forms.get(form_id)
    return form.title if form is not None else form_id


def _labelled(request: Request, record: SubmissionRecord) -> list[tuple[str, Any]]:
    """The core fields, then the form's declared ones, by their labels as the form shows them."""
    gettext = gettext_for(current_locale(request))
    shown: list[tuple[str, Any]] = [
        (gettext(FIELD_LABELS[name]), value)
        for name, value in (
            ("name", record.name),
            ("email", record.email),
            ("company", record.company),
            ("message", record.message),
        )
        if value
    ]
    form = request.app.ctx.forms.get(record.form)
    labels = {field.name: field.label for field in form.declared} if form is not None else {}
    for name, value in (record.fields or {}).items():
        shown.append((labels.get(name, name), _value(value, gettext)))
    return shown


def _value(value: Any, gettext: Any) -> Any:
    if value is True:
        return gettext("Yes")
    if value is False:
        return gettext("No")
    return value

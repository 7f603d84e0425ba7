"""What the site owner's forms do: send again, mark spam, erase, unsuppress, export.

Every ``POST`` here passed :func:`~service.api.admin.views.guard`: a
signed-in session and its CSRF token (else a 403 page). Each answers with a
redirect back to the page the form was on (post/redirect/get), carrying a
notice; ``GET /admin/export.csv`` streams the inbox's current filter.
"""

from __future__ import annotations

import logging

from sanic import Blueprint, HTTPResponse, Request
from sanic_ext import openapi

from service.api.admin.actions import mark_spam
from service.api.admin.export import send_csv
from service.api.admin.pages import inbox_filters
from service.api.admin.views import back_to, guard, harden, page
from service.erasure import erase_person

__all__ = ["bp"]

logger = logging.getLogger("service.admin")

bp = Blueprint("admin_actions", url_prefix="/admin")
bp.on_request(guard)
bp.on_response(harden)


@bp.post("/emails/<email_id:str>/retry")
@openapi.exclude()  # forms for people; the JSON API has its own routes
async def retry(request: Request, email_id: str) -> HTTPResponse:
    """A dead or rejected email back to the queue, due now; the worker is woken."""
    ctx = request.app.ctx
    if not await ctx.store.requeue(email_id):
        return back_to(request, "/admin/outbox", done="not-retried")
    ctx.worker.notify()
    return back_to(request, "/admin/outbox", done="retried")


@bp.post("/outbox/retry")
@openapi.exclude()
async def retry_all(request: Request) -> HTTPResponse:
    """Every dead and rejected email back to the queue."""
    ctx = request.app.ctx
    count = await ctx.store.requeue_dead()
    if count:
        ctx.worker.notify()
    return back_to(request, "/admin/outbox", done="retried-all", count=str(count))


@bp.post("/suppressions/remove")
@openapi.exclude()
async def unsuppress(request: Request) -> HTTPResponse:
    """Forget one suppressed address (by its hash, the only thing the list keeps)."""
    address_hash = str((request.form or {}).get("hash") or "")
    removed = await request.app.ctx.store.remove_suppressed_hash(address_hash)
    return back_to(request, "/admin/suppressions", done="removed" if removed else "not-removed")


@bp.post("/submissions/<submission_id:str>/spam")
@openapi.exclude()
async def spam(request: Request, submission_id: str) -> HTTPResponse:
    """Mark the lead as spam (``spam=yes``: its unsent confirmation is never sent) or not."""
    marked = (request.form or {}).get("spam") != "no"
    record = await mark_spam(request.app.ctx, submission_id, spam=marked)
    if record is None:
        return page(request, "missing", status=404)
    here = f"/admin/submissions/{record.id}"
    return back_to(request, here, done="spam" if marked else "not-spam")


@bp.post("/submissions/<submission_id:str>/erase")
@openapi.exclude()
async def erase(request: Request, submission_id: str) -> HTTPResponse:
    """Erase everything stored about the lead's sender; the inbox says how much went."""
    ctx = request.app.ctx
    record = await ctx.store.get_submission(submission_id)
    if record is None or not record.email:
        return page(request, "missing", status=404)
    report = await erase_person(ctx.store, record.email, confirmation=ctx.defences.confirmation)
    return back_to(
        request,
        "/admin",
        done="erased",
        submissions=str(report.submissions),
        emails=str(report.emails),
    )


@bp.get("/export.csv")
@openapi.exclude()
async def export(request: Request) -> HTTPResponse:
    """The inbox's current filter as CSV, streamed (see :mod:`.export`)."""
    query, _ = inbox_filters(request)
    return await send_csv(request, query.to_filter(), filename="leads.csv")

"""``POST /api/contact``: validate a submission and queue its two emails in the outbox.

JSON clients get JSON; a plain HTML form posted by a browser gets a ``303`` to
a thank-you page (or ``CONTACT_REDIRECT_URL``) and HTML error pages. Answers,
errors and the confirmation are in the visitor's language
(:mod:`service.api.locale`), which the submission keeps.
"""

from __future__ import annotations

import hashlib
import json as json_module
import logging
import re
import uuid
from dataclasses import replace

from pydantic import ValidationError
from sanic import Blueprint, HTTPResponse, Request, json, redirect
from sanic.exceptions import BadRequest
from sanic_ext import openapi

from service.abuse import CaptchaRejected, RateLimited, enforce_rate_limit, screen
from service.api.body import read_fields
from service.api.context import count_submission
from service.api.errors import error_response, wants_html
from service.api.locale import current_locale, header_locale, request_locale, stamp_locale
from service.api.schemas import ContactForm, ContactResponse, ErrorResponse, field_errors
from service.emails import Submission, compose_confirmation, compose_notification
from service.i18n import LOCALE_FIELD, LOCALES, N_, gettext_for
from service.logs import mask_email
from service.outbox import IdempotencyConflict, NewSubmission

__all__ = ["bp"]

logger = logging.getLogger(__name__)

bp = Blueprint("contact", url_prefix="/api")

_FORM_SCHEMA = ContactForm.model_json_schema()
_FORM_SCHEMA["properties"][LOCALE_FIELD] = {
    "type": "string",
    "description": (
        f"The visitor's language ({', '.join(LOCALES)}; a region such as nl-BE counts as its "
        "language). Unsupported values fall back to Accept-Language, then DEFAULT_LOCALE."
    ),
    "examples": ["nl-BE"],
}
_KEY = re.compile(r"[\x21-\x7e]{1,255}")


@bp.post("/contact")
@openapi.definition(
    summary="Submit the contact form",
    description=(
        "Accepts JSON, a urlencoded HTML form or multipart without files. Browsers posting a "
        "form with `Accept: text/html` get a 303 to the thank-you page instead of JSON. "
        "The answer comes once the submission is stored; the emails are sent in the background."
    ),
    tag="contact",
    parameter=openapi.definitions.Parameter(
        "Idempotency-Key",
        str,
        location="header",
        required=False,
        description="Repeat a request safely: same key and body within 24 h, same answer.",
    ),
    body={
        "application/json": _FORM_SCHEMA,
        "application/x-www-form-urlencoded": _FORM_SCHEMA,
    },
    response=[
        openapi.definitions.Response(
            {"application/json": ContactResponse.model_json_schema()}, status=200
        ),
        openapi.definitions.Response({"text/html": str}, status=303, description="Browser form"),
        *(
            openapi.definitions.Response(
                {"application/json": ErrorResponse.model_json_schema()},
                status=status,
                description=description,
            )
            for status, description in (
                (400, "Malformed body"),
                (413, "Body too large"),
                (415, "Unsupported content type"),
                (409, "Idempotency-Key reused for a different submission"),
                (422, "Invalid fields, or the captcha was not passed"),
                (429, "Too many submissions from this client; see Retry-After"),
                (503, "The outbox could not store the submission"),
            )
        ),
    ],
)
async def contact(request: Request) -> HTTPResponse:
    """Validate the form, render both emails, store them in the outbox, answer.

    The answer does not wait for any provider: the outbox's delivery worker
    sends the emails. With an ``Idempotency-Key`` header, a repeat of the same
    request within 24 h gets the first answer and stores nothing new.
    """
    try:
        await enforce_rate_limit(request)
    except RateLimited:
        count_submission(request, "rate_limited")
        raise
    key = idempotency_key(request)
    fields = read_fields(request)
    locale = request_locale(request, fields)
    _ = gettext_for(locale)
    try:
        form = ContactForm.model_validate(fields)
    except ValidationError as err:
        count_submission(request, "invalid")
        return error_response(
            request, 422, N_("Please correct the highlighted fields."), field_errors(err, _)
        )
    try:
        verdict = await screen(request, fields, email=str(form.email))
    except CaptchaRejected:
        count_submission(request, "spam")
        raise
    if verdict.spam:
        count_submission(request, "spam")
        # A bot must not learn that it was caught: the answer is a success's, id and all.
        return accepted(request, _answer(str(uuid.uuid4()), locale))

    ctx = request.app.ctx
    new = NewSubmission(
        name=form.name,
        email=str(form.email),
        message=form.message,
        company=form.company or "",
        locale=locale,
    )
    submission = Submission(
        id=new.id,
        name=new.name,
        email=new.email,
        message=new.message,
        company=new.company or None,
        locale=locale,
    )
    logger.info(
        "submission %s from %s",
        submission.id,
        mask_email(submission.email),
        extra={"submission_id": submission.id, "visitor": mask_email(submission.email)},
    )
    emails = [compose_notification(submission, ctx.settings, ctx.renderer)]
    if verdict.confirm:
        emails.append(compose_confirmation(submission, ctx.settings, ctx.renderer))
    trace = getattr(request.ctx, "trace_context", None)
    if trace:
        # Set by tracing when it is on: the send attempts become children of this request.
        emails = [replace(email, trace=trace) for email in emails]
    answer = _answer(new.id, locale)
    try:
        result = await ctx.store.add_submission(
            new,
            emails,
            idempotency_key=key,
            request_hash=_fingerprint(form) if key else None,
            response=answer,
        )
    except IdempotencyConflict:
        return error_response(
            request, 409, N_("This Idempotency-Key was already used for a different submission.")
        )
    except Exception as err:
        # Nothing was accepted, so nothing is lost: the visitor is told to try again.
        logger.exception("outbox: could not store submission %s", new.id)
        ctx.outbox_writes.failed(err)
        return error_response(
            request,
            503,
            N_("Your message could not be saved right now. Please try again in a minute."),
            headers={"Retry-After": "60"},
        )
    ctx.outbox_writes.succeeded()
    if not result.replayed:
        ctx.worker.notify()
        count_submission(request, "accepted")
    return accepted(request, result.response or answer)


def idempotency_key(request: Request) -> str | None:
    """The ``Idempotency-Key`` header, if any; 400 when it is not 1-255 printable ASCII."""
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    if not _KEY.fullmatch(key):
        raise BadRequest(N_("Idempotency-Key must be 1 to 255 printable ASCII characters."))
    return key


def _fingerprint(form: ContactForm) -> str:
    """A hash of what was submitted, to tell a repeat from a different request."""
    canonical = json_module.dumps(form.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _answer(submission_id: str, locale: str) -> dict[str, object]:
    """The JSON of an accepted submission, its message in the visitor's language."""
    message = gettext_for(locale)("Thank you for your message!")
    return ContactResponse(id=submission_id, message=message).model_dump()


def accepted(request: Request, answer: dict[str, object]) -> HTTPResponse:
    """The success answer: JSON, or a 303 for a browser's plain form post."""
    locale = current_locale(request)
    if wants_html(request):
        target = request.app.ctx.settings.contact_redirect_url
        # The thank-you page negotiates from the same headers; name the language only
        # when they would not lead to it (a locale field, a form's locale).
        query = {} if locale == header_locale(request) else {LOCALE_FIELD: locale}
        thanks = request.app.url_for("pages.thanks", **query)
        return redirect(str(target) if target else thanks, status=303)
    return stamp_locale(json(answer), locale)

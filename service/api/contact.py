"""``POST /api/contact``: validate a submission and send its two emails.

JSON clients get JSON; a plain HTML form posted by a browser gets a ``303`` to
a thank-you page (or ``CONTACT_REDIRECT_URL``) and HTML error pages.
"""

from __future__ import annotations

import uuid

from pydantic import ValidationError
from sanic import Blueprint, HTTPResponse, Request, json, redirect
from sanic_ext import openapi

from service.abuse import enforce_rate_limit, screen
from service.api.body import read_fields
from service.api.errors import error_response, wants_html
from service.api.schemas import ContactForm, ContactResponse, ErrorResponse, field_errors
from service.emails import Submission, compose_confirmation, compose_notification
from service.providers import ChainExhausted

__all__ = ["bp"]

bp = Blueprint("contact", url_prefix="/api")

_FORM_SCHEMA = ContactForm.model_json_schema()


@bp.post("/contact")
@openapi.definition(
    summary="Submit the contact form",
    description=(
        "Accepts JSON, a urlencoded HTML form or multipart without files. Browsers posting a "
        "form with `Accept: text/html` get a 303 to the thank-you page instead of JSON."
    ),
    tag="contact",
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
                (422, "Invalid fields, or the captcha was not passed"),
                (429, "Too many submissions from this client; see Retry-After"),
                (503, "No provider could send the email"),
            )
        ),
    ],
)
async def contact(request: Request) -> HTTPResponse:
    """Validate the form, send the notification and the confirmation, answer."""
    await enforce_rate_limit(request)
    fields = read_fields(request)
    try:
        form = ContactForm.model_validate(fields)
    except ValidationError as err:
        return error_response(
            request, 422, "Please correct the highlighted fields.", field_errors(err)
        )
    verdict = await screen(request, fields, email=str(form.email))
    if verdict.spam:
        # A bot must not learn that it was caught: the answer is a success's.
        return accepted(request, uuid.uuid4().hex)

    ctx = request.app.ctx
    submission = Submission(
        id=uuid.uuid4().hex,
        name=form.name,
        email=str(form.email),
        message=form.message,
        company=form.company or None,
    )
    emails = [compose_notification(submission, ctx.settings, ctx.renderer)]
    if verdict.confirm:
        emails.append(compose_confirmation(submission, ctx.settings, ctx.renderer))
    try:
        for email in emails:
            await ctx.chain.send(email)
    except ChainExhausted:
        return error_response(
            request, 503, "Your message could not be sent right now. Please try again later."
        )
    return accepted(request, submission.id)


def accepted(request: Request, submission_id: str) -> HTTPResponse:
    """The success answer: JSON, or a 303 for a browser's plain form post."""
    if wants_html(request):
        target = request.app.ctx.settings.contact_redirect_url
        return redirect(str(target) if target else request.app.url_for("pages.thanks"), status=303)
    return json(ContactResponse(id=submission_id).model_dump())

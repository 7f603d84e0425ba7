"""The form endpoints: ``POST /api/forms/{form}`` (and ``POST /api/contact``, the form ``contact``).

A post is validated against its form, screened and stored in the outbox, with
a recipe for each of its emails, before the answer; the outbox's worker renders
and sends them. JSON
clients get JSON; a plain HTML form posted by a browser gets a ``303`` to the
form's ``redirect_url`` (or the thank-you page) and HTML error pages.

Each post ends in one outcome, decided in one place (:func:`_decide`) and
recorded once (:func:`~service.api.context.record_outcome`). Each form has
routes of its own, so that CORS answers with that form's ``origins``; the
documented ``/api/forms/{form}`` template answers the forms that do not exist.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal
from urllib.parse import urlencode

from pydantic import ValidationError
from sanic import Blueprint, HTTPResponse, Request, json, redirect
from sanic.exceptions import BadRequest, NotFound, SanicException
from sanic_ext import cors, openapi

from service.abuse import CaptchaRejected, RateLimited, Verdict, enforce_rate_limit, screen
from service.api.body import read_fields
from service.api.context import record_outcome
from service.api.errors import error_response, wants_html
from service.api.locale import current_locale, header_locale, request_locale, stamp_locale
from service.api.schemas import ContactResponse, ErrorResponse, FieldError, field_errors
from service.emails.compose import new_message_id, notified
from service.forms import Form, Forms
from service.i18n import LOCALE_FIELD, N_, gettext_for
from service.ids import uuid7
from service.logs import access_fields_var, mask_email
from service.outbox import IdempotencyConflict
from service.outbox.recipes import EmailRecipe, recipe_of
from service.submission import Submission

__all__ = [
    "HostedAnswers",
    "accepted",
    "find_form",
    "forms_blueprint",
    "idempotency_key",
    "submit",
]

logger = logging.getLogger(__name__)

Outcome = Literal["accepted", "invalid", "spam", "rate_limited"]


@dataclass(frozen=True, slots=True)
class HostedAnswers:
    """How a form's own page answers a browser's plain post instead of the API's pages."""

    page: Callable[[Request, Form, int, Mapping[str, Any], list[FieldError], str], HTTPResponse]
    """The form again, with a message, the posted values and their errors."""
    thanks: Callable[[Request, Form], str]
    """Where to go after success when the form names no ``redirect_url``."""


_KEY = re.compile(r"[\x21-\x7e]{1,255}")
_INVALID = N_("Please correct the highlighted fields.")


async def submit(
    request: Request, form: Form, *, hosted: HostedAnswers | None = None
) -> HTTPResponse:
    """Handle one post to ``form``; the hosted page passes its own ``hosted`` answers."""
    outcome, response = await _decide(request, form, hosted)
    if outcome is not None:
        record_outcome(request, form.id, outcome)
    return response


async def _decide(
    request: Request, form: Form, hosted: HostedAnswers | None
) -> tuple[Outcome | None, HTTPResponse]:
    """The outcome of a post and its answer; ``None`` when it is no submission to count."""
    fields: Mapping[str, Any] = {}
    # The form's language counts from the first answer on, before the body is read.
    locale = request_locale(request, form_locale=form.locale)
    try:
        await enforce_rate_limit(request)
        key = idempotency_key(request)
        fields = read_fields(request)
        if fields.get(LOCALE_FIELD):
            # Otherwise the fields change nothing the first negotiation saw.
            locale = request_locale(request, dict(fields), form_locale=form.locale)
        try:
            submission = replace(form.validate(fields), locale=locale)
        except ValidationError as err:
            errors = field_errors(err, gettext_for(locale))
            return "invalid", _refuse(request, form, hosted, 422, _INVALID, fields, errors)
        verdict = await screen(request, fields, email=submission.email, confirm=form.confirmation)
    except RateLimited as err:
        return "rate_limited", _refuse(request, form, hosted, 429, str(err), fields, [], err)
    except CaptchaRejected as err:
        return "spam", _refuse(request, form, hosted, 422, str(err), fields, [], err)
    if verdict.spam:
        # A bot must not learn that it was caught: the answer is a success's, id and all.
        fake = _answer(uuid7(), locale)
        return "spam", accepted(request, form, fake, hosted)
    return await _store(request, form, submission, verdict, key, hosted)


def _refuse(
    request: Request,
    form: Form,
    hosted: HostedAnswers | None,
    status: int,
    message: str,
    fields: Mapping[str, Any],
    errors: list[FieldError],
    exception: SanicException | None = None,
) -> HTTPResponse:
    headers = dict(getattr(exception, "headers", None) or {})
    if hosted is not None and wants_html(request):
        response = hosted.page(request, form, status, fields, errors, message)
        response.headers.update(headers)
        return response
    return error_response(request, status, message, errors, headers=headers)


async def _store(
    request: Request,
    form: Form,
    submission: Submission,
    verdict: Verdict,
    key: str | None,
    hosted: HostedAnswers | None,
) -> tuple[Outcome | None, HTTPResponse]:
    """Store the submission with its emails' recipes; the answer once it is stored."""
    ctx = request.app.ctx
    visitor = mask_email(submission.email)
    if logger.isEnabledFor(logging.DEBUG):
        fields = {"submission_id": submission.id, "visitor": visitor}
        logger.debug(
            "submission %s to form %s from %s", submission.id, form.id, visitor, extra=fields
        )
    answer = _answer(submission.id, submission.locale)
    try:
        result = await ctx.store.add_submission(
            submission,
            _emails(request, submission, verdict),
            idempotency_key=key,
            request_hash=form.fingerprint(submission) if key else None,
            response=answer,
        )
    except IdempotencyConflict:
        message = N_("This Idempotency-Key was already used for a different submission.")
        return None, error_response(request, 409, message)
    except Exception as err:
        # Nothing was accepted, so nothing is lost: the visitor is told to try again.
        logger.exception("outbox: could not store submission %s", submission.id)
        ctx.outbox_writes.failed(err)
        message = N_("Your message could not be saved right now. Please try again in a minute.")
        return None, error_response(request, 503, message, headers={"Retry-After": "60"})
    ctx.outbox_writes.succeeded()
    if result.replayed:
        return None, accepted(request, form, result.response or answer, hosted)
    ctx.worker.notify()
    # On the request's access line: one INFO line per submission, not two.
    access_fields_var.set({"submission_id": submission.id, "form": form.id, "visitor": visitor})
    return "accepted", accepted(request, form, answer, hosted)


def _emails(request: Request, submission: Submission, verdict: Verdict) -> list[EmailRecipe]:
    """The submission's emails: the notification, and the confirmation when it may be sent.

    Stored as recipes, rendered by the worker that claims them (service.outbox.recipes):
    what the time of sending must not change is fixed here. The store leaves the
    confirmation out when the visitor's address hard-bounced or complained before
    (looked up in the transaction that stores the submission), and tells the owner.
    """
    settings = request.app.ctx.settings
    kinds = ["notification", "confirmation"] if verdict.confirm else ["notification"]
    recipe = recipe_of(
        submission,
        recipients=notified(submission, settings),
        # Set by tracing when it is on: the send attempts become children of this request.
        trace=getattr(request.ctx, "trace_context", None),
    )
    return [
        EmailRecipe(kind, new_message_id(settings), recipe, to_visitor=kind == "confirmation")
        for kind in kinds
    ]


def idempotency_key(request: Request) -> str | None:
    """The ``Idempotency-Key`` header, if any; 400 when it is not 1-255 printable ASCII."""
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    if not _KEY.fullmatch(key):
        raise BadRequest(N_("Idempotency-Key must be 1 to 255 printable ASCII characters."))
    return key


def accepted(
    request: Request, form: Form, answer: dict[str, object], hosted: HostedAnswers | None = None
) -> HTTPResponse:
    """The success answer: JSON, or a 303 for a browser's plain form post."""
    locale = current_locale(request)
    if wants_html(request):
        if form.redirect_url:
            return redirect(form.redirect_url, status=303)
        thanks = hosted.thanks(request, form) if hosted else request.app.url_for("pages.thanks")
        # The thank-you page negotiates from the same headers; name the language only
        # when they would not lead to it (a locale field, the form's locale).
        if locale != header_locale(request):
            thanks += ("&" if "?" in thanks else "?") + urlencode({LOCALE_FIELD: locale})
        return redirect(thanks, status=303)
    return stamp_locale(json(answer), locale)


def _answer(submission_id: str, locale: str) -> dict[str, object]:
    """The JSON of an accepted submission, its message in the visitor's language."""
    message = gettext_for(locale)("Thank you for your message!")
    return ContactResponse(id=submission_id, message=message).model_dump()


def find_form(request: Request, form_id: str) -> Form:
    """The form ``form_id`` names; 404 when there is none."""
    form = request.app.ctx.forms.get(form_id)
    if form is None:
        raise NotFound(f"There is no form {form_id!r}.")
    return form


# OpenAPI --------------------------------------------------------------------

_ERRORS = (
    (400, "Malformed body"),
    (413, "Body too large"),
    (415, "Unsupported content type"),
    (409, "Idempotency-Key reused for a different submission"),
    (422, "Invalid fields, or the captcha was not passed"),
    (429, "Too many submissions from this client; see Retry-After"),
    (503, "The outbox could not store the submission"),
)
_IDEMPOTENCY = openapi.definitions.Parameter(
    "Idempotency-Key",
    str,
    location="header",
    required=False,
    description="Repeat a request safely: same key and body within 24 h, same answer.",
)
_DESCRIPTION = (
    "Accepts JSON, a urlencoded HTML form or multipart without files. Browsers posting a "
    "form with `Accept: text/html` get a 303 to the form's redirect URL (or the thank-you "
    "page) instead of JSON. The answer comes once the submission is stored; the emails "
    "are sent in the background. Fields that the form does not declare are ignored."
)


def _post_documentation(summary: str, body: dict[str, Any], *, parameters: list[Any]) -> Any:
    error = ErrorResponse.model_json_schema()
    return openapi.definition(
        summary=summary,
        description=_DESCRIPTION,
        tag="forms",
        parameter=[*parameters, _IDEMPOTENCY],
        body={"application/json": body, "application/x-www-form-urlencoded": body},
        response=[
            openapi.definitions.Response(
                {"application/json": ContactResponse.model_json_schema()}, status=200
            ),
            openapi.definitions.Response({"text/html": str}, status=303, description="Browser"),
            *(
                openapi.definitions.Response(
                    {"application/json": error}, status=status, description=description
                )
                for status, description in ((404, "No such form"), *_ERRORS)
            ),
        ],
    )


_DESCRIPTION_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "title": {"type": "string"},
        "fields": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "type": {"type": "string"},
                    "label": {"type": "string"},
                    "required": {"type": "boolean"},
                    "options": {"type": ["array", "null"], "items": {"type": "string"}},
                    "max_length": {"type": ["integer", "null"]},
                    "min": {"type": ["number", "null"]},
                    "max": {"type": ["number", "null"]},
                },
            },
        },
    },
}


def _describe_documentation(form_parameter: Any) -> Any:
    return openapi.definition(
        summary="Describe a form",
        description="The form's title and fields, core fields included, in order.",
        tag="forms",
        parameter=form_parameter,
        response=[
            openapi.definitions.Response({"application/json": _DESCRIPTION_SCHEMA}, status=200),
            openapi.definitions.Response(
                {"application/json": ErrorResponse.model_json_schema()}, status=404
            ),
        ],
    )


# Routes ---------------------------------------------------------------------


def _cors_origin(form: Form) -> str | list[str]:
    return "*" if "*" in form.origins else list(form.origins)


def _form_routes(bp: Blueprint, form: Form) -> None:
    """``GET`` and ``POST /api/forms/ID`` for one form, with its own CORS origins."""
    name = form.id.replace("-", "_")

    @openapi.exclude()  # documented by the /api/forms/{form} template
    @cors(origin=_cors_origin(form))
    async def post_form(request: Request) -> HTTPResponse:
        return await submit(request, form)

    @openapi.exclude()
    @cors(origin=_cors_origin(form))
    async def describe_form(request: Request) -> HTTPResponse:
        return json(form.describe())

    bp.add_route(post_form, f"/api/forms/{form.id}", methods=["POST"], name=f"post_{name}")
    bp.add_route(describe_form, f"/api/forms/{form.id}", methods=["GET"], name=f"get_{name}")


def forms_blueprint(forms: Forms) -> Blueprint:
    """Every form endpoint for ``forms``: one app's, since the routes depend on its forms."""
    bp = Blueprint("forms")
    form_parameter = openapi.definitions.Parameter(
        "form",
        openapi.String(enum=list(forms)),
        location="path",
        required=True,
        description="The form's id, as `FORMS_FILE` declares it (`contact` always exists).",
    )
    any_form = {"oneOf": [form.json_schema() for form in forms.values()]}
    contact = forms.contact

    @_post_documentation("Submit a form", any_form, parameters=[form_parameter])
    async def post_any(request: Request, form: str) -> HTTPResponse:
        return await submit(request, find_form(request, form))

    @_describe_documentation(form_parameter)
    async def describe_any(request: Request, form: str) -> HTTPResponse:
        return json(find_form(request, form).describe())

    @_post_documentation("Submit the contact form", contact.json_schema(), parameters=[])
    @cors(origin=_cors_origin(contact))
    async def post_contact(request: Request) -> HTTPResponse:
        return await submit(request, contact)

    bp.add_route(post_any, "/api/forms/<form:str>", methods=["POST"], name="post_form")
    bp.add_route(describe_any, "/api/forms/<form:str>", methods=["GET"], name="describe_form")
    bp.add_route(post_contact, "/api/contact", methods=["POST"], name="contact")
    for form in forms.values():
        _form_routes(bp, form)
    return bp

"""Every error answer is JSON with ``success: false`` (or an HTML page for a browser form post).

Messages are English msgids, translated here into the request's language
(:func:`service.api.locale.current_locale`); an exception whose message has no
translation (one of Sanic's own) gets its status's generic message instead, so
a visitor never reads a sentence in a language they did not ask for.

Nothing a client sends may produce a 500 or a traceback; a bug of ours still
answers a plain JSON 500 and is logged for the operator.
"""

from __future__ import annotations

import logging

from sanic import HTTPResponse, Request, json
from sanic.exceptions import SanicException
from sanic.handlers import ErrorHandler

from service.api.locale import current_locale, stamp_locale
from service.api.pages import render_page
from service.api.schemas import ErrorResponse, FieldError
from service.i18n import N_, SOURCE_LOCALE, gettext_for

__all__ = ["FIELD_LABELS", "JsonErrorHandler", "error_response", "wants_html"]

logger = logging.getLogger("service.api")

_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")

FIELD_LABELS = {
    "name": N_("Name"),
    "email": N_("Email"),
    "message": N_("Message"),
    "company": N_("Company"),
}
"""How the HTML error page names the core fields."""

SERVER_ERROR = N_("Something went wrong on our side. Please try again later.")

# For exceptions whose own message is not in the catalogs.
_STATUS_MESSAGES = {
    400: N_("Bad request."),
    404: N_("Not found."),
    405: N_("This method is not allowed here."),
    413: N_("Request body exceeds the size limit"),
}
_OTHER_CLIENT_ERROR = N_("The request could not be processed.")


def wants_html(request: Request) -> bool:
    """True for a plain HTML form posted by a browser: answer with pages, not JSON."""
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    accept = request.headers.get("accept", "")
    return content_type in _FORM_TYPES and "text/html" in accept


def error_response(
    request: Request,
    status: int,
    message: str,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> HTTPResponse:
    """The one shape of every error answer; ``message`` (an English msgid) is translated.

    ``errors`` come already translated (:func:`service.api.schemas.field_errors`).
    """
    locale = current_locale(request)
    _ = gettext_for(locale)
    body = ErrorResponse(message=_(message), errors=errors or [])
    if wants_html(request):
        labels = {field: _(label) for field, label in FIELD_LABELS.items()}
        response = render_page(
            "error",
            status=status,
            locale=locale,
            message=body.message,
            errors=body.errors,
            labels=labels,
        )
    else:
        response = stamp_locale(json(body.model_dump(), status=status), locale)
    response.headers.update(headers or {})
    return response


def _client_message(request: Request, status: int, message: str) -> str:
    """``message`` if the request's language has it, else the status's generic message."""
    locale = current_locale(request)
    if not message or (locale != SOURCE_LOCALE and gettext_for(locale)(message) == message):
        return _STATUS_MESSAGES.get(status, _OTHER_CLIENT_ERROR)
    return message


class JsonErrorHandler(ErrorHandler):
    """Sanic's error handler, answering in our error shape and never with a traceback."""

    def default(self, request: Request, exception: Exception) -> HTTPResponse:
        status = (
            getattr(exception, "status_code", 500) if isinstance(exception, SanicException) else 500
        )
        if status >= 500:
            self.log(request, exception)
            message = SERVER_ERROR
        else:
            message = _client_message(request, status, str(exception))
        headers = dict(getattr(exception, "headers", None) or {})
        return error_response(request, status, message, headers=headers)

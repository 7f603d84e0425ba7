"""Every error answer is JSON with ``success: false`` (or an HTML page for a browser form post).

Nothing a client sends may produce a 500 or a traceback; a bug of ours still
answers a plain JSON 500 and is logged for the operator.
"""

from __future__ import annotations

import logging

from sanic import HTTPResponse, Request, json
from sanic.exceptions import SanicException
from sanic.handlers import ErrorHandler

from service.api.pages import render_page
from service.api.schemas import ErrorResponse, FieldError

__all__ = ["JsonErrorHandler", "error_response", "wants_html"]

logger = logging.getLogger("service.api")

_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


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
    """The one shape of every error answer."""
    body = ErrorResponse(message=message, errors=errors or [])
    if wants_html(request):
        response = render_page("error", status=status, message=message, errors=body.errors)
    else:
        response = json(body.model_dump(), status=status)
    response.headers.update(headers or {})
    return response


class JsonErrorHandler(ErrorHandler):
    """Sanic's error handler, answering in our error shape and never with a traceback."""

    def default(self, request: Request, exception: Exception) -> HTTPResponse:
        status = (
            getattr(exception, "status_code", 500) if isinstance(exception, SanicException) else 500
        )
        if status >= 500:
            self.log(request, exception)
            message = "Something went wrong on our side. Please try again later."
        else:
            message = str(exception) or "Bad request."
        headers = dict(getattr(exception, "headers", None) or {})
        return error_response(request, status, message, headers=headers)

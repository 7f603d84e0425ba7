"""Read a request body into a flat dict of fields, whatever the form's encoding.

JSON (``application/json``), a plain HTML form (``application/x-www-form-urlencoded``)
and ``multipart/form-data`` without files are accepted; anything else is a 415.
Forms are parsed here rather than through ``request.form``: Sanic logs a
traceback and answers with an empty form for a body it cannot parse, which
would read as "every field is missing" instead of a 400 naming the problem.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from sanic import Request
from sanic.exceptions import BadRequest, PayloadTooLarge, SanicException
from sanic.headers import parse_content_header
from sanic.request import parse_multipart_form

from service.i18n import N_
from service.jsonparse import MAX_DEPTH, JsonError, JsonTooDeep, parse_json

__all__ = ["UnsupportedMediaType", "media_type", "read_fields"]


class UnsupportedMediaType(SanicException):
    """415: the body is not in a format this endpoint reads."""

    status_code = 415
    quiet = True


def media_type(request: Request) -> str:
    """The request's media type, lower case, without parameters."""
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def read_fields(request: Request) -> dict[str, Any]:
    """The submitted fields. Raises 400 (malformed), 413 (too large) or 415 (unsupported)."""
    # Sanic's own server refuses a large body before it is read; under an ASGI
    # server the body arrives whole, so the limit is checked here as well.
    if len(request.body) > request.app.ctx.settings.request_max_size:
        raise PayloadTooLarge(N_("Request body exceeds the size limit"))
    kind = media_type(request)
    if kind == "application/json" or kind.endswith("+json"):
        return _json_fields(request.body)
    if kind == "application/x-www-form-urlencoded":
        return _first_values(_urlencoded(request.body))
    if kind == "multipart/form-data":
        return _first_values(_multipart(request))
    raise UnsupportedMediaType(
        N_("Send application/json, application/x-www-form-urlencoded or multipart/form-data.")
    )


def _json_fields(body: bytes) -> dict[str, Any]:
    try:
        data = parse_json(body or b"")
    except JsonTooDeep:
        # Formatted, so not in the catalogs: other languages get the translated "Bad request.".
        raise BadRequest(f"The body is nested more than {MAX_DEPTH} levels deep.") from None
    except JsonError:
        raise BadRequest(N_("The body is not valid JSON.")) from None
    if not isinstance(data, dict):
        raise BadRequest(N_("The body must be a JSON object."))
    return data


def _urlencoded(body: bytes) -> dict[str, list[str]]:
    try:
        # Strict: a byte, or a percent-escape, that is not UTF-8 is a broken form.
        return parse_qs(body.decode("utf-8"), errors="strict")
    except UnicodeDecodeError:
        raise BadRequest(N_("The form body is not valid UTF-8.")) from None


def _multipart(request: Request) -> dict[str, list[str]]:
    _, options = parse_content_header(request.headers.get("content-type", ""))
    boundary = options.get("boundary")
    if not isinstance(boundary, str) or not boundary:
        raise BadRequest(N_("A multipart/form-data body needs a boundary in its Content-Type."))
    try:
        fields, files = parse_multipart_form(
            request.body, boundary.encode("utf-8", "surrogateescape")
        )
    except (ValueError, LookupError):
        # A part without a colon in a header line, text that is not in its charset...
        raise BadRequest(N_("The multipart body is malformed.")) from None
    if files:
        raise UnsupportedMediaType(N_("File uploads are not accepted."))
    return fields


def _first_values(fields: dict[str, list[str]]) -> dict[str, Any]:
    # A repeated field keeps its first value, as a browser form would mean it.
    return {name: values[0] for name, values in fields.items() if values}

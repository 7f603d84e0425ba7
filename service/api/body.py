"""Read a request body into a flat dict of fields, whatever the form's encoding.

JSON (``application/json``), a plain HTML form (``application/x-www-form-urlencoded``)
and ``multipart/form-data`` without files are accepted; anything else is a 415.
"""

from __future__ import annotations

import json
from typing import Any

from sanic import Request
from sanic.exceptions import BadRequest, PayloadTooLarge, SanicException

from service.i18n import N_

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
    if len(request.body) > request.app.config.REQUEST_MAX_SIZE:
        raise PayloadTooLarge(N_("Request body exceeds the size limit"))
    kind = media_type(request)
    if kind == "application/json" or kind.endswith("+json"):
        try:
            data = json.loads(request.body or b"")
        except ValueError:
            raise BadRequest(N_("The body is not valid JSON.")) from None
        if not isinstance(data, dict):
            raise BadRequest(N_("The body must be a JSON object."))
        return data
    if kind in ("application/x-www-form-urlencoded", "multipart/form-data"):
        if request.files:
            raise UnsupportedMediaType(N_("File uploads are not accepted."))
        # A repeated field keeps its first value, as a browser form would mean it.
        return {name: values[0] for name, values in request.form.items() if values}
    raise UnsupportedMediaType(
        N_("Send application/json, application/x-www-form-urlencoded or multipart/form-data.")
    )

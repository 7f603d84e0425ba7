"""Bearer-token checks for the operator endpoints (``/metrics``, later the admin API)."""

from __future__ import annotations

import hmac

from pydantic import SecretStr
from sanic import HTTPResponse, Request

from service.api.errors import error_response

__all__ = ["check_bearer"]


def check_bearer(request: Request, token: SecretStr | None) -> HTTPResponse | None:
    """``None`` when ``token`` is unset or the request carries it; else the 401 or 403 answer.

    The comparison takes the same time whatever the token sent, so it leaks nothing
    about how much of it was right. It compares the bytes as sent: Sanic decodes a
    header byte that is not UTF-8 into a lone surrogate, which ``surrogateescape``
    turns back into that byte (a plain ``encode()`` would raise).
    """
    if token is None:
        return None
    scheme, _, offered = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not offered.strip():
        return error_response(
            request,
            401,
            "A bearer token is required.",
            headers={"WWW-Authenticate": 'Bearer realm="contact-mailer"'},
        )
    expected = token.get_secret_value().encode()
    if not hmac.compare_digest(offered.strip().encode("utf-8", "surrogateescape"), expected):
        return error_response(request, 403, "This token is not allowed here.")
    return None

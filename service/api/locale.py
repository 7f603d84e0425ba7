"""The language of one request's answers: negotiated once, remembered, and stamped on them.

:func:`service.i18n.negotiate` decides; this module only gathers what it
decides from: the submission's ``locale`` field, else ``?locale=``; the
form's locale when the caller has one; ``Accept-Language``; ``DEFAULT_LOCALE``.
"""

from __future__ import annotations

from typing import Any

from sanic import HTTPResponse, Request

from service.i18n import LOCALE_FIELD, negotiate

__all__ = ["current_locale", "header_locale", "request_locale", "stamp_locale"]


def request_locale(
    request: Request, fields: dict[str, Any] | None = None, *, form_locale: str | None = None
) -> str:
    """Negotiate this request's language and remember it for every answer it gets.

    ``fields`` are the submitted fields once read; ``form_locale`` is the
    form's configured language (forms without one pass ``None``).
    """
    explicit = (fields or {}).get(LOCALE_FIELD) or request.args.get(LOCALE_FIELD)
    locale = negotiate(
        explicit=explicit,
        form=form_locale,
        accept_language=request.headers.get("accept-language"),
        default=request.app.ctx.settings.default_locale,
    )
    request.ctx.locale = locale
    return locale


def header_locale(request: Request) -> str:
    """The language this request's headers alone lead to (``Accept-Language``, the default)."""
    return negotiate(
        accept_language=request.headers.get("accept-language"),
        default=request.app.ctx.settings.default_locale,
    )


def current_locale(request: Request) -> str:
    """The language negotiated for this request, negotiating it from its headers if not yet."""
    locale: str | None = getattr(request.ctx, "locale", None)
    return locale if locale is not None else request_locale(request)


def stamp_locale(response: HTTPResponse, locale: str) -> HTTPResponse:
    """Say which language the answer is in, and that it depends on ``Accept-Language``."""
    response.headers["Content-Language"] = locale
    vary = response.headers.get("vary")
    if vary is None:
        response.headers["Vary"] = "Accept-Language"
    elif "accept-language" not in vary.lower():
        response.headers["Vary"] = f"{vary}, Accept-Language"
    return response

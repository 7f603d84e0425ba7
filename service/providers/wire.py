"""An HTTP API call as plain data, and the shared client that sends it.

What every HTTP provider (:mod:`service.providers.http`) builds on and its
tests inspect without a network: :class:`HttpRequest` (the exact bytes signed
and sent), :func:`make_http_client` (the one client a worker shares), reading
an answer (:func:`parse_retry_after`, :func:`json_body`, :func:`plain_reason`,
:func:`short`) and writing addresses for APIs that take header-style strings.
"""

from __future__ import annotations

import functools
import json as jsonlib
import math
import os
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.headerregistry import Address
from email.utils import formataddr, parsedate_to_datetime
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlencode

import httpx

from service.jsonparse import JsonError, parse_json

if TYPE_CHECKING:
    from service.config import Settings

__all__ = [
    "USER_AGENT",
    "ErrorDetail",
    "HttpRequest",
    "format_address",
    "json_body",
    "make_http_client",
    "needs_quoting",
    "parse_retry_after",
    "plain_reason",
    "short",
]

USER_AGENT = "contact-mailer/0.1 (+httpx)"

_DETAIL_LIMIT = 200


def make_http_client(settings: Settings) -> httpx.AsyncClient:
    """The one ``httpx.AsyncClient`` a worker shares between all HTTP providers.

    Every phase (connect, read, write, waiting for a pooled connection) is
    bounded by ``HTTP_TIMEOUT``. Redirects are not followed: an API that
    redirects a POST is misconfigured, and following it could resend the key
    elsewhere. Certificates are verified against certifi's bundle, or the one
    ``SSL_CERT_FILE`` names.
    """
    seconds = settings.http_timeout
    return httpx.AsyncClient(
        timeout=httpx.Timeout(connect=seconds, read=seconds, write=seconds, pool=seconds),
        headers={"User-Agent": USER_AGENT},
        follow_redirects=False,
        verify=_tls_context(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")),
    )


@functools.lru_cache(maxsize=4)
def _tls_context(cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
    """httpx's default context, loaded once per CA setting rather than once per client.

    Loading the CA bundle costs about 36 ms; ``python -m service`` builds a client
    to check the providers and each worker one to send, and forked workers now
    share the context the main process loaded. The arguments are the cache key:
    httpx reads the same variables itself.
    """
    del cert_file, cert_dir
    return httpx.create_ssl_context()


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """One API call as plain data: what :meth:`HttpProvider.deliver` will send.

    At most one of ``json`` (a JSON body) and ``form`` (an
    ``application/x-www-form-urlencoded`` body; a list value repeats the field)
    is given; it is serialised once, here, into ``body`` (UTF-8 JSON without
    spaces, as httpx writes it) with its ``Content-Type`` added to ``headers``.
    Those bytes are what is signed and sent. Headers and body stay out of
    ``repr`` because they hold keys and the email.
    """

    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    json: Any = field(default=None, repr=False)
    form: Mapping[str, str | Sequence[str]] | None = field(default=None, repr=False)
    body: bytes = field(default=b"", repr=False)

    def __post_init__(self) -> None:
        if self.body or (self.json is None and self.form is None):
            return  # already serialised (a copy with more headers), or no body
        if self.json is not None and self.form is not None:
            raise ValueError("an HttpRequest has a JSON body or a form, not both")
        if self.json is not None:
            content_type = "application/json"
            body = jsonlib.dumps(
                self.json, ensure_ascii=False, separators=(",", ":"), allow_nan=False
            ).encode("utf-8")
        else:
            content_type = "application/x-www-form-urlencoded"
            body = urlencode(dict(self.form or {}), doseq=True).encode("ascii")
        object.__setattr__(self, "body", body)
        object.__setattr__(self, "headers", {**self.headers, "Content-Type": content_type})

    def with_headers(self, headers: Mapping[str, str]) -> HttpRequest:
        """The same request, body bytes untouched, with ``headers`` added."""
        return replace(self, headers={**self.headers, **headers})


class ErrorDetail(NamedTuple):
    """What an error answer says: the provider's error name or code, and its short text."""

    code: str | int | None
    text: str


def parse_retry_after(
    value: str | None, *, cap: float, now: datetime | None = None
) -> float | None:
    """Seconds to wait from an HTTP ``Retry-After`` value, at most ``cap``.

    Accepts delay-seconds (``"120"``) and an HTTP-date
    (``"Wed, 21 Oct 2015 07:28:00 GMT"``; a date already past means 0).
    Returns ``None`` for a missing, negative or unparsable value, so a broken
    header never means "retry at once" nor "wait forever".
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        seconds = _seconds_until(text, now or datetime.now(UTC))
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return None
    return min(seconds, cap)


def _seconds_until(http_date: str, now: datetime) -> float | None:
    try:
        when = parsedate_to_datetime(http_date)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def format_address(address: Address) -> str:
    """An address as an ASCII RFC 5322 mailbox, for APIs that take header-style strings.

    A non-ASCII display name becomes an RFC 2047 encoded word
    (``=?utf-8?b?...?= <zoe@example.com>``); one with specials such as a comma
    is quoted. Without a display name it is the bare address.
    """
    return formataddr((address.display_name, address.addr_spec))


def needs_quoting(display_name: str) -> bool:
    """True when a display name must be a quoted-string in an RFC 5322 phrase."""
    mailbox = Address(display_name=display_name, addr_spec="x@example.invalid")
    return str(mailbox).startswith('"')


def json_body(response: httpx.Response) -> Any:
    """The decoded JSON body, or ``None`` when it is empty, not JSON or absurdly nested."""
    try:
        return parse_json(response.content)
    except JsonError:
        return None


def short(text: str) -> str:
    """One line of at most 200 characters: enough to recognise an error, no more."""
    line = " ".join(text.split())
    return line if len(line) <= _DETAIL_LIMIT else line[: _DETAIL_LIMIT - 1] + "…"


def plain_reason(response: httpx.Response) -> str:
    """A short text for a non-JSON answer: a ``text/plain`` body's first line, else the reason.

    HTML error pages from proxies are never copied into messages.
    """
    content_type = response.headers.get("Content-Type", "")
    if content_type.startswith("text/plain") and response.text.strip():
        return short(response.text.strip().splitlines()[0])
    return response.reason_phrase or "no details"

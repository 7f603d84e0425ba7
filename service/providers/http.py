"""The base shared by the HTTP email APIs (Resend, Postmark, SendGrid, Mailgun).

Each provider splits sending into two pure steps around one I/O call, in the
style of django-anymail's backends:

* :meth:`HttpProvider.build_request` turns an email into an :class:`HttpRequest`,
  plain data that tests can inspect without any network;
* :meth:`HttpProvider.deliver` sends it through the app's shared
  ``httpx.AsyncClient`` (made by :func:`make_http_client` in
  ``before_server_start``, closed in ``after_server_stop``);
* :meth:`HttpProvider.parse_response` turns the answer into a
  :class:`~service.providers.base.SendResult` or one kind of
  :class:`~service.providers.errors.SendError`.

What each answer means is decided here, in :meth:`HttpProvider.classify`;
providers refine it only by their own error names or codes:

==========================================  ==========================  ===========================
answer                                      kind                        why
==========================================  ==========================  ===========================
429, 408, 425                               TransientError              slow down and ask again;
                                                                        ``Retry-After`` is honoured
500, 502, 503, 504                          TransientError              the provider's own hiccup
409                                         TransientError              an idempotent request with
                                                                        the same key is in progress
401, 403, 407                               ProviderUnavailable         credentials or account;
                                                                        retrying earns a lockout
404, 405, other 5xx, 1xx/3xx, odd 2xx       ProviderUnavailable         wrong base URL or not the
                                                                        API we think; every email
                                                                        would fail the same way
400, 413, 422 and other 4xx                 MessageRejected             the payload itself is bad
``httpx.TimeoutException``                  TransientError              connect, read, write or
                                                                        pool timeout
``httpx.ConnectError``                      ProviderUnavailable         refused, DNS, TLS failure:
                                                                        nothing reached the API
``httpx.ReadError`` / ``WriteError`` /      TransientError              connection dropped mid-way
``RemoteProtocolError``
any other exception                         ProviderUnavailable         (see :mod:`.base`)
==========================================  ==========================  ===========================

``python -m service check`` makes one authenticated read-only call per
provider instead (:meth:`HttpProvider.check_request`, documented in each
provider's module), read by :meth:`HttpProvider.parse_check`: the same table
applies, except that a refusal is never ``MessageRejected`` (a read carries no
message to refuse; it means the key or the account).

A read timeout or a dropped connection may hide a request the provider did
process, so retrying can deliver twice; only Resend offers an idempotency key
to prevent that.

Error messages carry the provider's short error name and text (at most 200
characters; HTML error pages are replaced by the reason phrase), never the
API key (redacted should a provider echo it) nor the subject or body.
"""

from __future__ import annotations

import math
import re
from abc import abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.headerregistry import Address
from email.utils import formataddr, parsedate_to_datetime
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

import httpx
from pydantic import SecretStr

from service.config import ConfigError
from service.jsonparse import JsonError, parse_json
from service.providers.base import Provider, SendResult
from service.providers.errors import (
    MessageRejected,
    ProviderUnavailable,
    SendError,
    TransientError,
)

if TYPE_CHECKING:
    from service.config import Settings
    from service.message import OutgoingEmail

__all__ = [
    "RESERVED_HEADERS",
    "ErrorDetail",
    "HttpProvider",
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

# A provider's Retry-After is kept up to an hour (the outbox's longest backoff);
# the chain compares it with its retry budget and fails over when it is longer.
RETRY_AFTER_CAP_SECONDS = 3600.0

# Headers every HTTP API sets from its own fields; an extra header with one of
# these names would be a second, conflicting copy.
RESERVED_HEADERS = frozenset(
    {
        "bcc",
        "cc",
        "content-transfer-encoding",
        "content-type",
        "date",
        "from",
        "message-id",
        "mime-version",
        "reply-to",
        "return-path",
        "sender",
        "subject",
        "to",
    }
)

_TRANSIENT_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
_UNAVAILABLE_STATUSES = frozenset({401, 403, 404, 405, 407})
_HEADER_NAME = re.compile(r"^[!-9;-~]+$")  # RFC 5322 ftext: printable ASCII except ":"
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
    )


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """One API call as plain data: what :meth:`HttpProvider.deliver` will send.

    Exactly one of ``json`` (a JSON body) and ``form`` (an
    ``application/x-www-form-urlencoded`` body; a list value repeats the field)
    is set. Headers and body stay out of ``repr`` because they hold the API key
    and the email.
    """

    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    json: Any = field(default=None, repr=False)
    form: Mapping[str, str | Sequence[str]] | None = field(default=None, repr=False)


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


class HttpProvider(Provider):
    """Base for providers that send through one HTTP API call per email.

    Subclasses set ``name``, implement :meth:`from_settings`,
    :meth:`build_request`, :meth:`accepted` and usually
    :meth:`error_detail`, and refine :meth:`classify` for their own error codes.
    """

    #: Extra header names (lower case) this API refuses besides :data:`RESERVED_HEADERS`.
    reserved_headers: ClassVar[frozenset[str]] = frozenset()

    def __init__(
        self,
        *,
        api_key: SecretStr,
        base_url: str,
        client: httpx.AsyncClient,
    ) -> None:
        self.api_key = api_key
        self.base_url = base_url.rstrip("/")
        self.client = client

    @staticmethod
    def shared_client(shared: Mapping[str, object], provider: str) -> httpx.AsyncClient:
        """The app's ``http_client`` from ``from_settings(**shared)``; refuse to run without it."""
        client = shared.get("http_client")
        if not isinstance(client, httpx.AsyncClient):
            raise TypeError(
                f"the {provider!r} provider needs the app's shared http_client "
                "(build_providers(settings, http_client=make_http_client(settings)))"
            )
        return client

    @staticmethod
    def required_secret(value: SecretStr | None, variable: str, provider: str) -> SecretStr:
        """A credential the provider cannot work without, or a :class:`ConfigError` naming it."""
        if value is None or not value.get_secret_value():
            raise ConfigError(f"{variable}: required by the {provider!r} provider")
        return value

    # Building the request (pure)

    @abstractmethod
    def build_request(self, email: OutgoingEmail) -> HttpRequest:
        """The API call that sends ``email``; no I/O. May raise a :class:`SendError`."""

    def extra_headers(self, email: OutgoingEmail) -> dict[str, str]:
        """``email.headers``, checked: a header this API cannot carry fails loudly.

        Names must be RFC 5322 field names and not one the API sets itself;
        values must be single-line ASCII (the APIs differ in how, or whether,
        they encode anything else). Failing is
        :class:`~service.providers.errors.ProviderUnavailable`: another
        provider (SMTP) can still send the email.
        """
        reserved = RESERVED_HEADERS | self.reserved_headers
        headers: dict[str, str] = {}
        for name, value in email.headers.items():
            if not _HEADER_NAME.match(name) or name.lower() in reserved:
                raise self.unsupported(f"header {name!r} cannot be set through this API")
            if not value.isascii() or "\r" in value or "\n" in value:
                raise self.unsupported(f"header {name!r} must be one line of ASCII")
            headers[name] = value
        return headers

    def unsupported(self, what: str) -> ProviderUnavailable:
        """The error for an email this API cannot express, so that the chain fails over."""
        return ProviderUnavailable(what, provider=self.name, code="unsupported")

    def url(self, path: str) -> str:
        """``path`` under the configured base URL."""
        return f"{self.base_url}/{path.lstrip('/')}"

    # Sending (the only I/O)

    async def deliver(self, email: OutgoingEmail) -> SendResult:
        request = self.build_request(email)
        response = await self.client.request(
            request.method,
            request.url,
            headers=dict(request.headers),
            json=request.json,
            data=dict(request.form) if request.form is not None else None,
        )
        return self.parse_response(response)

    def translate(self, error: Exception) -> SendError:
        # ConnectError is a NetworkError too: test it first.
        if isinstance(error, httpx.TimeoutException):
            return TransientError(
                f"no answer within the timeout ({type(error).__name__})",
                provider=self.name,
                code=type(error).__name__,
            )
        if isinstance(error, httpx.ConnectError):
            return ProviderUnavailable(
                f"cannot connect: {error}", provider=self.name, code=type(error).__name__
            )
        if isinstance(error, httpx.NetworkError | httpx.RemoteProtocolError):
            return TransientError(
                f"connection dropped: {error}", provider=self.name, code=type(error).__name__
            )
        if isinstance(error, httpx.HTTPError):
            return ProviderUnavailable(
                f"HTTP client error: {error}", provider=self.name, code=type(error).__name__
            )
        return super().translate(error)

    # Checking without sending

    @abstractmethod
    def check_request(self) -> HttpRequest:
        """The provider's documented authenticated read-only call; no I/O."""

    @abstractmethod
    def check_passed(self, response: httpx.Response) -> str | None:
        """What a 2xx answer to :meth:`check_request` proves, or ``None`` for an odd answer.

        May raise a :class:`SendError` when the answer shows sending would fail
        (a key without the send permission, a disabled domain).
        """

    async def probe(self) -> str:
        request = self.check_request()
        response = await self.client.request(
            request.method, request.url, headers=dict(request.headers)
        )
        return self.parse_check(response)

    def parse_check(self, response: httpx.Response) -> str:
        """What the check proved; raise a :class:`SendError` when it failed."""
        if not response.is_success:
            raise self.check_error(response)
        proven = self.check_passed(response)
        if proven is None:
            raise ProviderUnavailable(
                f"unexpected HTTP {response.status_code} answer to the check",
                provider=self.name,
                code=response.status_code,
            )
        return proven

    def check_error(self, response: httpx.Response) -> SendError:
        """The error an error answer to the check stands for (see the module docstring)."""
        error = self.error_from(response)
        if isinstance(error, MessageRejected):
            return ProviderUnavailable(
                Exception.__str__(error), provider=self.name, code=error.code
            )
        return error

    # Reading the answer (pure)

    def parse_response(self, response: httpx.Response) -> SendResult:
        """A :class:`SendResult` for an accepted email; raise a :class:`SendError` otherwise."""
        if not response.is_success:
            raise self.error_from(response)
        result = self.accepted(response)
        if result is None:
            # Not the API we think (Mailgun answers 200 "Mailgun Magnificent
            # API" for a wrong path): treat like any wrong endpoint.
            raise ProviderUnavailable(
                f"unexpected HTTP {response.status_code} answer",
                provider=self.name,
                code=response.status_code,
            )
        return result

    @abstractmethod
    def accepted(self, response: httpx.Response) -> SendResult | None:
        """The result for a 2xx answer as documented, or ``None`` for any other 2xx answer."""

    def error_from(self, response: httpx.Response) -> SendError:
        """The :class:`SendError` an error answer stands for (see the module table)."""
        detail = self.error_detail(response)
        kind = self.classify(response.status_code, detail.code)
        code = detail.code if detail.code is not None else response.status_code
        message = self._redact(f"HTTP {response.status_code}: {detail.text}")
        if kind is TransientError:
            retry_after = parse_retry_after(
                response.headers.get("Retry-After"), cap=RETRY_AFTER_CAP_SECONDS
            )
            return TransientError(message, provider=self.name, code=code, retry_after=retry_after)
        return kind(message, provider=self.name, code=code)

    def classify(self, status: int, code: str | int | None) -> type[SendError]:
        """Which kind of error an HTTP status means; subclasses refine by ``code`` first."""
        if status in _TRANSIENT_STATUSES:
            return TransientError
        if status in _UNAVAILABLE_STATUSES or not 400 <= status < 500:
            return ProviderUnavailable
        return MessageRejected

    def error_detail(self, response: httpx.Response) -> ErrorDetail:
        """The provider's error name and text; by default JSON ``message``, else the reason."""
        body = json_body(response)
        if isinstance(body, Mapping) and isinstance(body.get("message"), str):
            return ErrorDetail(None, short(body["message"]))
        return ErrorDetail(None, plain_reason(response))

    def _redact(self, text: str) -> str:
        secret = self.api_key.get_secret_value()
        return text.replace(secret, "[redacted]") if secret else text


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

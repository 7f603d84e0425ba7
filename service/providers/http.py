"""The base shared by the HTTP email APIs (every provider but ``smtp`` and ``file``).

Each provider splits sending into pure steps around one I/O call, in the
style of django-anymail's backends:

* :meth:`HttpProvider.build_request` turns an email into an :class:`HttpRequest`,
  plain data that tests can inspect without any network. The request
  serialises its body once (JSON or a form) and keeps those exact bytes;
* :meth:`HttpProvider.authorize` adds the headers of
  :meth:`HttpProvider.auth_headers`, the one place a provider builds its
  authentication, for sending and checking alike. It sees the final method,
  URL, headers and body bytes, so a provider that signs requests (SigV4, HMAC)
  signs exactly what is sent;
* :meth:`HttpProvider.deliver` sends those bytes through the app's shared
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
characters; HTML error pages are replaced by the reason phrase), never a
secret of the provider (each declared secret is redacted should a provider
echo it, :meth:`~service.providers.base.Provider.redacted`) nor the subject or body.

A provider built on this base declares its settings in
``service/providers/catalog/<name>.py`` (with a ``base_url`` field) and
implements :meth:`HttpProvider.build_request`, :meth:`HttpProvider.auth_headers`,
:meth:`HttpProvider.check_request` and :meth:`HttpProvider.check_passed`;
:meth:`HttpProvider.from_settings` and :meth:`HttpProvider.accepted` are
shared (set ``message_id_path``, ``message_id_header`` or ``accepted_statuses``).
"""

from __future__ import annotations

import functools
import json as jsonlib
import math
import os
import re
import ssl
from abc import abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.headerregistry import Address
from email.utils import formataddr, parsedate_to_datetime
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple, Self
from urllib.parse import urlencode

import httpx

from service.jsonparse import JsonError, parse_json
from service.providers.base import Provider, ProviderSettings, SendResult, redact
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
    "OUTBOX_ID_KEY",
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

OUTBOX_ID_KEY = "outbox_id"
"""The metadata key (tag, custom argument, variable) carrying the stored email's id.

Each HTTP provider sends it where its API lets a sender attach data that its
delivery webhooks echo back, so an event names the email it is about.
"""


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


class HttpProvider(Provider):
    """Base for providers that send through one HTTP API call per email.

    Subclasses set ``declaration``, implement :meth:`build_request`,
    :meth:`auth_headers`, :meth:`check_request` and :meth:`check_passed`, say
    where an accepted email's id is (``message_id_path`` ...), usually
    implement :meth:`error_detail`, and refine :meth:`classify` for their own
    error codes. ``options`` is the provider's declared settings group.
    """

    #: Extra header names (lower case) this API refuses besides :data:`RESERVED_HEADERS`.
    reserved_headers: ClassVar[frozenset[str]] = frozenset()
    #: The statuses that mean "accepted"; ``None`` for any 2xx.
    accepted_statuses: ClassVar[frozenset[int] | None] = None
    #: Keys leading to the provider's id in a JSON answer (``("id",)``); ``None``: no body.
    message_id_path: ClassVar[tuple[str, ...] | None] = ("id",)
    #: A response header carrying the provider's id instead (optional in the answer).
    message_id_header: ClassVar[str | None] = None

    def __init__(self, *, options: ProviderSettings, client: httpx.AsyncClient) -> None:
        self.options = options
        self.base_url = self.api_base(options).rstrip("/")
        self.client = client

    def api_base(self, options: ProviderSettings) -> str:
        """The API's base URL: the declared ``base_url`` (a provider may derive it instead)."""
        return str(getattr(options, "base_url"))  # noqa: B009 - not every declaration has one

    @classmethod
    def from_settings(cls, settings: Settings, **shared: object) -> Self:
        """The provider on its declared settings and the app's shared ``http_client``."""
        return cls(
            options=settings.provider_group(cls.name),
            client=cls.shared_client(shared, cls.name),
        )

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

    def secrets(self) -> tuple[str, ...]:
        """Every secret the declaration holds (keys, tokens), never to be shown."""
        return self.options.secret_values()

    # Building the request (pure)

    @abstractmethod
    def build_request(self, email: OutgoingEmail) -> HttpRequest:
        """The API call that sends ``email``, without authentication; no I/O.

        May raise a :class:`SendError`.
        """

    @abstractmethod
    async def auth_headers(self, request: HttpRequest) -> dict[str, str]:
        """The headers that authenticate ``request``, whose body bytes are final.

        Async so that a provider may fetch or refresh a token here (a managed
        identity, refreshable cloud credentials); a static key just returns.
        """

    async def authorize(self, request: HttpRequest) -> HttpRequest:
        """``request`` as it is sent: with :meth:`auth_headers`, body untouched."""
        return request.with_headers(await self.auth_headers(request))

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
        return self.parse_response(await self.call(self.build_request(email)))

    async def call(self, request: HttpRequest) -> httpx.Response:
        """Authorize ``request`` and send exactly its bytes; the only I/O."""
        sent = await self.authorize(request)
        return await self.client.request(
            sent.method, sent.url, headers=dict(sent.headers), content=sent.body or None
        )

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
        """The provider's documented read-only call, without authentication; no I/O."""

    @abstractmethod
    def check_passed(self, response: httpx.Response) -> str | None:
        """What a 2xx answer to :meth:`check_request` proves, or ``None`` for an odd answer.

        May raise a :class:`SendError` when the answer shows sending would fail
        (a key without the send permission, a disabled domain).
        """

    async def probe(self) -> str:
        return self.parse_check(await self.call(self.check_request()))

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

    def accepted(self, response: httpx.Response) -> SendResult | None:
        """The result for a 2xx answer as documented, or ``None`` for any other 2xx answer.

        By default: the status is one of ``accepted_statuses``, and the id is
        the non-empty string at ``message_id_path`` in the JSON body (required)
        or the ``message_id_header`` (optional). Override for anything else.
        """
        statuses = self.accepted_statuses
        if statuses is not None and response.status_code not in statuses:
            return None
        message_id: str | None = None
        if self.message_id_path is not None:
            found: Any = json_body(response)
            for key in self.message_id_path:
                found = found.get(key) if isinstance(found, Mapping) else None
            if not isinstance(found, str) or not found:
                return None
            message_id = found
        if self.message_id_header is not None:
            message_id = response.headers.get(self.message_id_header) or message_id
        return SendResult(provider=self.name, message_id=message_id)

    def error_from(self, response: httpx.Response) -> SendError:
        """The :class:`SendError` an error answer stands for (see the module table)."""
        detail = self.error_detail(self._without_secrets(response))
        kind = self.classify(response.status_code, detail.code)
        code = detail.code if detail.code is not None else response.status_code
        message = f"HTTP {response.status_code}: {detail.text}"
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

    def _without_secrets(self, response: httpx.Response) -> httpx.Response:
        # An echoed secret goes before the text is cut to length: no part of it survives.
        text = response.text
        clean = redact(text, self.secrets())
        if clean == text:
            return response
        headers = {
            name: value
            for name, value in response.headers.items()
            if name.lower() not in ("content-encoding", "content-length", "transfer-encoding")
        }
        return httpx.Response(
            response.status_code, headers=headers, content=clean.encode(), request=response.request
        )

    def error_detail(self, response: httpx.Response) -> ErrorDetail:
        """The provider's error name and text; by default JSON ``message``, else the reason."""
        body = json_body(response)
        if isinstance(body, Mapping) and isinstance(body.get("message"), str):
            return ErrorDetail(None, short(body["message"]))
        return ErrorDetail(None, plain_reason(response))


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

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
The request value, the shared client and the answer readers live in
:mod:`service.providers.wire` (re-exported here for the providers).
"""

from __future__ import annotations

import re
from abc import abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Self

import httpx

from service.providers.base import Provider, ProviderSettings, SendResult, redact
from service.providers.errors import (
    MessageRejected,
    ProviderUnavailable,
    SendError,
    TransientError,
)
from service.providers.wire import (
    ErrorDetail,
    HttpRequest,
    format_address,
    json_body,
    make_http_client,
    needs_quoting,
    parse_retry_after,
    plain_reason,
    short,
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

# A provider's Retry-After is kept up to an hour (the outbox's longest backoff);
# the chain compares it with its retry budget and fails over when it is longer.
RETRY_AFTER_CAP_SECONDS = 3600.0

# Headers every HTTP API sets from its own fields; an extra header with one of
# these names would be a second, conflicting copy.
# fmt: off
RESERVED_HEADERS = frozenset({
    "bcc", "cc", "content-transfer-encoding", "content-type", "date", "from", "message-id",
    "mime-version", "reply-to", "return-path", "sender", "subject", "to",
})
# fmt: on

_TRANSIENT_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
_UNAVAILABLE_STATUSES = frozenset({401, 403, 404, 405, 407})
_HEADER_NAME = re.compile(r"^[!-9;-~]+$")  # RFC 5322 ftext: printable ASCII except ":"

OUTBOX_ID_KEY = "outbox_id"
"""The metadata key (tag, custom argument, variable) carrying the stored email's id.

Each HTTP provider sends it where its API lets a sender attach data that its
delivery webhooks echo back, so an event names the email it is about.
"""


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

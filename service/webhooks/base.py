"""What a provider's delivery webhook is: a verifier and a parser, nothing else.

Each provider's webhook lives in its own module, ``service/providers/<name>_webhook.py``,
named by its declaration (``webhook = "module:Class"`` next to ``webhook_secret``).
It is a separate module from the provider's sending implementation because
the two share nothing but the declaration, and because it is imported only
when its secret is configured: a service that only sends through Resend never
imports svix, one without SendGrid webhooks never loads ``cryptography``'s EC code.

A :class:`ProviderWebhook` does two things, both pure (no I/O, no store):

* :meth:`ProviderWebhook.verify` checks the provider's documented
  authentication over the raw request and returns the signed time, if the
  scheme signs one; it raises :class:`Unauthorized` otherwise. It runs before
  anything is parsed, except where the signature is itself inside the body
  (Mailgun, Amazon SNS), which :meth:`WebhookRequest.json` parses with a depth bound;
* :meth:`ProviderWebhook.events` turns the verified body into
  :class:`~service.outbox.delivery.DeliveryEvent` values; an event type the
  service does not track (opens, clicks) yields ``None`` and is acknowledged.

Two optional steps are for schemes that need more than the request (both
default to nothing, and both get the app's shared ``httpx`` client, opened in
``before_server_start``): :meth:`ProviderWebhook.fetch` runs before ``verify``
and fetches what it needs (Amazon SNS's signing certificate, cached), so that
``verify`` itself stays pure; :meth:`ProviderWebhook.handshake` runs after it
and answers a subscription handshake (Event Grid's validation code, SNS's
subscription confirmation) instead of reading events.

Everything else (the route, the size limit, the replay window, deduplication,
matching, recording, logs and metrics) is written once, in
:mod:`service.webhooks.receive`.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Self

from service.jsonparse import JsonError, parse_json

if TYPE_CHECKING:
    import httpx

    from service.outbox.delivery import DeliveryEvent
    from service.providers.base import ProviderSettings

__all__ = [
    "BasicCredentialsWebhook",
    "Malformed",
    "ProviderWebhook",
    "Unauthorized",
    "WebhookRefused",
    "WebhookRequest",
    "basic_credentials",
    "bearer_token",
    "constant_time_equal",
    "from_iso",
    "from_unix",
    "object_or_objects",
    "require_object",
    "short_reason",
    "text_field",
]

_REASON_LIMIT = 200


class WebhookRefused(Exception):
    """The request is refused with ``status``; the message is safe to answer (no secret)."""

    status: ClassVar[int] = 400


class Unauthorized(WebhookRefused):
    """Missing or wrong signature or credentials, or a signed time outside the window."""

    status = 401


class Malformed(WebhookRefused):
    """The body is not what the provider documents (not JSON, wrong shape)."""

    status = 400


@dataclass(frozen=True)
class WebhookRequest:
    """The parts of an HTTP request a webhook may look at: headers (lower-case names), body.

    ``query`` holds the URL's query arguments (the first value of each), for a
    scheme that puts its secret there (Event Grid).
    """

    headers: Mapping[str, str]
    body: bytes
    query: Mapping[str, str] = field(default_factory=dict)
    _parsed: list[Any] = field(default_factory=list, repr=False, compare=False)

    def header(self, name: str) -> str | None:
        """One header's value, by case-insensitive name."""
        return self.headers.get(name.lower())

    def json(self) -> Any:
        """The body as JSON, parsed once with a depth bound; :class:`Malformed` if it is not."""
        if not self._parsed:
            try:
                self._parsed.append(parse_json(self.body))
            except JsonError as err:
                raise Malformed(f"the body is not acceptable JSON: {err}") from None
        return self._parsed[0]


class ProviderWebhook(ABC):
    """One provider's webhook: built from its declared settings, then verify and parse."""

    #: The provider's name (``declaration.name``).
    name: ClassVar[str]

    @classmethod
    @abstractmethod
    def from_settings(cls, options: ProviderSettings) -> Self:
        """Build from the provider's settings group; ``ValueError`` for an unusable secret."""

    @abstractmethod
    def verify(self, request: WebhookRequest) -> datetime | None:
        """Check the request's authentication; return the signed time (``None``: none signed).

        Raises :class:`Unauthorized` (or :class:`Malformed` when the body that carries
        the signature is not JSON).
        """

    @abstractmethod
    def events(self, request: WebhookRequest) -> Iterable[DeliveryEvent | None]:
        """The verified request's events; ``None`` for each one of a type not tracked.

        Raises :class:`Malformed` when the body is not the documented shape.
        """

    async def fetch(self, request: WebhookRequest, client: httpx.AsyncClient) -> None:  # noqa: B027
        """Fetch what :meth:`verify` needs, through the app's client; nothing by default.

        Raises :class:`WebhookRefused` when it cannot be fetched.
        """

    async def handshake(
        self, request: WebhookRequest, client: httpx.AsyncClient
    ) -> Mapping[str, Any] | None:
        """After :meth:`verify`: the answer to a subscription handshake, or ``None`` (events)."""
        return None


class BasicCredentialsWebhook(ProviderWebhook):
    """A provider that signs nothing but sends ``Authorization: Basic`` (Postmark, SparkPost...).

    The credentials are the ``user:password`` written in the webhook's URL or
    settings, read from the declaration's ``webhook_auth`` field and compared
    in constant time. No time is signed: replays are caught by the event id.
    """

    def __init__(self, credentials: str) -> None:
        if ":" not in credentials:
            raise ValueError("must be user:password")
        self._expected = credentials.encode("utf-8")

    @classmethod
    def from_settings(cls, options: ProviderSettings) -> Self:
        return cls(options.secret("webhook_auth"))

    def verify(self, request: WebhookRequest) -> datetime | None:
        if not constant_time_equal(basic_credentials(request), self._expected):
            raise Unauthorized("missing or wrong Basic credentials")
        return None


def constant_time_equal(given: str | bytes, expected: str | bytes) -> bool:
    """``hmac.compare_digest`` over bytes, so non-ASCII input is a mismatch, not a TypeError.

    A header's bytes that are not UTF-8 reach us as lone surrogates: encoded
    as they are ("surrogatepass"), they are a mismatch, not a UnicodeEncodeError.
    """
    left = given.encode("utf-8", "surrogatepass") if isinstance(given, str) else given
    right = expected.encode("utf-8", "surrogatepass") if isinstance(expected, str) else expected
    return hmac.compare_digest(left, right)


def basic_credentials(request: WebhookRequest) -> bytes:
    """The decoded ``user:password`` of an ``Authorization: Basic`` header; ``b""`` without one.

    For providers that authenticate with the credentials written in the webhook
    URL; compare the result with :func:`constant_time_equal`.
    """
    scheme, _, encoded = (request.header("authorization") or "").partition(" ")
    if scheme.lower() != "basic":
        return b""
    try:
        return base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return b""


def bearer_token(request: WebhookRequest) -> str:
    """The token of an ``Authorization: Bearer`` header; ``""`` without one."""
    scheme, _, token = (request.header("authorization") or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def from_unix(value: Any) -> datetime:
    """A Unix time (int, float or digits) as an aware UTC datetime; :class:`Malformed` if not."""
    try:
        seconds = float(value)
        return datetime.fromtimestamp(seconds, UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        raise Malformed("a timestamp is not a Unix time") from None


def from_iso(value: Any) -> datetime:
    """An ISO 8601 time as an aware UTC datetime (naive means UTC); :class:`Malformed` if not."""
    if not isinstance(value, str):
        raise Malformed("a time is not an ISO 8601 string")
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Malformed("a time is not an ISO 8601 string") from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def short_reason(*parts: Any) -> str:
    """The provider's reason texts joined, on one line, at most 200 characters."""
    text = " ".join(" ".join(str(part).split()) for part in parts if part not in (None, ""))
    return text if len(text) <= _REASON_LIMIT else text[: _REASON_LIMIT - 1] + "…"


def text_field(data: Mapping[str, Any], key: str) -> str | None:
    """``data[key]`` when it is a non-empty string, else ``None``."""
    value = data.get(key)
    return value if isinstance(value, str) and value else None


def object_or_objects(value: Any) -> list[Mapping[str, Any]]:
    """A body that is one event object or an array of them (batched), as a list of objects."""
    items = value if isinstance(value, list) else [value]
    return [require_object(item, "an event") for item in items]


def require_object(value: Any, what: str) -> Mapping[str, Any]:
    """``value`` when it is a JSON object; :class:`Malformed` naming ``what`` otherwise."""
    if not isinstance(value, dict):
        raise Malformed(f"{what} must be a JSON object")
    return value

"""Mailgun's webhooks: HMAC-SHA256 of ``timestamp + token`` inside the JSON body.

Format followed (pages read 2026-11-27):

* Securing webhooks — https://documentation.mailgun.com/docs/mailgun/user-manual/webhooks/securing-webhooks:
  the body carries ``signature: {"timestamp", "token", "signature"}``; the
  signature is the hex HMAC-SHA256 of the timestamp and the token
  concatenated, keyed with the account's "HTTP webhook signing key"
  (``MAILGUN_WEBHOOK_SIGNING_KEY``). The body must be parsed to find it, so it
  is parsed first with the shared depth-bounded parser, and nothing else is
  read before the signature is checked.
* Webhook payloads — https://documentation.mailgun.com/docs/mailgun/user-manual/webhooks/webhook-payloads:
  ``event-data`` with ``event`` (``delivered``, ``failed`` with ``severity``
  ``permanent`` | ``temporary``, ``complained``, ``accepted``, ``opened``...),
  ``id``, ``timestamp``, ``recipient``, ``message.headers.message-id``,
  ``delivery-status`` (``code``, ``message``, ``description``), ``reason``
  and ``user-variables``.

Normalised: delivered → delivered, failed/temporary → deferred,
failed/permanent → bounced hard, except when Mailgun never tried
(``reason`` ``suppress-bounce``, ``suppress-complaint``, ``suppress-unsubscribe``,
``old``): rejected; complained → complained; everything else is ignored.
The event id is ``event-data.id`` with its ``timestamp``; the outbox id comes back in
``user-variables`` (sent as ``v:outbox_id`` by :mod:`service.providers.mailgun`).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Self

from service.outbox.delivery import DeliveryEvent
from service.providers.http import OUTBOX_ID_KEY
from service.webhooks.base import (
    Malformed,
    ProviderWebhook,
    Unauthorized,
    WebhookRequest,
    constant_time_equal,
    from_unix,
    require_object,
    short_reason,
    text_field,
)

if TYPE_CHECKING:
    from service.providers.base import ProviderSettings

__all__ = ["MailgunWebhook", "sign"]

_NEVER_TRIED = frozenset({"suppress-bounce", "suppress-complaint", "suppress-unsubscribe", "old"})


def sign(key: str, timestamp: str, token: str) -> str:
    """Mailgun's signature: hex HMAC-SHA256 of ``timestamp + token`` keyed with ``key``."""
    return hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()


class MailgunWebhook(ProviderWebhook):
    """Checks ``signature.signature`` against the HMAC of ``timestamp + token``."""

    name = "mailgun"

    def __init__(self, signing_key: str) -> None:
        if not signing_key.strip():
            raise ValueError("is empty")
        self._key = signing_key

    @classmethod
    def from_settings(cls, options: ProviderSettings) -> Self:
        return cls(options.secret("webhook_signing_key"))

    def verify(self, request: WebhookRequest) -> datetime | None:
        body = request.json()
        signed = body.get("signature") if isinstance(body, dict) else None
        if not isinstance(signed, dict):
            raise Unauthorized("missing signature object")
        timestamp, token, given = (signed.get(k) for k in ("timestamp", "token", "signature"))
        if not all(isinstance(value, str | int) and value != "" for value in (timestamp, token)):
            raise Unauthorized("missing signature timestamp or token")
        if not isinstance(given, str):
            raise Unauthorized("missing signature")
        expected = sign(self._key, str(timestamp), str(token))
        if not constant_time_equal(given, expected):
            raise Unauthorized("signature refused")
        try:
            return from_unix(int(str(timestamp)))
        except (Malformed, ValueError):
            raise Unauthorized("the signed timestamp is not a Unix time") from None

    def events(self, request: WebhookRequest) -> Iterable[DeliveryEvent | None]:
        data = require_object(request.json().get("event-data"), "event-data")
        return [self._event(data)]

    def _event(self, data: Mapping[str, Any]) -> DeliveryEvent | None:
        event = _normalise(data)
        if event is None:
            return None
        # "id" is only unique within a day (django-anymail #131): with the event's time it is.
        event_id = text_field(data, "id")
        if event_id is None:
            raise Malformed("event-data has no id")
        event_id = f"{event_id}:{data.get('timestamp')}"
        message = data.get("message") if isinstance(data.get("message"), dict) else {}
        headers = message.get("headers") if isinstance(message.get("headers"), dict) else {}
        variables = data.get("user-variables")
        outbox_id = variables.get(OUTBOX_ID_KEY) if isinstance(variables, dict) else None
        status = data.get("delivery-status")
        status = status if isinstance(status, dict) else {}
        return DeliveryEvent(
            provider=self.name,
            event_id=event_id,
            event=event,  # type: ignore[arg-type] - a normalised name
            occurred_at=from_unix(data.get("timestamp")),
            provider_message_id=text_field(headers, "message-id"),
            outbox_id=outbox_id if isinstance(outbox_id, str) else None,
            recipient=text_field(data, "recipient"),
            bounce="hard" if event == "bounced" else None,
            reason=""
            if event == "delivered"
            else short_reason(
                data.get("reason"),
                status.get("code"),
                status.get("description") or status.get("message"),
            ),
        )


def _normalise(data: Mapping[str, Any]) -> str | None:
    name = data.get("event")
    if name == "delivered":
        return "delivered"
    if name == "complained":
        return "complained"
    if name != "failed":
        return None
    if data.get("severity") == "temporary":
        return "deferred"
    return "rejected" if data.get("reason") in _NEVER_TRIED else "bounced"

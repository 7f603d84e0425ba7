"""MailerSend's webhooks: an HMAC-SHA256 ``Signature`` over the raw body, one event a request.

Format followed (page read 2026-11-27):

* Webhooks — https://developers.mailersend.com/api/v1/webhooks.html:
  "Security": every request carries a ``Signature`` header, the hex
  HMAC-SHA256 of the request content keyed with the webhook's Signing Secret
  (``MAILERSEND_WEBHOOK_SIGNING_SECRET``); checked over the raw bytes before
  anything is parsed, in constant time. "Available events": ``activity.sent``,
  ``activity.delivered``, ``activity.soft_bounced``, ``activity.hard_bounced``,
  ``activity.deferred``, ``activity.spam_complaint``, opens, clicks and more.
  "Payload example": ``{"type", "created_at", "data": {"id", "message_id",
  "email_id", "type", "email", "tags", "meta"}}``; the FAQ on the same page names
  ``data.email.message.id``, the earlier (version 1) shape where ``data.email``
  is an object with ``message.id``, ``recipient.email`` and ``tags``, which is read too.

Normalised: delivered → delivered, deferred → deferred, soft_bounced →
bounced soft, hard_bounced → bounced hard, spam_complaint → complained; every
other type (sent, opened, clicked, the ``webhook.test`` ping...) is
acknowledged and ignored. MailerSend signs no time, so there is no replay
window; a retry carries the same activity id (``data.id``), the event id. The
outbox id is the one tag :mod:`service.providers.mailersend` sends, and
``message_id`` is the ``X-Message-Id`` kept at send.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Self

from service.outbox.delivery import DeliveryEvent
from service.webhooks.base import (
    Malformed,
    ProviderWebhook,
    Unauthorized,
    WebhookRequest,
    constant_time_equal,
    from_iso,
    require_object,
    short_reason,
    text_field,
)

if TYPE_CHECKING:
    from service.providers.base import ProviderSettings

__all__ = ["MailersendWebhook", "sign"]

_EVENTS = {
    "activity.delivered": "delivered",
    "activity.deferred": "deferred",
    "activity.soft_bounced": "bounced",
    "activity.hard_bounced": "bounced",
    "activity.spam_complaint": "complained",
}


def sign(secret: str, body: bytes) -> str:
    """MailerSend's ``Signature``: hex HMAC-SHA256 of the raw body keyed with the secret."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


class MailersendWebhook(ProviderWebhook):
    """Checks the ``Signature`` header against the HMAC of the body."""

    name = "mailersend"

    def __init__(self, secret: str) -> None:
        if not secret.strip():
            raise ValueError("is empty")
        self._secret = secret

    @classmethod
    def from_settings(cls, options: ProviderSettings) -> Self:
        return cls(options.secret("webhook_signing_secret"))

    def verify(self, request: WebhookRequest) -> datetime | None:
        given = request.header("signature")
        if not given:
            raise Unauthorized("missing Signature header")
        if not constant_time_equal(given.strip(), sign(self._secret, request.body)):
            raise Unauthorized("signature refused")
        return None

    def events(self, request: WebhookRequest) -> Iterable[DeliveryEvent | None]:
        body = require_object(request.json(), "the event")
        kind = str(body.get("type"))
        event = _EVENTS.get(kind)
        if event is None:
            return [None]
        data = require_object(body.get("data"), "data")
        event_id = text_field(data, "id")
        if event_id is None:
            raise Malformed("data has no id")
        nested = data.get("email") if isinstance(data.get("email"), dict) else {}
        meta = data.get("meta") if isinstance(data.get("meta"), dict) else {}
        morph = data.get("morph") if isinstance(data.get("morph"), dict) else {}
        return [
            DeliveryEvent(
                provider=self.name,
                event_id=event_id,
                event=event,  # type: ignore[arg-type] - one of _EVENTS' values
                occurred_at=from_iso(body.get("created_at") or data.get("created_at")),
                provider_message_id=text_field(data, "message_id")
                or _nested_text(nested, "message", "id"),
                outbox_id=_first_tag(data.get("tags", nested.get("tags"))),
                recipient=_recipient(data, nested),
                bounce=("hard" if kind == "activity.hard_bounced" else "soft")
                if event == "bounced"
                else None,
                reason=short_reason(
                    meta.get("bounce_code"),
                    meta.get("bounce_reason")
                    or morph.get("readable_reason")
                    or morph.get("reason"),
                ),
            )
        ]


def _recipient(data: Mapping[str, Any], nested: Mapping[str, Any]) -> str | None:
    """``data.email`` (a string in the documented example), ``data.recipient``, or version 1's."""
    return (
        text_field(data, "email")
        or text_field(data, "recipient")
        or _nested_text(nested, "recipient", "email")
    )


def _nested_text(data: Mapping[str, Any], outer: str, key: str) -> str | None:
    inner = data.get(outer)
    return text_field(inner, key) if isinstance(inner, dict) else None


def _first_tag(tags: Any) -> str | None:
    if isinstance(tags, list) and tags and isinstance(tags[0], str) and tags[0]:
        return tags[0]
    return None

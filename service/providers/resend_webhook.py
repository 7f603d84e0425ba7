"""Resend's delivery webhook: Svix-signed events, one per request.

Format followed (pages read 2026-11-27):

* Verifying webhooks — https://resend.com/docs/dashboard/webhooks/verify-webhooks-requests:
  Resend signs with Svix; headers ``svix-id``, ``svix-timestamp``,
  ``svix-signature``; the secret is the endpoint's ``whsec_...`` signing
  secret. Verified with the ``svix`` library (it also refuses a timestamp
  more than 5 minutes away), never with our own HMAC code.
* Event types — https://resend.com/docs/dashboard/webhooks/event-types and
  e.g. https://resend.com/docs/webhooks/emails/bounced: a JSON object
  ``{"type", "created_at", "data": {"email_id", "to", "tags", ...}}``;
  ``email.bounced`` carries ``data.bounce = {"type": "Permanent" | "Transient"
  | "Undetermined", "subType", "message"}``.

Normalised: ``email.delivered`` → delivered, ``email.delivery_delayed`` →
deferred, ``email.bounced`` → bounced (``Permanent`` is hard, anything else
soft), ``email.complained`` → complained, ``email.failed`` → rejected; every
other type (sent, opened, clicked...) is acknowledged and ignored. The event
id is ``svix-id``, the same on every retry of one message. The outbox id comes
back in ``data.tags`` (sent as a tag by :mod:`service.providers.resend`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Self

from svix.webhooks import Webhook, WebhookVerificationError

from service.outbox.delivery import DeliveryEvent
from service.providers.http import OUTBOX_ID_KEY
from service.webhooks.base import (
    ProviderWebhook,
    Unauthorized,
    WebhookRequest,
    from_iso,
    from_unix,
    require_object,
    short_reason,
    text_field,
)

if TYPE_CHECKING:
    from service.providers.base import ProviderSettings

__all__ = ["ResendWebhook"]

_EVENTS = {
    "email.delivered": "delivered",
    "email.delivery_delayed": "deferred",
    "email.bounced": "bounced",
    "email.complained": "complained",
    "email.failed": "rejected",
}
_SVIX_HEADERS = ("svix-id", "svix-timestamp", "svix-signature")


class ResendWebhook(ProviderWebhook):
    """Verifies with svix's :class:`~svix.webhooks.Webhook`; one event per request."""

    name = "resend"

    def __init__(self, secret: str) -> None:
        try:
            self._svix = Webhook(secret)
        except Exception as err:  # svix raises a bare error for bad base64
            raise ValueError("not a Svix signing secret (whsec_...)") from err

    @classmethod
    def from_settings(cls, options: ProviderSettings) -> Self:
        return cls(options.secret("signing_secret"))

    def verify(self, request: WebhookRequest) -> datetime | None:
        headers = {name: request.header(name) for name in _SVIX_HEADERS}
        if not all(headers.values()):
            raise Unauthorized("missing Svix signature headers")
        try:
            self._svix.verify(request.body, headers)
        except WebhookVerificationError as err:
            raise Unauthorized(f"Svix signature refused: {err}") from None
        except (ValueError, RecursionError):
            # Signed, but svix's own json.loads could not read it: the shared parser says why.
            pass
        return from_unix(headers["svix-timestamp"])

    def events(self, request: WebhookRequest) -> Iterable[DeliveryEvent | None]:
        body = require_object(request.json(), "the event")
        event = _EVENTS.get(str(body.get("type")))
        if event is None:
            return [None]
        data = require_object(body.get("data"), "data")
        bounce = data.get("bounce") if isinstance(data.get("bounce"), dict) else {}
        return [
            DeliveryEvent(
                provider=self.name,
                event_id=request.header("svix-id") or "",
                event=event,  # type: ignore[arg-type] - one of _EVENTS' values
                occurred_at=from_iso(body.get("created_at")),
                provider_message_id=text_field(data, "email_id"),
                outbox_id=_tag(data.get("tags")),
                recipient=_first(data.get("to")),
                bounce=_bounce_kind(bounce) if event == "bounced" else None,
                reason=short_reason(bounce.get("subType"), bounce.get("message")),
            )
        ]


def _bounce_kind(bounce: dict[str, Any]) -> str:
    return "hard" if bounce.get("type") == "Permanent" else "soft"


def _tag(tags: Any) -> str | None:
    """The outbox id among the tags: an object of name → value, or a list of {name, value}."""
    if isinstance(tags, dict):
        value = tags.get(OUTBOX_ID_KEY)
        return value if isinstance(value, str) else None
    if isinstance(tags, list):
        for tag in tags:
            if isinstance(tag, dict) and tag.get("name") == OUTBOX_ID_KEY:
                value = tag.get("value")
                return value if isinstance(value, str) else None
    return None


def _first(addresses: Any) -> str | None:
    if isinstance(addresses, list) and addresses and isinstance(addresses[0], str):
        return addresses[0]
    return addresses if isinstance(addresses, str) else None

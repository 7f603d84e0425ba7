"""SendGrid's Event Webhook, signed (ECDSA P-256): a JSON array of events per request.

Format followed (pages read 2026-11-27):

* Webhook security — https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/getting-started-event-webhook-security-features:
  with "Signed Event Webhook Requests" on, each POST carries
  ``X-Twilio-Email-Event-Webhook-Signature`` (base64 DER ECDSA signature) and
  ``X-Twilio-Email-Event-Webhook-Timestamp``; the signed payload is the
  timestamp followed by the raw body, hashed with SHA-256; the verification
  key is the base64 public key the settings page shows
  (``SENDGRID_WEBHOOK_PUBLIC_KEY``). Verified with ``cryptography``.
* Event reference — https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/event:
  an array of objects with ``email``, ``timestamp``, ``event``,
  ``sg_event_id``, ``sg_message_id``, ``reason`` / ``response``, and for
  ``bounce`` a ``type`` of ``bounce`` (the address refused it) or ``blocked``
  (the receiving server refused it for now). Custom arguments are top-level fields.

Normalised: delivered → delivered, deferred → deferred, bounce → bounced
(``type: bounce`` hard, ``blocked`` soft), dropped → rejected, spamreport →
complained; processed, open, click, unsubscribe, group events are ignored.
``sg_message_id`` is the ``X-Message-Id`` returned at send followed by
``.filter...``; the part before it is matched. The outbox id comes back as the
``outbox_id`` custom argument (sent by :mod:`service.providers.sendgrid`).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Self

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key

from service.outbox.delivery import DeliveryEvent
from service.providers.http import OUTBOX_ID_KEY
from service.webhooks.base import (
    Malformed,
    ProviderWebhook,
    Unauthorized,
    WebhookRequest,
    from_unix,
    require_object,
    short_reason,
    text_field,
)

if TYPE_CHECKING:
    from service.providers.base import ProviderSettings

__all__ = ["SIGNATURE_HEADER", "TIMESTAMP_HEADER", "SendgridWebhook"]

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"

_EVENTS = {
    "delivered": "delivered",
    "deferred": "deferred",
    "bounce": "bounced",
    "dropped": "rejected",
    "spamreport": "complained",
}


class SendgridWebhook(ProviderWebhook):
    """Verifies the ECDSA signature over ``timestamp + body`` with the account's public key."""

    name = "sendgrid"

    def __init__(self, public_key: str) -> None:
        try:
            key = load_der_public_key(base64.b64decode(public_key.strip(), validate=True))
        except (binascii.Error, ValueError) as err:
            raise ValueError("not a base64 public key as SendGrid shows it") from err
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise ValueError("not an elliptic-curve public key")
        self._key = key

    @classmethod
    def from_settings(cls, options: ProviderSettings) -> Self:
        return cls(options.secret("webhook_public_key"))

    def verify(self, request: WebhookRequest) -> datetime | None:
        signature = request.header(SIGNATURE_HEADER)
        timestamp = request.header(TIMESTAMP_HEADER)
        if not signature or not timestamp:
            raise Unauthorized("missing Event Webhook signature headers")
        try:
            der = base64.b64decode(signature, validate=True)
            self._key.verify(
                der, timestamp.encode("utf-8") + request.body, ec.ECDSA(hashes.SHA256())
            )
        except (binascii.Error, ValueError, InvalidSignature):
            raise Unauthorized("Event Webhook signature refused") from None
        try:
            return from_unix(int(timestamp))
        except ValueError:
            raise Unauthorized("the signed timestamp is not a Unix time") from None

    def events(self, request: WebhookRequest) -> Iterable[DeliveryEvent | None]:
        body = request.json()
        if not isinstance(body, list):
            raise Malformed("the body must be a JSON array of events")
        return [self._event(require_object(item, "each event")) for item in body]

    def _event(self, item: Mapping[str, Any]) -> DeliveryEvent | None:
        event = _EVENTS.get(str(item.get("event")))
        if event is None:
            return None
        sg_message_id = text_field(item, "sg_message_id")
        message_id = sg_message_id.partition(".filter")[0] if sg_message_id else None
        occurred = from_unix(item.get("timestamp"))
        event_id = text_field(item, "sg_event_id") or (
            f"{sg_message_id or item.get('smtp-id')}:{event}:{item.get('timestamp')}"
        )
        outbox_id = item.get(OUTBOX_ID_KEY)
        return DeliveryEvent(
            provider=self.name,
            event_id=event_id,
            event=event,  # type: ignore[arg-type] - a normalised name
            occurred_at=occurred,
            provider_message_id=message_id,
            outbox_id=outbox_id if isinstance(outbox_id, str) else None,
            recipient=text_field(item, "email"),
            bounce=("soft" if item.get("type") == "blocked" else "hard")
            if event == "bounced"
            else None,
            reason=short_reason(
                item.get("bounce_classification"),
                item.get("reason") or item.get("response") if event != "delivered" else None,
            ),
        )

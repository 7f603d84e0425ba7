"""Postmark's delivery webhooks: HTTP Basic credentials, one event per request.

Format followed (pages read 2026-11-27):

* Webhooks overview — https://postmarkapp.com/developer/webhooks/webhooks-overview:
  Postmark signs nothing; it sends the HTTP Basic credentials written in the
  webhook URL (``https://user:password@host/api/webhooks/postmark``). They are
  ``POSTMARK_WEBHOOK_AUTH=user:password`` here, compared in constant time.
* Delivery webhook — https://postmarkapp.com/developer/webhooks/delivery-webhook:
  ``RecordType: "Delivery"``, ``MessageID``, ``Recipient``, ``DeliveredAt``,
  ``Details``, ``Metadata``.
* Bounce webhook — https://postmarkapp.com/developer/webhooks/bounce-webhook:
  ``RecordType: "Bounce"``, ``ID``, ``Type`` (``HardBounce``, ``SoftBounce``,
  ``Transient``, ``BadEmailAddress``, ... the bounce types of
  https://postmarkapp.com/developer/api/bounce-api#bounce-types), ``MessageID``,
  ``Email``, ``BouncedAt``, ``Description``, ``Details``, ``Metadata``.
* Spam complaint webhook — https://postmarkapp.com/developer/webhooks/spam-complaint-webhook:
  ``RecordType: "SpamComplaint"``, same fields as a bounce.

No time is signed, so there is no replay window: a replay is caught by the
event id (the bounce's ``ID``; for a delivery, message id and recipient). The
outbox id comes back in ``Metadata`` (sent by :mod:`service.providers.postmark`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from service.outbox.delivery import DeliveryEvent
from service.providers.http import OUTBOX_ID_KEY
from service.webhooks.base import (
    BasicCredentialsWebhook,
    Malformed,
    WebhookRequest,
    from_iso,
    require_object,
    short_reason,
    text_field,
)

__all__ = ["PostmarkWebhook"]

# Bounce types that say the address itself will never take mail.
_HARD = frozenset({"HardBounce", "BadEmailAddress", "ManuallyDeactivated"})
# Bounce records that are not about delivery at all.
_NOT_BOUNCES = frozenset({"Subscribe", "Unsubscribe", "OpenRelayTest", "InboundError"})


class PostmarkWebhook(BasicCredentialsWebhook):
    """Checks ``Authorization: Basic`` against ``POSTMARK_WEBHOOK_AUTH``."""

    name = "postmark"

    def events(self, request: WebhookRequest) -> Iterable[DeliveryEvent | None]:
        body = require_object(request.json(), "the event")
        record = body.get("RecordType")
        if record == "Delivery":
            return [self._event(body, "delivered", "DeliveredAt", "Recipient")]
        if record == "SpamComplaint":
            return [self._event(body, "complained", "BouncedAt", "Email")]
        if record == "Bounce" and body.get("Type") not in _NOT_BOUNCES:
            if body.get("Type") == "SpamComplaint":
                return [self._event(body, "complained", "BouncedAt", "Email")]
            return [self._event(body, "bounced", "BouncedAt", "Email")]
        return [None]

    def _event(self, body: Mapping[str, Any], event: str, at: str, to: str) -> DeliveryEvent:
        message_id = text_field(body, "MessageID")
        recipient = text_field(body, to)
        if "ID" in body:
            event_id = f"{body['RecordType']}:{body['ID']}"
        elif message_id:
            event_id = f"{body['RecordType']}:{message_id}:{recipient or ''}"
        else:
            raise Malformed("the event has neither ID nor MessageID")
        metadata = body.get("Metadata")
        outbox_id = metadata.get(OUTBOX_ID_KEY) if isinstance(metadata, dict) else None
        return DeliveryEvent(
            provider=self.name,
            event_id=event_id,
            event=event,  # type: ignore[arg-type] - a normalised name
            occurred_at=from_iso(body.get(at)),
            provider_message_id=message_id,
            outbox_id=outbox_id if isinstance(outbox_id, str) else None,
            recipient=recipient,
            bounce=(
                ("hard" if body.get("Type") in _HARD else "soft") if event == "bounced" else None
            ),
            reason=short_reason(
                body.get("Type") if event != "delivered" else None,
                body.get("Description"),
                body.get("Details"),
            ),
        )

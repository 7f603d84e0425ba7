"""SparkPost's event webhooks: HTTP Basic credentials, a batch of events per request.

Format followed (pages read 2026-11-27):

* Webhooks API — https://developers.sparkpost.com/api/webhooks/ (``webhooks.apib``
  of SparkPost's API documentation): a webhook's ``auth_type: "basic"`` with
  ``auth_credentials {"username", "password"}`` makes SparkPost send them as
  ``Authorization: Basic`` on every batch; they are
  ``SPARKPOST_WEBHOOK_AUTH=user:password`` here, compared in constant time.
  SparkPost signs nothing, so there is no replay window: a replay is caught by
  the event id. A batch is a JSON array of ``{"msys": {"message_event": {...}}}``
  (other keys such as ``track_event``, ``unsubscribe_event`` are not about
  delivery); creating or validating a webhook sends ``[{"msys": {}}]``, which is
  answered 200 with nothing recorded. A batch not answered 200 is retried for 8 hours.
* Event types — https://developers.sparkpost.com/api/events/ (the samples of
  ``GET /api/v1/events/samples``): ``type``, ``event_id``, ``timestamp``
  (Unix seconds as a string in webhooks), ``message_id``, ``transmission_id``,
  ``rcpt_to``, ``rcpt_meta`` (the transmission's ``metadata``, which the
  Transmissions page says events carry, with the recipient's own taking
  precedence), ``bounce_class``,
  ``reason``, ``raw_reason``, ``error_code``.
* Bounce classification codes — https://support.sparkpost.com/docs/deliverability/bounce-classification-codes:
  categories Hard (10, 30, 90), Soft, Block, Admin (25, 26, 80) and
  Undetermined (1); "soft, block and undetermined are usually temporary".

Normalised: delivery → delivered, delay → deferred, bounce and out_of_band
(an asynchronous bounce) → bounced (hard for the Hard category, soft
otherwise), policy_rejection → rejected, spam_complaint → complained;
injection, open, click and the rest are ignored. The event names the
transmission id, which is what :mod:`service.providers.sparkpost` records at
send; the outbox id comes back in ``rcpt_meta``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from service.outbox.delivery import DeliveryEvent
from service.providers.http import OUTBOX_ID_KEY
from service.webhooks.base import (
    BasicCredentialsWebhook,
    Malformed,
    WebhookRequest,
    from_iso,
    from_unix,
    require_object,
    short_reason,
    text_field,
)

__all__ = ["HARD_BOUNCE_CLASSES", "SparkpostWebhook"]

_EVENTS = {
    "delivery": "delivered",
    "delay": "deferred",
    "bounce": "bounced",
    "out_of_band": "bounced",
    "policy_rejection": "rejected",
    "spam_complaint": "complained",
}
#: The "Hard" category of SparkPost's bounce classification codes.
HARD_BOUNCE_CLASSES = frozenset({"10", "30", "90"})


class SparkpostWebhook(BasicCredentialsWebhook):
    """Checks ``Authorization: Basic`` against ``SPARKPOST_WEBHOOK_AUTH``."""

    name = "sparkpost"

    def events(self, request: WebhookRequest) -> Iterable[DeliveryEvent | None]:
        body = request.json()
        if not isinstance(body, list):
            raise Malformed("the body must be a JSON array of events")
        return [self._event(require_object(item, "each event")) for item in body]

    def _event(self, item: Mapping[str, Any]) -> DeliveryEvent | None:
        msys = require_object(item.get("msys", {}), "msys")
        data = msys.get("message_event")
        if data is None:
            return None  # a test batch, or an engagement or unsubscribe event
        data = require_object(data, "msys.message_event")
        event = _EVENTS.get(str(data.get("type")))
        if event is None:
            return None
        event_id = text_field(data, "event_id")
        if event_id is None:
            raise Malformed("a message_event has no event_id")
        metadata = data.get("rcpt_meta")
        outbox_id = metadata.get(OUTBOX_ID_KEY) if isinstance(metadata, dict) else None
        bounce_class = str(data.get("bounce_class", ""))
        return DeliveryEvent(
            provider=self.name,
            event_id=event_id,
            event=event,  # type: ignore[arg-type] - a normalised name
            occurred_at=_when(data.get("timestamp")),
            provider_message_id=text_field(data, "transmission_id"),
            outbox_id=outbox_id if isinstance(outbox_id, str) else None,
            recipient=text_field(data, "rcpt_to"),
            bounce=("hard" if bounce_class in HARD_BOUNCE_CLASSES else "soft")
            if event == "bounced"
            else None,
            reason=""
            if event == "delivered"
            else short_reason(
                f"bounce class {bounce_class}" if bounce_class else None, data.get("reason")
            ),
        )


def _when(value: Any) -> datetime:
    """Unix seconds (as webhooks send them) or ISO 8601 (as the Events API shows them)."""
    if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
        return from_unix(value)
    return from_iso(value)

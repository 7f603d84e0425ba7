"""Azure Communication Services email events, delivered by Event Grid to a webhook.

Format followed (pages read 2026-11-27):

* Email events — https://learn.microsoft.com/en-us/azure/event-grid/communication-services-email-events:
  an Event Grid schema array of ``{"id", "topic", "subject", "data",
  "eventType", "dataVersion", "metadataVersion", "eventTime"}``;
  ``Microsoft.Communication.EmailDeliveryReportReceived`` has ``data``
  ``{"sender", "recipient", "messageId", "status", "deliveryStatusDetails":
  {"statusMessage"}, "deliveryAttemptTimeStamp"}``. ``status`` is
  ``Delivered``, ``Suppressed`` (the address hard-bounced before: ACS did not
  try), ``Bounced`` (a hard bounce), ``Failed``, ``Quarantined``,
  ``FilteredSpam`` or ``Expanded`` (a distribution list, nothing delivered
  yet); also the ``AcsEmailDeliveryReportStatus`` values of
  https://learn.microsoft.com/en-us/javascript/api/@azure/eventgrid-system-events/acsemaildeliveryreportreceivedeventdata.
  ``messageId`` is the operation id :mod:`service.providers.acs` records at send.
* Webhook event delivery — https://learn.microsoft.com/en-us/azure/event-grid/webhook-event-delivery:
  a new subscription first sends ``Microsoft.EventGrid.SubscriptionValidationEvent``
  with ``data.validationCode``; the endpoint answers ``{"validationResponse": code}``
  (the synchronous handshake). Only the Event Grid schema is read: a
  subscription using the CloudEvents schema validates with an HTTP OPTIONS
  request this service does not answer.
* Authenticating delivery — https://learn.microsoft.com/en-us/azure/event-grid/security-authentication
  ("Using client secret as a query parameter"): Event Grid signs nothing; the
  subscription's URL carries a secret query argument, here
  ``/api/webhooks/acs?token=<ACS_WEBHOOK_TOKEN>``, compared in constant time
  on every request, the handshake included. The access log shows it as
  ``[redacted]`` (:mod:`service.logs`).

No time is signed, so there is no replay window: a replay is caught by the
Event Grid event ``id`` (the same on every retry). ACS echoes no custom header
in its events, so events are matched by the operation id alone.
Normalised: Delivered → delivered, Bounced → bounced (hard), Failed →
bounced (soft), Suppressed, Quarantined, FilteredSpam → rejected; Expanded,
engagement events and other types are ignored.
"""

from __future__ import annotations

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
    import httpx

    from service.providers.base import ProviderSettings

__all__ = ["DELIVERY_REPORT", "TOKEN_ARGUMENT", "VALIDATION_EVENT", "AcsWebhook"]

#: The query argument that carries ``ACS_WEBHOOK_TOKEN``.
TOKEN_ARGUMENT = "token"  # noqa: S105 - the argument's name
DELIVERY_REPORT = "Microsoft.Communication.EmailDeliveryReportReceived"
VALIDATION_EVENT = "Microsoft.EventGrid.SubscriptionValidationEvent"
_MIN_TOKEN = 16

_STATUSES: dict[str, tuple[str, str | None]] = {
    "Delivered": ("delivered", None),
    "Bounced": ("bounced", "hard"),
    "Failed": ("bounced", "soft"),
    "Suppressed": ("rejected", None),
    "Quarantined": ("rejected", None),
    "FilteredSpam": ("rejected", None),
}


class AcsWebhook(ProviderWebhook):
    """Checks the ``token`` query argument; answers Event Grid's validation handshake."""

    name = "acs"

    def __init__(self, token: str) -> None:
        if len(token.strip()) < _MIN_TOKEN:
            raise ValueError(f"must be at least {_MIN_TOKEN} characters (it is in a URL)")
        self._token = token.strip()

    @classmethod
    def from_settings(cls, options: ProviderSettings) -> Self:
        return cls(options.secret("webhook_token"))

    def verify(self, request: WebhookRequest) -> datetime | None:
        given = request.query.get(TOKEN_ARGUMENT)
        if not given or not constant_time_equal(given, self._token):
            raise Unauthorized(f"missing or wrong {TOKEN_ARGUMENT} query argument")
        return None

    async def handshake(
        self, request: WebhookRequest, client: httpx.AsyncClient
    ) -> Mapping[str, Any] | None:
        for item in _array(request):
            if isinstance(item, dict) and item.get("eventType") == VALIDATION_EVENT:
                data = require_object(item.get("data"), "the validation event's data")
                code = text_field(data, "validationCode")
                if code is None:
                    raise Malformed("the validation event has no validationCode")
                return {"validationResponse": code}
        return None

    def events(self, request: WebhookRequest) -> Iterable[DeliveryEvent | None]:
        return [self._event(require_object(item, "each event")) for item in _array(request)]

    def _event(self, item: Mapping[str, Any]) -> DeliveryEvent | None:
        if item.get("eventType") != DELIVERY_REPORT:
            return None
        data = require_object(item.get("data"), "the event's data")
        status = str(data.get("status"))
        if status not in _STATUSES:
            return None
        event, bounce = _STATUSES[status]
        event_id = text_field(item, "id")
        if event_id is None:
            raise Malformed("an event has no id")
        details = data.get("deliveryStatusDetails")
        detail = details.get("statusMessage") if isinstance(details, dict) else details
        return DeliveryEvent(
            provider=self.name,
            event_id=event_id,
            event=event,  # type: ignore[arg-type] - a normalised name
            occurred_at=from_iso(data.get("deliveryAttemptTimeStamp") or item.get("eventTime")),
            provider_message_id=text_field(data, "messageId"),
            recipient=text_field(data, "recipient"),
            bounce=bounce,  # type: ignore[arg-type] - hard, soft or None
            reason="" if event == "delivered" else short_reason(status, detail),
        )


def _array(request: WebhookRequest) -> list[Any]:
    body = request.json()
    if not isinstance(body, list):
        raise Malformed("the body must be a JSON array of Event Grid events")
    return body

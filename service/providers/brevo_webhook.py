"""Brevo's transactional webhooks: Basic credentials or a bearer token, one event a request.

Format followed (pages read 2026-11-27):

* Secure webhook calls — https://developers.brevo.com/docs/username-and-password-authentication
  (linked as "Secure webhook calls" from https://developers.brevo.com/docs/secured-webhooks):
  Brevo signs nothing; a webhook either has ``username:password`` written in its
  URL (sent as HTTP Basic credentials) or an ``auth`` of
  ``{"type": "bearer", "token": ...}`` (sent as ``Authorization: Bearer``).
  ``BREVO_WEBHOOK_AUTH`` holds whichever was set up; a request must carry it
  one way or the other, compared in constant time.
* Transactional webhooks — https://developers.brevo.com/docs/transactional-webhooks:
  one JSON object per event with ``event`` (``request``, ``delivered``,
  ``soft_bounce``, ``hard_bounce``, ``invalid_email``, ``deferred``, ``blocked``,
  ``error``, ``spam``, ``opened``, ``click``, ``unsubscribed``...), ``email``
  (the recipient), ``message-id``, ``ts_event`` (seconds), ``ts_epoch``
  (milliseconds, UTC), ``reason`` on failures and ``X-Mailin-custom`` (the
  custom header set at send).
* Batched webhooks — https://developers.brevo.com/docs/batch-webhooks: with
  ``batched: true`` up to 500 events arrive together, so a JSON array of those
  objects is accepted too.

Normalised: delivered → delivered, deferred → deferred, soft_bounce → bounced
soft, hard_bounce and invalid_email → bounced hard, blocked and error →
rejected (Brevo did not send it), spam → complained; the rest is ignored.
Brevo gives no event id, so the id is the event, message id, recipient and time:
a retry of the same event carries the same four. No time is signed, so there is
no replay window. The outbox id comes back in ``X-Mailin-custom`` (sent by
:mod:`service.providers.brevo`); Brevo's ``message-id`` is the ``messageId`` kept at send.
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
    basic_credentials,
    bearer_token,
    constant_time_equal,
    from_unix,
    object_or_objects,
    short_reason,
    text_field,
)

if TYPE_CHECKING:
    from service.providers.base import ProviderSettings

__all__ = ["BrevoWebhook"]

_EVENTS = {
    "delivered": "delivered",
    "deferred": "deferred",
    "soft_bounce": "bounced",
    "hard_bounce": "bounced",
    "invalid_email": "bounced",
    "blocked": "rejected",
    "error": "rejected",
    "spam": "complained",
}
_HARD = frozenset({"hard_bounce", "invalid_email"})
# ``ts_epoch`` is documented in milliseconds; a value this small is in seconds.
_MILLISECONDS = 10**11


class BrevoWebhook(ProviderWebhook):
    """Checks ``Authorization`` (Basic or Bearer) against ``BREVO_WEBHOOK_AUTH``."""

    name = "brevo"

    def __init__(self, secret: str) -> None:
        if not secret.strip():
            raise ValueError("is empty")
        self._secret = secret.encode("utf-8")

    @classmethod
    def from_settings(cls, options: ProviderSettings) -> Self:
        return cls(options.secret("webhook_auth"))

    def verify(self, request: WebhookRequest) -> datetime | None:
        basic = constant_time_equal(basic_credentials(request), self._secret)
        bearer = constant_time_equal(bearer_token(request), self._secret)
        if not (basic or bearer):
            raise Unauthorized("missing or wrong Basic credentials or bearer token")
        return None

    def events(self, request: WebhookRequest) -> Iterable[DeliveryEvent | None]:
        return [self._event(item) for item in object_or_objects(request.json())]

    def _event(self, body: Mapping[str, Any]) -> DeliveryEvent | None:
        name = str(body.get("event"))
        event = _EVENTS.get(name)
        if event is None:
            return None
        message_id = text_field(body, "message-id")
        if message_id is None:
            raise Malformed("the event has no message-id")
        recipient = text_field(body, "email")
        occurred_at = _occurred(body)
        return DeliveryEvent(
            provider=self.name,
            event_id=f"{name}:{message_id}:{recipient or ''}:{occurred_at.timestamp():.3f}",
            event=event,  # type: ignore[arg-type] - one of _EVENTS' values
            occurred_at=occurred_at,
            provider_message_id=message_id,
            outbox_id=text_field(body, "X-Mailin-custom"),
            recipient=recipient,
            bounce=("hard" if name in _HARD else "soft") if event == "bounced" else None,
            reason="" if event == "delivered" else short_reason(name, body.get("reason")),
        )


def _occurred(body: Mapping[str, Any]) -> datetime:
    """``ts_epoch`` (UTC, milliseconds as documented) or else ``ts_event`` (seconds)."""
    epoch = body.get("ts_epoch")
    if isinstance(epoch, int | float) and not isinstance(epoch, bool):
        return from_unix(epoch / 1000 if abs(epoch) >= _MILLISECONDS else epoch)
    return from_unix(body.get("ts_event"))

"""Mailjet's Event API: HTTP Basic credentials from the callback URL, events one or batched.

Format followed (pages read 2026-11-27):

* Event API (webhooks) — https://dev.mailjet.com/email/guides/webhooks/ (its
  source: https://github.com/mailjet/api-documentation, ``guides/_event-api.md``):
  Mailjet signs nothing and recommends "a basic authentication" in the URL,
  ``https://username:password@www.example.com/...``; those credentials are
  ``MAILJET_WEBHOOK_AUTH=user:password`` here, compared in constant time. The
  body is one event object or, with grouping on (``Version`` 2 of
  ``/eventcallbackurl``), a JSON array of them. Every event has ``event``,
  ``time`` (Unix), ``email``, ``MessageID``, ``Message_GUID`` ("equals the value
  of MessageUUID returned after the message is sent"), ``CustomID`` and
  ``Payload``; ``bounce`` adds ``blocked``, ``hard_bounce``,
  ``error_related_to``, ``error`` and ``comment``; ``blocked`` adds
  ``error_related_to`` and ``error``; ``spam`` adds ``source``. Its error table
  calls ``greylisted`` temporary: "Delivery will be re-attempted".

Normalised: sent (accepted by the receiving server) → delivered, bounce →
bounced (hard when ``hard_bounce`` is true, else soft; a greylisted soft one →
deferred), blocked → rejected (Mailjet did not send it), spam → complained;
open, click and unsub are ignored. Mailjet gives no event id, so the id is the
event, message, recipient and time. No time is signed: no replay window. The
outbox id comes back as ``CustomID`` (sent by :mod:`service.providers.mailjet`),
and ``Message_GUID`` is the ``MessageUUID`` kept at send.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from service.outbox.delivery import DeliveryEvent
from service.webhooks.base import (
    BasicCredentialsWebhook,
    Malformed,
    WebhookRequest,
    from_unix,
    object_or_objects,
    short_reason,
    text_field,
)

__all__ = ["MailjetWebhook"]

_EVENTS = {"sent": "delivered", "bounce": "bounced", "blocked": "rejected", "spam": "complained"}


class MailjetWebhook(BasicCredentialsWebhook):
    """Checks ``Authorization: Basic`` against ``MAILJET_WEBHOOK_AUTH``."""

    name = "mailjet"

    def events(self, request: WebhookRequest) -> Iterable[DeliveryEvent | None]:
        return [self._event(item) for item in object_or_objects(request.json())]

    def _event(self, body: Mapping[str, Any]) -> DeliveryEvent | None:
        name = str(body.get("event"))
        event = _EVENTS.get(name)
        if event is None:
            return None
        hard = body.get("hard_bounce") is True
        if event == "bounced" and not hard and body.get("error") == "greylisted":
            event = "deferred"
        message_id = _message_id(body)
        recipient = text_field(body, "email")
        occurred_at = from_unix(body.get("time"))
        return DeliveryEvent(
            provider=self.name,
            event_id=f"{name}:{message_id}:{recipient or ''}:{body.get('time')}",
            event=event,  # type: ignore[arg-type] - one of _EVENTS' values, or deferred
            occurred_at=occurred_at,
            provider_message_id=message_id,
            outbox_id=text_field(body, "CustomID"),
            recipient=recipient,
            bounce=("hard" if hard else "soft") if event == "bounced" else None,
            reason=""
            if event == "delivered"
            else short_reason(
                body.get("error_related_to"),
                body.get("error"),
                body.get("comment"),
                body.get("source"),
            ),
        )


def _message_id(body: Mapping[str, Any]) -> str:
    """``Message_GUID`` (the ``MessageUUID`` kept at send), else the numeric ``MessageID``."""
    guid = text_field(body, "Message_GUID")
    if guid is not None:
        return guid
    number = body.get("MessageID")
    if isinstance(number, int | str) and not isinstance(number, bool) and str(number):
        return str(number)
    raise Malformed("the event has neither Message_GUID nor MessageID")

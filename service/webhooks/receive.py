"""Everything a delivery webhook does that is not the provider's own: written once.

:func:`configured_webhooks` builds the webhook of every provider whose
declaration names one (``webhook``) and whose secret (``webhook_secret``) is
set; only those get a route. :class:`WebhookReceiver` then, for each request:

1. lets the provider :meth:`~service.webhooks.base.ProviderWebhook.fetch` what
   its verification needs and :meth:`~service.webhooks.base.ProviderWebhook.verify`
   it (``401`` and nothing recorded when that fails);
2. refuses a signed time more than :data:`REPLAY_WINDOW` away from now (a
   replayed request); schemes that sign no time (Postmark's Basic credentials)
   rely on the event-id deduplication alone; then answers a subscription
   handshake as the provider says (``handshake``: Event Grid, SNS), and stops there;
3. parses every event before recording any (a malformed body is a ``400`` and
   nothing is recorded);
4. records each event (:meth:`~service.outbox.delivery.DeliveryRecords.record_event`):
   a duplicate is recorded once, an unmatched one only counted;
5. counts each in ``contact_mailer_delivery_events_total{provider,event}``
   (``event`` is the normalised name, or ``ignored``, ``duplicate``, ``unmatched``),
   and raises the alarm for an owner notification that bounced or was marked
   as spam: an ``ERROR`` log naming the recipient and the reason, and
   ``contact_mailer_owner_delivery_alarms_total``; ``/api/health`` reads the
   alarm from the store, so every worker reports it.

Never logged: the secret, the body, a visitor's address (masked).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from importlib import import_module
from typing import TYPE_CHECKING, Any

from service.config import ConfigError
from service.logs import mask_email
from service.outbox.delivery import DeliveryRecords, Recorded
from service.outbox.models import utcnow
from service.providers.catalog import PROVIDERS
from service.webhooks.base import ProviderWebhook, Unauthorized, WebhookRequest

if TYPE_CHECKING:
    import httpx

    from service.config import Settings
    from service.metrics import Metrics

__all__ = [
    "REPLAY_WINDOW",
    "WebhookReceiver",
    "configured_webhook_names",
    "configured_webhooks",
    "webhook_class",
]

logger = logging.getLogger(__name__)

REPLAY_WINDOW = timedelta(minutes=5)
"""A signed time further than this from now is refused."""

OWNER_ALARM_EVENTS = frozenset({"bounced", "complained"})


def webhook_class(provider: str) -> type[ProviderWebhook] | None:
    """The webhook implementation the provider's declaration names, imported now; else ``None``."""
    target = PROVIDERS[provider].webhook
    if target is None:
        return None
    module_name, _, class_name = target.partition(":")
    return getattr(import_module(module_name), class_name)


def configured_webhook_names(settings: Settings) -> list[str]:
    """The providers that declare a webhook and whose webhook secret is set; nothing imported."""
    return [
        name
        for name, declaration in PROVIDERS.items()
        if declaration.webhook is not None
        and settings.provider_group(name).webhook_key() is not None
    ]


def configured_webhooks(settings: Settings) -> dict[str, ProviderWebhook]:
    """The webhook of each provider whose secret is set, by provider name; no I/O.

    Raises :class:`~service.config.ConfigError` naming the variable when a
    secret is unusable (a SendGrid public key that is not one), so startup
    stops with one line.
    """
    built: dict[str, ProviderWebhook] = {}
    for name in configured_webhook_names(settings):
        options = settings.provider_group(name)
        cls = webhook_class(name)
        if cls is None:  # pragma: no cover - configured_webhook_names checked it
            continue
        try:
            built[name] = cls.from_settings(options)
        except ValueError as err:
            variable = options.variable(PROVIDERS[name].webhook_secret or "")
            raise ConfigError(f"{variable}: {err}") from None
    return built


class WebhookReceiver:
    """Verifies, parses and records the webhooks of the configured providers."""

    def __init__(
        self,
        webhooks: Mapping[str, ProviderWebhook],
        store: DeliveryRecords,
        metrics: Metrics,
        http_client: httpx.AsyncClient,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.webhooks = dict(webhooks)
        self.store = store
        self.metrics = metrics
        self.http_client = http_client
        self.clock = clock

    async def receive(self, provider: str, request: WebhookRequest) -> dict[str, Any]:
        """Handle one request to provider's route; returns the JSON answer.

        That is ``{"success": true, "events": {outcome: count}}``, or the
        provider's own answer to a handshake. Raises
        :class:`~service.webhooks.base.WebhookRefused` (401, 400...) with nothing recorded.
        """
        webhook = self.webhooks[provider]
        await webhook.fetch(request, self.http_client)
        signed_at = webhook.verify(request)
        if signed_at is not None and abs(self.clock() - signed_at) > REPLAY_WINDOW:
            raise Unauthorized("the signed timestamp is more than 5 minutes from now")
        answer = await webhook.handshake(request, self.http_client)
        if answer is not None:
            return dict(answer)
        return {"success": True, "events": await self._record(provider, webhook, request)}

    async def _record(
        self, provider: str, webhook: ProviderWebhook, request: WebhookRequest
    ) -> dict[str, int]:
        """Parse every event, then record each; counts by outcome."""
        events = list(webhook.events(request))
        counts: Counter[str] = Counter()
        for event in events:
            if event is None:
                counts["ignored"] += 1
                self.metrics.delivery_event(provider, "ignored")
                continue
            result = await self.store.record_event(event)
            if result.outcome is Recorded.RECORDED:
                counts[event.event] += 1
                self.metrics.delivery_event(provider, event.event)
                if result.kind == "notification" and event.event in OWNER_ALARM_EVENTS:
                    self._owner_alarm(event.provider, event.event, event.recipient, event.reason)
                elif result.suppressed:
                    logger.warning(
                        "suppressed %s after a %s reported by %s",
                        mask_email(event.recipient or ""),
                        event.event,
                        provider,
                    )
            else:
                counts[str(result.outcome)] += 1
                self.metrics.delivery_event(provider, str(result.outcome))
        return dict(counts)

    def _owner_alarm(self, provider: str, event: str, recipient: str | None, reason: str) -> None:
        # The owner's own address (configuration, not a visitor's): named so it can be fixed.
        logger.error(
            "the owner's notification to %s %s (%s): %s; leads are not reaching the inbox",
            recipient or "the owner's address",
            event,
            provider,
            reason or "no reason given",
            extra={"provider": provider, "delivery_event": event},
        )
        self.metrics.owner_alarm(provider, event)

"""Each provider's webhook on its own: documented payloads, signed with the real algorithm."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from service.config import load_settings
from service.outbox.delivery import DeliveryEvent
from service.webhooks.base import Malformed, ProviderWebhook, Unauthorized, WebhookRequest
from service.webhooks.receive import configured_webhooks
from tests.webhooks import payloads
from tests.webhooks.signing import PROVIDERS, Signer, signer

# What each provider reports (Postmark has no deferred or dropped webhook).
EVENTS = {
    "resend": ("delivered", "deferred", "bounced", "complained", "rejected"),
    "postmark": ("delivered", "bounced", "complained"),
    "sendgrid": ("delivered", "deferred", "bounced", "complained", "rejected"),
    "mailgun": ("delivered", "deferred", "bounced", "complained", "rejected"),
}
VISITOR = "vera@example.org"


def documented(provider: str, event: str, *, message_id: str, outbox_id: str) -> Any:
    """The provider's documented payload for ``event`` (``unknown``: a type not tracked)."""
    if provider == "resend":
        return payloads.resend(event, email_id=message_id, to=VISITOR, outbox_id=outbox_id)
    if provider == "postmark":
        return payloads.postmark(event, message_id=message_id, to=VISITOR, outbox_id=outbox_id)
    event_id = uuid.uuid4().hex
    if provider == "sendgrid":
        return [
            payloads.sendgrid(
                event, message_id=message_id, to=VISITOR, event_id=event_id, outbox_id=outbox_id
            )
        ]
    return payloads.mailgun(
        event, message_id=message_id, to=VISITOR, event_id=event_id, outbox_id=outbox_id
    )


def webhook_for(sign: Signer) -> ProviderWebhook:
    settings = load_settings(**{sign.setting: sign.secret})
    return configured_webhooks(settings)[sign.provider]


def incoming(headers: dict[str, str], body: bytes) -> WebhookRequest:
    return WebhookRequest(headers={k.lower(): v for k, v in headers.items()}, body=body)


@pytest.mark.parametrize(
    ("provider", "event"),
    [(provider, event) for provider in PROVIDERS for event in EVENTS[provider]],
)
def test_every_documented_event_is_verified_and_normalised(provider: str, event: str) -> None:
    sign = signer(provider)
    webhook = webhook_for(sign)
    outbox_id = str(uuid.uuid4())
    payload = documented(provider, event, message_id="msg-123", outbox_id=outbox_id)
    request = incoming(*sign.request(payload))

    signed_at = webhook.verify(request)
    (parsed,) = webhook.events(request)

    if provider == "postmark":
        assert signed_at is None  # Basic credentials sign no time
    else:
        assert signed_at is not None
        assert abs(datetime.now(UTC) - signed_at) < timedelta(seconds=5)
    assert isinstance(parsed, DeliveryEvent)
    assert parsed.provider == provider
    assert parsed.event == event
    assert parsed.outbox_id == outbox_id
    assert parsed.provider_message_id == "msg-123"
    assert parsed.recipient == VISITOR
    assert parsed.event_id
    assert parsed.bounce == ("hard" if event == "bounced" else None)
    assert "Full dump" not in parsed.reason  # never a body


def test_soft_bounces_are_told_apart() -> None:
    resend = payloads.resend("bounced", email_id="e", to=VISITOR)
    resend["data"]["bounce"]["type"] = "Transient"
    sendgrid = [payloads.sendgrid("bounced", message_id="m", to=VISITOR, event_id="x")]
    sendgrid[0]["type"] = "blocked"
    postmark = payloads.postmark("bounced", message_id="m", to=VISITOR, bounce="SoftBounce")
    for provider, payload in (("resend", resend), ("sendgrid", sendgrid), ("postmark", postmark)):
        sign = signer(provider)
        (parsed,) = webhook_for(sign).events(incoming(*sign.request(payload)))
        assert parsed is not None
        assert (provider, parsed.event, parsed.bounce) == (provider, "bounced", "soft")


@pytest.mark.parametrize("provider", PROVIDERS)
def test_an_untracked_event_type_is_ignored(provider: str) -> None:
    sign = signer(provider)
    webhook = webhook_for(sign)
    request = incoming(
        *sign.request(documented(provider, "unknown", message_id="m", outbox_id="o"))
    )
    webhook.verify(request)
    assert list(webhook.events(request)) == [None]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_signature_made_with_another_secret_is_refused(provider: str) -> None:
    webhook = webhook_for(signer(provider))
    impostor = signer(provider)
    payload = documented(provider, "bounced", message_id="m", outbox_id="o")
    with pytest.raises(Unauthorized):
        webhook.verify(incoming(*impostor.request(payload)))


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_request_without_a_signature_is_refused(provider: str) -> None:
    webhook = webhook_for(signer(provider))
    payload = documented(provider, "bounced", message_id="m", outbox_id="o")
    if provider == "mailgun":
        payload = {"event-data": payload}
    request = incoming({"content-type": "application/json"}, str(payload).encode())
    with pytest.raises((Unauthorized, Malformed)):
        webhook.verify(request)
    with pytest.raises(Unauthorized):
        webhook.verify(incoming({}, b'{"signature": {}, "event-data": {}}'))


# Postmark's Basic credentials do not cover the body: it documents no signature.
@pytest.mark.parametrize("provider", ["resend", "sendgrid", "mailgun"])
def test_a_tampered_body_is_refused(provider: str) -> None:
    sign = signer(provider)
    webhook = webhook_for(sign)
    headers, body = sign.request(documented(provider, "delivered", message_id="m", outbox_id="o"))
    tampered = body.replace(b"delivered", b"bounced_x").replace(b"Delivery", b"Bounce")
    if provider == "mailgun":
        # Mailgun signs timestamp + token only; a changed signature field is what fails.
        tampered = body.replace(b'"signature": "', b'"signature": "0')
    with pytest.raises(Unauthorized):
        webhook.verify(incoming(headers, tampered))


@pytest.mark.parametrize("provider", ["resend", "postmark", "sendgrid"])
@pytest.mark.parametrize("body", [b"{not json", b"[" * 100 + b"]" * 100, b'"a string"', b"[1]"])
def test_a_signed_malformed_body_is_malformed(provider: str, body: bytes) -> None:
    sign = signer(provider)
    webhook = webhook_for(sign)
    request = incoming(*sign.request(body))
    webhook.verify(request)  # svix, ECDSA and Basic check the bytes, not the JSON
    with pytest.raises(Malformed):
        list(webhook.events(request))


def test_a_signed_mailgun_body_without_event_data_is_malformed() -> None:
    sign = signer("mailgun")
    webhook = webhook_for(sign)
    request = incoming(*sign.request("not an object"))
    webhook.verify(request)
    with pytest.raises(Malformed):
        list(webhook.events(request))


def test_an_unusable_secret_stops_startup_naming_its_variable() -> None:
    from service.config import ConfigError

    with pytest.raises(ConfigError, match=r"^SENDGRID_WEBHOOK_PUBLIC_KEY: "):
        configured_webhooks(load_settings(sendgrid_webhook_public_key="bm90IGEga2V5"))
    with pytest.raises(ConfigError, match=r"^POSTMARK_WEBHOOK_AUTH: "):
        configured_webhooks(load_settings(postmark_webhook_auth="no-colon"))


def test_providers_without_a_secret_get_no_webhook() -> None:
    assert configured_webhooks(load_settings()) == {}

"""Each provider's webhook on its own: documented payloads, signed with the real algorithm."""

from __future__ import annotations

import base64
import json
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
    # MailerSend has no dropped event.
    "brevo": ("delivered", "deferred", "bounced", "complained", "rejected"),
    "mailjet": ("delivered", "deferred", "bounced", "complained", "rejected"),
    "mailersend": ("delivered", "deferred", "bounced", "complained"),
}
# Schemes that sign no time (credentials, or an HMAC of the body alone).
NO_SIGNED_TIME = ("postmark", "brevo", "mailjet", "mailersend")
VISITOR = "vera@example.org"


def documented(provider: str, event: str, *, message_id: str, outbox_id: str) -> Any:
    """The provider's documented payload for ``event`` (``unknown``: a type not tracked)."""
    if provider in ("brevo", "mailjet", "mailersend"):
        return hooks2_documented(provider, event, message_id=message_id, outbox_id=outbox_id)
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

    if provider in NO_SIGNED_TIME:
        assert signed_at is None
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
@pytest.mark.parametrize("provider", ["resend", "sendgrid", "mailgun", "mailersend"])
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


@pytest.mark.parametrize(
    "provider", ["resend", "postmark", "sendgrid", "brevo", "mailjet", "mailersend"]
)
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


# --- brevo, mailjet, mailersend --------------------------------------------------------


def hooks2_documented(provider: str, event: str, *, message_id: str, outbox_id: str) -> Any:
    """Brevo's event object, Mailjet's grouped array, MailerSend's activity."""
    if provider == "brevo":
        return payloads.brevo(event, message_id=message_id, to=VISITOR, outbox_id=outbox_id)
    if provider == "mailjet":
        return [payloads.mailjet(event, message_id=message_id, to=VISITOR, outbox_id=outbox_id)]
    return payloads.mailersend(
        event, message_id=message_id, to=VISITOR, event_id=uuid.uuid4().hex, outbox_id=outbox_id
    )


def parse_one(sign: Signer, payload: Any) -> DeliveryEvent:
    webhook = webhook_for(sign)
    request = incoming(*sign.request(payload))
    webhook.verify(request)
    (parsed,) = webhook.events(request)
    assert parsed is not None
    return parsed


def test_soft_bounces_of_brevo_mailjet_and_mailersend_are_told_apart() -> None:
    brevo = payloads.brevo("bounced", message_id="m", to=VISITOR, name="soft_bounce")
    mailjet = payloads.mailjet("bounced", message_id="m", to=VISITOR)
    mailjet["hard_bounce"] = False
    mailersend = payloads.mailersend(
        "bounced", message_id="m", to=VISITOR, event_id="a", kind="activity.soft_bounced"
    )
    for provider, payload in (("brevo", brevo), ("mailjet", mailjet), ("mailersend", mailersend)):
        parsed = parse_one(signer(provider), payload)
        assert (provider, parsed.event, parsed.bounce) == (provider, "bounced", "soft")
        assert not parsed.suppresses


def test_brevo_invalid_email_is_a_hard_bounce_and_error_a_rejection() -> None:
    sign = signer("brevo")
    invalid = payloads.brevo("bounced", message_id="m", to=VISITOR, name="invalid_email")
    error = payloads.brevo("rejected", message_id="m", to=VISITOR, name="error")
    assert (parse_one(sign, invalid).event, parse_one(sign, invalid).bounce) == ("bounced", "hard")
    assert parse_one(sign, error).event == "rejected"


def test_brevo_takes_basic_credentials_as_well_as_its_bearer_token() -> None:
    credentials = "brevo-hooks:s3cret-pass"
    webhook = configured_webhooks(load_settings(brevo_webhook_auth=credentials))["brevo"]
    body = json.dumps(payloads.brevo("delivered", message_id="m", to=VISITOR)).encode()
    basic = "Basic " + base64.b64encode(credentials.encode()).decode()
    assert webhook.verify(incoming({"Authorization": basic}, body)) is None
    assert webhook.verify(incoming({"Authorization": f"Bearer {credentials}"}, body)) is None
    for wrong in ("Basic " + base64.b64encode(b"brevo-hooks:other").decode(), "Bearer x", ""):
        with pytest.raises(Unauthorized):
            webhook.verify(incoming({"Authorization": wrong}, body))


def test_brevo_ts_epoch_in_milliseconds_is_the_same_time() -> None:
    sign = signer("brevo")
    seconds = payloads.brevo("delivered", message_id="m", to=VISITOR)
    millis = seconds | {"ts_epoch": seconds["ts_epoch"] * 1000}
    expected = datetime.fromtimestamp(1604933654, UTC)
    assert parse_one(sign, seconds).occurred_at == expected
    assert parse_one(sign, millis).occurred_at == expected


def test_brevo_and_mailjet_batches_give_every_event() -> None:
    for provider in ("brevo", "mailjet"):
        builder = payloads.brevo if provider == "brevo" else payloads.mailjet
        batch = [
            builder(event, message_id=f"m-{event}", to=VISITOR)
            for event in ("delivered", "bounced", "unknown")
        ]
        sign = signer(provider)
        webhook = webhook_for(sign)
        request = incoming(*sign.request(batch))
        webhook.verify(request)
        parsed = list(webhook.events(request))
        assert [p.event if p else None for p in parsed] == ["delivered", "bounced", None]
        assert len({p.event_id for p in parsed if p}) == 2


def test_a_single_mailjet_event_object_is_accepted() -> None:
    payload = payloads.mailjet("complained", message_id="g-1", to=VISITOR, outbox_id="o-1")
    parsed = parse_one(signer("mailjet"), payload)
    assert (parsed.event, parsed.outbox_id, parsed.provider_message_id) == (
        "complained",
        "o-1",
        "g-1",
    )
    assert parsed.reason == "JMRPP"


def test_mailersend_reads_the_version_1_shape_of_its_faq() -> None:
    payload = {
        "type": "activity.hard_bounced",
        "created_at": "2020-11-27T10:08:08.298647Z",
        "data": {
            "object": "activity",
            "id": "5fc0d006b42c3e16e1774882",
            "type": "hard_bounced",
            "created_at": "2020-11-27T10:08:06.258000Z",
            "email": {
                "object": "email",
                "id": "5fc0d003e7a5e7035446aa32",
                "tags": ["outbox-1"],
                "message": {"object": "message", "id": "5fc0d003f718c90162341852"},
                "recipient": {"object": "recipient", "email": VISITOR},
            },
            "morph": {"object": "recipient_bounce", "reason": "Host or domain name not found"},
        },
    }
    parsed = parse_one(signer("mailersend"), payload)
    assert (parsed.event, parsed.bounce, parsed.recipient) == ("bounced", "hard", VISITOR)
    assert (parsed.provider_message_id, parsed.outbox_id) == (
        "5fc0d003f718c90162341852",
        "outbox-1",
    )
    assert parsed.reason == "Host or domain name not found"


def test_mailersend_signature_covers_the_exact_bytes() -> None:
    sign = signer("mailersend")
    webhook = webhook_for(sign)
    headers, body = sign.request(
        payloads.mailersend("delivered", message_id="m", to=VISITOR, event_id="e")
    )
    webhook.verify(incoming(headers, body))
    with pytest.raises(Unauthorized):
        webhook.verify(incoming(headers, body + b" "))
    with pytest.raises(Unauthorized):
        webhook.verify(incoming(headers | {"Signature": headers["Signature"].upper()}, body))


def test_unusable_brevo_mailjet_mailersend_secrets_stop_startup() -> None:
    from service.config import ConfigError

    with pytest.raises(ConfigError, match=r"^MAILJET_WEBHOOK_AUTH: "):
        configured_webhooks(load_settings(mailjet_webhook_auth="no-colon"))
    with pytest.raises(ConfigError, match=r"^MAILERSEND_WEBHOOK_SIGNING_SECRET: "):
        configured_webhooks(load_settings(mailersend_webhook_signing_secret="   "))


@pytest.mark.parametrize("provider", ["brevo", "mailjet", "mailersend", "postmark"])
def test_header_bytes_that_are_not_utf8_are_refused_not_an_error(provider: str) -> None:
    # Latin-1 bytes of a header arrive as lone surrogates (surrogateescape).
    webhook = webhook_for(signer(provider))
    for value in ("Bearer \udc80\udcff", "Basic \udc80", "\udc80"):
        with pytest.raises(Unauthorized):
            webhook.verify(incoming({"Authorization": value, "Signature": value}, b"{}"))

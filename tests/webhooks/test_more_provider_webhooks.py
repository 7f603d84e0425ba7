"""SparkPost, ACS (Event Grid) and SES (SNS) webhooks on their own: documented payloads,
credentials and SNS signatures made with keys generated here, the certificate served by respx."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx

from service.config import ConfigError, load_settings
from service.outbox.delivery import DeliveryEvent
from service.providers.ses_webhook import SesWebhook, SnsUnavailable
from service.webhooks.base import Malformed, ProviderWebhook, Unauthorized, WebhookRequest
from service.webhooks.receive import configured_webhooks
from tests.webhooks import payloads
from tests.webhooks.signing import SNS_CERT_URL, SNS_REGION, MoreSigner, more_signer

VISITOR = "vera@example.org"
SUBSCRIBE_URL = (
    f"https://sns.{SNS_REGION}.amazonaws.com/?Action=ConfirmSubscription"
    "&TopicArn=arn:aws:sns:eu-west-1:123456789012:ses-events&Token=2336412f37"
)


def webhook_for(sign: MoreSigner) -> ProviderWebhook:
    return configured_webhooks(load_settings(**{sign.setting: sign.secret}))[sign.provider]


def incoming(sign: MoreSigner, headers: dict[str, str], body: bytes) -> WebhookRequest:
    return WebhookRequest(
        headers={k.lower(): v for k, v in headers.items()}, body=body, query=sign.query()
    )


@pytest.fixture
def sns() -> Iterator[respx.MockRouter]:
    """respx in front of every httpx client: SNS's hosts answer only what a test routes."""
    with respx.mock(assert_all_called=False) as router:
        yield router


async def verified(webhook: ProviderWebhook, request: WebhookRequest) -> list[Any]:
    """What the receiver does before recording: fetch, verify, then the events."""
    async with httpx.AsyncClient() as client:
        await webhook.fetch(request, client)
        webhook.verify(request)
        assert await webhook.handshake(request, client) is None
    return list(webhook.events(request))


# --- SparkPost ---------------------------------------------------------------------------


@pytest.mark.parametrize("event", ["delivered", "deferred", "bounced", "rejected", "complained"])
def test_sparkpost_documented_events_are_normalised(event: str) -> None:
    sign = more_signer("sparkpost")
    webhook = webhook_for(sign)
    outbox_id = str(uuid.uuid4())
    batch = [
        payloads.sparkpost(
            event, transmission_id="tx-1", to=VISITOR, event_id="ev-1", outbox_id=outbox_id
        )
    ]
    request = incoming(sign, *sign.request(batch))
    assert webhook.verify(request) is None  # Basic credentials sign no time
    (parsed,) = webhook.events(request)
    assert isinstance(parsed, DeliveryEvent)
    assert (parsed.provider, parsed.event, parsed.event_id) == ("sparkpost", event, "ev-1")
    assert (parsed.provider_message_id, parsed.outbox_id) == ("tx-1", outbox_id)
    assert parsed.recipient == VISITOR
    assert parsed.occurred_at.isoformat() == "2016-04-18T14:25:07+00:00"
    assert parsed.bounce == ("hard" if event == "bounced" else None)


@pytest.mark.parametrize(
    ("bounce_class", "bounce"), [("10", "hard"), ("30", "hard"), ("90", "hard"), ("21", "soft")]
)
@pytest.mark.parametrize("kind", ["bounce", "out_of_band"])
def test_sparkpost_bounce_classes_decide_hard_or_soft(
    kind: str, bounce_class: str, bounce: str
) -> None:
    sign = more_signer("sparkpost")
    item = payloads.sparkpost("bounced", transmission_id="t", to=VISITOR, event_id="e", type=kind)
    item["msys"]["message_event"]["bounce_class"] = bounce_class
    (parsed,) = webhook_for(sign).events(incoming(sign, *sign.request([item])))
    assert parsed is not None
    assert (parsed.event, parsed.bounce) == ("bounced", bounce)
    assert f"bounce class {bounce_class}" in parsed.reason


def test_sparkpost_test_batch_and_engagement_events_are_ignored() -> None:
    sign = more_signer("sparkpost")
    webhook = webhook_for(sign)
    opened = payloads.sparkpost("unknown", transmission_id="t", to=VISITOR, event_id="e")
    request = incoming(sign, *sign.request([{"msys": {}}, opened]))
    webhook.verify(request)
    assert list(webhook.events(request)) == [None, None]


def test_sparkpost_wrong_or_missing_credentials_are_refused() -> None:
    webhook = webhook_for(more_signer("sparkpost"))
    impostor = more_signer("sparkpost")
    with pytest.raises(Unauthorized):
        webhook.verify(incoming(impostor, *impostor.request([{"msys": {}}])))
    with pytest.raises(Unauthorized):
        webhook.verify(WebhookRequest(headers={}, body=b"[]"))


@pytest.mark.parametrize("body", [b"{not json", b'{"msys": {}}', b'[{"msys": []}]', b"[1]"])
def test_sparkpost_malformed_batch_is_malformed(body: bytes) -> None:
    sign = more_signer("sparkpost")
    webhook = webhook_for(sign)
    request = incoming(sign, *sign.request(body))
    webhook.verify(request)
    with pytest.raises(Malformed):
        list(webhook.events(request))


# --- Azure Communication Services through Event Grid ---------------------------------------


@pytest.mark.parametrize(
    ("status", "event", "bounce"),
    [
        ("Delivered", "delivered", None),
        ("Bounced", "bounced", "hard"),
        ("Failed", "bounced", "soft"),
        ("Suppressed", "rejected", None),
        ("Quarantined", "rejected", None),
        ("FilteredSpam", "rejected", None),
    ],
)
async def test_acs_delivery_report_statuses_are_normalised(
    status: str, event: str, bounce: str | None
) -> None:
    sign = more_signer("acs")
    webhook = webhook_for(sign)
    report = payloads.acs(status, message_id="op-1", to=VISITOR, event_id="eg-1")
    (parsed,) = await verified(webhook, incoming(sign, *sign.request([report])))
    assert isinstance(parsed, DeliveryEvent)
    assert (parsed.provider, parsed.event, parsed.bounce) == ("acs", event, bounce)
    assert (parsed.event_id, parsed.provider_message_id) == ("eg-1", "op-1")
    assert parsed.recipient == VISITOR
    assert parsed.occurred_at.isoformat().startswith("2020-09-18T00:22:20.285")
    assert (status in parsed.reason) is (event != "delivered")


async def test_acs_answers_the_validation_handshake_with_its_code() -> None:
    sign = more_signer("acs")
    webhook = webhook_for(sign)
    request = incoming(sign, *sign.request(payloads.event_grid_validation("512d38b6-c7b8")))
    webhook.verify(request)
    async with httpx.AsyncClient() as client:
        assert await webhook.handshake(request, client) == {"validationResponse": "512d38b6-c7b8"}


def test_acs_engagement_and_expanded_reports_are_ignored() -> None:
    sign = more_signer("acs")
    webhook = webhook_for(sign)
    expanded = payloads.acs("Expanded", message_id="m", to=VISITOR, event_id="1")
    engagement = dict(
        expanded, eventType="Microsoft.Communication.EmailEngagementTrackingReportReceived"
    )
    request = incoming(sign, *sign.request([expanded, engagement]))
    assert list(webhook.events(request)) == [None, None]


def test_acs_wrong_or_missing_token_is_refused() -> None:
    sign = more_signer("acs")
    webhook = webhook_for(sign)
    headers, body = sign.request([])
    for query in ({}, {"token": "x" * 32}, {"token": sign.secret + "x"}, {"other": sign.secret}):
        with pytest.raises(Unauthorized):
            webhook.verify(WebhookRequest(headers=headers, body=body, query=query))


REPORT = b'"eventType": "Microsoft.Communication.EmailDeliveryReportReceived"'


@pytest.mark.parametrize(
    "body", [b"{not json", b'{"eventType": "x"}', b"[1]", b"[{" + REPORT + b', "data": 1}]']
)
def test_acs_malformed_body_is_malformed(body: bytes) -> None:
    sign = more_signer("acs")
    webhook = webhook_for(sign)
    request = incoming(sign, {}, body)
    webhook.verify(request)
    with pytest.raises(Malformed):
        list(webhook.events(request))


# --- Amazon SES through SNS ------------------------------------------------------------------


@pytest.mark.parametrize("version", ["1", "2"])
@pytest.mark.parametrize("event", ["delivered", "deferred", "bounced", "complained", "rejected"])
async def test_ses_events_verified_with_the_fetched_certificate(
    sns: respx.MockRouter, event: str, version: str
) -> None:
    sign = more_signer("ses")
    sign.signature_version = version
    sns.get(SNS_CERT_URL).respond(200, content=sign.certificate)
    webhook = webhook_for(sign)
    outbox_id = str(uuid.uuid4())
    record = payloads.ses(event, message_id="ses-1", to=VISITOR, outbox_id=outbox_id)
    (parsed,) = await verified(webhook, incoming(sign, *sign.request(record, event_id="sns-1")))
    assert isinstance(parsed, DeliveryEvent)
    assert (parsed.provider, parsed.event, parsed.event_id) == ("ses", event, f"sns-1:{VISITOR}")
    assert (parsed.provider_message_id, parsed.outbox_id) == ("ses-1", outbox_id)
    assert parsed.recipient == VISITOR
    assert parsed.bounce == ("hard" if event == "bounced" else None)


async def test_ses_transient_bounce_is_soft_and_opens_are_ignored(sns: respx.MockRouter) -> None:
    sign = more_signer("ses")
    sns.get(SNS_CERT_URL).respond(200, content=sign.certificate)
    webhook = webhook_for(sign)
    record = payloads.ses("bounced", message_id="m", to=VISITOR)
    record["bounce"]["bounceType"] = "Transient"
    (parsed,) = await verified(webhook, incoming(sign, *sign.request(record)))
    assert parsed is not None
    assert (parsed.bounce, parsed.outbox_id) == ("soft", None)
    assert "5.1.1" in parsed.reason
    opened = payloads.ses("unknown", message_id="m", to=VISITOR)
    assert await verified(webhook, incoming(sign, *sign.request(opened))) == [None]


async def test_ses_odd_event_records_are_ignored_or_malformed(sns: respx.MockRouter) -> None:
    sign = more_signer("ses")
    sns.get(SNS_CERT_URL).respond(200, content=sign.certificate)
    webhook = webhook_for(sign)
    unhashable = incoming(sign, *sign.request({"eventType": ["Bounce"]}))
    assert await verified(webhook, unhashable) == [None]
    for record in ({"eventType": "Bounce", "mail": []}, {"eventType": "Delivery", "mail": {}}):
        with pytest.raises(Malformed):
            await verified(webhook, incoming(sign, *sign.request(record)))


async def test_ses_identity_notifications_are_read_too(sns: respx.MockRouter) -> None:
    sign = more_signer("ses")
    sns.get(SNS_CERT_URL).respond(200, content=sign.certificate)
    record = payloads.ses("complained", message_id="m", to=VISITOR)
    record["notificationType"] = record.pop("eventType")
    del record["mail"]["tags"]  # identities publish no tags
    (parsed,) = await verified(webhook_for(sign), incoming(sign, *sign.request(record)))
    assert parsed is not None
    assert (parsed.event, parsed.provider_message_id) == ("complained", "m")


async def test_ses_certificate_is_fetched_once_and_cached(sns: respx.MockRouter) -> None:
    sign = more_signer("ses")
    route = sns.get(SNS_CERT_URL).respond(200, content=sign.certificate)
    webhook = webhook_for(sign)
    for _ in range(3):
        record = payloads.ses("delivered", message_id="m", to=VISITOR)
        await verified(webhook, incoming(sign, *sign.request(record)))
    assert route.call_count == 1


async def test_ses_signature_by_another_key_is_refused(sns: respx.MockRouter) -> None:
    sign = more_signer("ses")
    sns.get(SNS_CERT_URL).respond(200, content=sign.certificate)
    impostor = more_signer("ses")  # same topic and certificate URL, another key
    record = payloads.ses("bounced", message_id="m", to=VISITOR)
    with pytest.raises(Unauthorized):
        await verified(webhook_for(sign), incoming(sign, *impostor.request(record)))


async def test_ses_tampered_message_is_refused(sns: respx.MockRouter) -> None:
    sign = more_signer("ses")
    sns.get(SNS_CERT_URL).respond(200, content=sign.certificate)
    headers, body = sign.request(payloads.ses("delivered", message_id="m", to=VISITOR))
    tampered = body.replace(b"Delivery", b"Bounce")
    with pytest.raises(Unauthorized):
        await verified(webhook_for(sign), incoming(sign, headers, tampered))


@pytest.mark.parametrize(
    "url",
    [
        "https://sns.eu-west-1.amazonaws.com.evil.example/cert.pem",
        "http://sns.eu-west-1.amazonaws.com/SimpleNotificationService-1.pem",
        "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-1.pem",  # not the topic's
        "https://evil.example/sns.eu-west-1.amazonaws.com/cert.pem",
        "https://sns.eu-west-1.amazonaws.com/not-a-certificate",
    ],
)
async def test_ses_certificate_from_elsewhere_is_never_fetched(
    sns: respx.MockRouter, url: str
) -> None:
    sign = more_signer("ses")
    envelope = sign.sns_envelope("Notification", Message="{}", SigningCertURL=url)
    request = incoming(sign, {}, json.dumps(envelope).encode())
    with pytest.raises(Unauthorized):
        await verified(webhook_for(sign), request)
    assert not sns.calls


async def test_ses_other_topic_is_refused_before_anything_is_fetched(
    sns: respx.MockRouter,
) -> None:
    sign = more_signer("ses")
    other = more_signer("ses")
    other.secret = "arn:aws:sns:eu-west-1:123456789012:someone-else"
    request = incoming(sign, *other.request(payloads.ses("delivered", message_id="m", to=VISITOR)))
    with pytest.raises(Unauthorized):
        await verified(webhook_for(sign), request)
    assert not sns.calls


async def test_ses_unreachable_certificate_is_503_for_a_retry(sns: respx.MockRouter) -> None:
    sign = more_signer("ses")
    sns.get(SNS_CERT_URL).mock(side_effect=httpx.ConnectError("refused"))
    request = incoming(sign, *sign.request(payloads.ses("delivered", message_id="m", to=VISITOR)))
    with pytest.raises(SnsUnavailable) as refused:
        await verified(webhook_for(sign), request)
    assert refused.value.status == 503


async def test_ses_subscription_is_confirmed_only_after_its_signature_verifies(
    sns: respx.MockRouter,
) -> None:
    sign = more_signer("ses")
    sns.get(SNS_CERT_URL).respond(200, content=sign.certificate)
    confirm = sns.get(SUBSCRIBE_URL).respond(200, text="<ConfirmSubscriptionResponse/>")
    webhook = webhook_for(sign)
    envelope = sign.sns_envelope(
        "SubscriptionConfirmation",
        Message="You have chosen to subscribe to the topic ...",
        SubscribeURL=SUBSCRIBE_URL,
        Token="2336412f37",
    )
    forged = dict(envelope, Signature=more_signer("ses").sns_envelope("Notification")["Signature"])
    async with httpx.AsyncClient() as client:
        request = incoming(sign, {}, json.dumps(forged).encode())
        await webhook.fetch(request, client)
        with pytest.raises(Unauthorized):
            webhook.verify(request)
        assert confirm.call_count == 0
        request = incoming(sign, {}, json.dumps(envelope).encode())
        webhook.verify(request)
        assert await webhook.handshake(request, client) == {"success": True, "subscribed": True}
    assert confirm.call_count == 1


def test_ses_topic_arn_must_be_one() -> None:
    with pytest.raises(ConfigError, match=r"^SES_WEBHOOK_TOPIC_ARN: "):
        configured_webhooks(load_settings(ses_webhook_topic_arn="ses-events"))
    china = SesWebhook("arn:aws-cn:sns:cn-north-1:123456789012:t")
    assert china.sns_host == "sns.cn-north-1.amazonaws.com.cn"


def test_unusable_secrets_stop_startup_naming_their_variable() -> None:
    with pytest.raises(ConfigError, match=r"^ACS_WEBHOOK_TOKEN: "):
        configured_webhooks(load_settings(acs_webhook_token="short"))
    with pytest.raises(ConfigError, match=r"^SPARKPOST_WEBHOOK_AUTH: "):
        configured_webhooks(load_settings(sparkpost_webhook_auth="no-colon"))

"""Amazon SES events through Amazon SNS: the SNS message signature, then SES's event record.

Format followed (pages read 2026-11-27):

* Verifying SNS message signatures — https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html
  and https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message-verify-message-signature.html:
  the string to sign is ``name\\nvalue\\n`` for ``Message``, ``MessageId``,
  ``Subject`` (when present), ``Timestamp``, ``TopicArn``, ``Type`` (a
  notification) or ``Message``, ``MessageId``, ``SubscribeURL``, ``Timestamp``,
  ``Token``, ``TopicArn``, ``Type`` (a subscription or unsubscription
  confirmation); ``Signature`` is its base64 RSA PKCS#1 v1.5 signature with
  SHA1 (``SignatureVersion`` 1) or SHA256 (2), by the key of the X.509
  certificate at ``SigningCertURL``. The certificate is fetched only over
  HTTPS from ``sns.<region>.amazonaws.com`` (the region of the configured
  topic), through the app's shared client, and cached per URL; a message
  from any other ``TopicArn`` is refused, as the page advises.
* Message formats — https://docs.aws.amazon.com/sns/latest/dg/sns-message-and-json-formats.html:
  the JSON body's ``Type`` is ``Notification``, ``SubscriptionConfirmation``
  (with ``SubscribeURL`` and ``Token``) or ``UnsubscribeConfirmation``. A
  subscription is confirmed here by a GET of ``SubscribeURL`` (same host
  rule), only after its signature verified. The subscription must not use
  raw message delivery (the SNS envelope is what is signed).
* SES event records — https://docs.aws.amazon.com/ses/latest/dg/event-publishing-retrieving-sns-contents.html
  and the examples of https://docs.aws.amazon.com/ses/latest/dg/event-publishing-retrieving-sns-examples.html:
  ``Message`` is a JSON record with ``eventType`` (``notificationType`` for an
  identity's feedback notifications), ``mail`` (``messageId``, ``destination``,
  ``tags``) and ``bounce`` (``bounceType`` ``Permanent`` | ``Transient`` |
  ``Undetermined``, ``bounceSubType``, ``bouncedRecipients``), ``complaint``
  (``complainedRecipients``), ``delivery`` (``recipients``), ``reject``
  (``reason``) or ``deliveryDelay`` (``delayedRecipients``).

Normalised: Delivery → delivered, DeliveryDelay → deferred, Bounce → bounced
(``Permanent`` hard, otherwise soft), Complaint → complained, Reject →
rejected; Send, Open, Click, Rendering Failure, Subscription are ignored. One
event per recipient named, with the SNS ``MessageId`` (the same on every
retry) and the recipient as event id. SNS's signed ``Timestamp`` is when the
message was published, so the 5-minute window holds with SNS's default HTTP
retry policy (3 retries, 20 s apart); a policy retrying for longer is refused.
The message id is ``mail.messageId``, which SES returned at send; the outbox
id comes back in ``mail.tags`` (sent as an ``EmailTag`` by
:mod:`service.providers.ses`) when the events come from a configuration set.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import urlsplit

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from service.jsonparse import JsonError, parse_json
from service.outbox.delivery import DeliveryEvent
from service.providers.http import OUTBOX_ID_KEY
from service.webhooks.base import (
    Malformed,
    ProviderWebhook,
    Unauthorized,
    WebhookRefused,
    WebhookRequest,
    from_iso,
    require_object,
    short_reason,
    text_field,
)

if TYPE_CHECKING:
    from service.providers.base import ProviderSettings

__all__ = ["SNS_ALGORITHMS", "SesWebhook", "SnsUnavailable", "string_to_sign"]

# arn:aws:sns:eu-west-1:123456789012:ses-events (aws-cn, aws-us-gov partitions too).
_TOPIC_ARN = re.compile(r"^arn:(aws(?:-cn|-us-gov)?):sns:([a-z0-9-]+):\d{12}:[\w-]{1,256}$")
_NOTIFICATION_KEYS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
_CONFIRMATION_KEYS = (
    "Message",
    "MessageId",
    "SubscribeURL",
    "Timestamp",
    "Token",
    "TopicArn",
    "Type",
)
_CONFIRMATIONS = ("SubscriptionConfirmation", "UnsubscribeConfirmation")
#: SignatureVersion → hash of the RSA PKCS#1 v1.5 signature.
SNS_ALGORITHMS: dict[str, type[hashes.HashAlgorithm]] = {"1": hashes.SHA1, "2": hashes.SHA256}
_CACHED_CERTIFICATES = 16
_EVENTS = {
    "Delivery": ("delivered", "delivery", "recipients"),
    "DeliveryDelay": ("deferred", "deliveryDelay", "delayedRecipients"),
    "Bounce": ("bounced", "bounce", "bouncedRecipients"),
    "Complaint": ("complained", "complaint", "complainedRecipients"),
    "Reject": ("rejected", "reject", None),
}


class SnsUnavailable(WebhookRefused):
    """SNS could not be reached (certificate, subscription confirmation): SNS retries later."""

    status = 503


def string_to_sign(message: Mapping[str, Any]) -> bytes:
    """The bytes SNS signs for ``message`` (a notification or a confirmation)."""
    keys = _CONFIRMATION_KEYS if message.get("Type") in _CONFIRMATIONS else _NOTIFICATION_KEYS
    lines = [f"{key}\n{message[key]}\n" for key in keys if message.get(key) is not None]
    return "".join(lines).encode("utf-8")


class SesWebhook(ProviderWebhook):
    """Verifies SNS's signature with the topic's cached certificate; reads SES's record."""

    name = "ses"

    def __init__(self, topic_arn: str) -> None:
        match = _TOPIC_ARN.match(topic_arn.strip())
        if match is None:
            raise ValueError("not an SNS topic ARN (arn:aws:sns:<region>:<account>:<topic>)")
        partition, region = match.groups()
        self._topic = topic_arn.strip()
        suffix = ".amazonaws.com.cn" if partition == "aws-cn" else ".amazonaws.com"
        #: The only host a certificate or a SubscribeURL may come from.
        self.sns_host = f"sns.{region}{suffix}"
        self._certificates: dict[str, rsa.RSAPublicKey] = {}

    @classmethod
    def from_settings(cls, options: ProviderSettings) -> Self:
        return cls(options.secret("webhook_topic_arn"))

    async def fetch(self, request: WebhookRequest, client: httpx.AsyncClient) -> None:
        message = self._envelope(request)
        url = self._sns_url(message, "SigningCertURL")
        if url in self._certificates:
            return
        if not urlsplit(url).path.endswith(".pem"):
            raise Unauthorized("SigningCertURL is not a certificate")
        self._remember(url, await _get(client, url, "fetching the SNS signing certificate"))

    def _remember(self, url: str, pem: bytes) -> None:
        try:
            certificate = x509.load_pem_x509_certificate(pem)
        except ValueError:
            raise Unauthorized("SigningCertURL did not serve a certificate") from None
        key = certificate.public_key()
        now = datetime.now(UTC)
        if not isinstance(key, rsa.RSAPublicKey):
            raise Unauthorized("the SNS signing certificate has no RSA key")
        if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
            raise Unauthorized("the SNS signing certificate is not valid now")
        if len(self._certificates) >= _CACHED_CERTIFICATES:
            self._certificates.pop(next(iter(self._certificates)))
        self._certificates[url] = key

    def verify(self, request: WebhookRequest) -> datetime | None:
        message = self._envelope(request)
        key = self._certificates.get(self._sns_url(message, "SigningCertURL"))
        algorithm = SNS_ALGORITHMS.get(str(message.get("SignatureVersion")))
        if key is None or algorithm is None:
            raise Unauthorized("unknown SNS signing certificate or SignatureVersion")
        if not all(isinstance(message.get(k), str) for k in ("Message", "MessageId", "Type")):
            raise Unauthorized("the SNS message lacks a signed field")
        try:
            signature = base64.b64decode(str(message.get("Signature", "")), validate=True)
            key.verify(signature, string_to_sign(message), padding.PKCS1v15(), algorithm())
        except (binascii.Error, ValueError, InvalidSignature):
            raise Unauthorized("SNS signature refused") from None
        try:
            return from_iso(message.get("Timestamp"))
        except Malformed:
            raise Unauthorized("the signed Timestamp is not a time") from None

    async def handshake(
        self, request: WebhookRequest, client: httpx.AsyncClient
    ) -> Mapping[str, Any] | None:
        message = self._envelope(request)
        if message.get("Type") == "UnsubscribeConfirmation":
            return {"success": True, "events": {}}
        if message.get("Type") != "SubscriptionConfirmation":
            return None
        await _get(client, self._sns_url(message, "SubscribeURL"), "confirming the subscription")
        return {"success": True, "subscribed": True}

    def events(self, request: WebhookRequest) -> Iterable[DeliveryEvent | None]:
        message = self._envelope(request)
        try:
            record = parse_json(message["Message"])
        except JsonError as err:
            raise Malformed(f"the SNS Message is not acceptable JSON: {err}") from None
        return _events(require_object(record, "the SES event record"), message["MessageId"])

    def _envelope(self, request: WebhookRequest) -> Mapping[str, Any]:
        """The SNS message, refused unless it is from the configured topic."""
        message = request.json()
        if not isinstance(message, dict) or message.get("TopicArn") != self._topic:
            raise Unauthorized("not a message of the configured SNS topic")
        return message

    def _sns_url(self, message: Mapping[str, Any], field: str) -> str:
        """``message[field]`` when it is an HTTPS URL on the topic's SNS host."""
        value = message.get(field)
        url = urlsplit(value) if isinstance(value, str) else None
        if url is None or url.scheme != "https" or url.netloc != self.sns_host:
            raise Unauthorized(f"{field} is not an https://{self.sns_host} URL")
        return str(value)


async def _get(client: httpx.AsyncClient, url: str, doing: str) -> bytes:
    """GET ``url`` (an SNS URL, checked) through the shared client; 503 when SNS fails."""
    try:
        response = await client.get(url)
    except httpx.HTTPError:
        raise SnsUnavailable(f"{doing}: SNS could not be reached") from None
    if response.status_code != 200:
        raise SnsUnavailable(f"{doing}: HTTP {response.status_code}")
    return response.content


def _events(record: Mapping[str, Any], sns_id: str) -> list[DeliveryEvent | None]:
    kind = record.get("eventType") or record.get("notificationType")
    if not isinstance(kind, str) or kind not in _EVENTS:
        return [None]
    event, key, recipients_key = _EVENTS[kind]
    mail = require_object(record.get("mail"), "mail")
    detail = require_object(record.get(key, {}), key)
    listed = detail.get(recipients_key) if recipients_key else mail.get("destination")
    recipients = [_address(item) for item in listed] if isinstance(listed, list) else []
    tags = mail.get("tags")
    outbox = tags.get(OUTBOX_ID_KEY) if isinstance(tags, dict) else None
    return [
        DeliveryEvent(
            provider="ses",
            event_id=f"{sns_id}:{recipient or ''}",
            event=event,  # type: ignore[arg-type] - a normalised name
            occurred_at=from_iso(detail.get("timestamp") or mail.get("timestamp")),
            provider_message_id=text_field(mail, "messageId"),
            outbox_id=outbox[0] if isinstance(outbox, list) and _is_text(outbox[:1]) else None,
            recipient=recipient,
            bounce=_bounce(detail) if event == "bounced" else None,
            reason=_reason(event, detail, listed),
        )
        for recipient in recipients or [None]
    ]


def _is_text(values: list[Any]) -> bool:
    return bool(values) and isinstance(values[0], str)


def _address(item: Any) -> str | None:
    """A recipient: a plain address (delivery) or an object with ``emailAddress``."""
    if isinstance(item, dict):
        return text_field(item, "emailAddress")
    return item if isinstance(item, str) and item else None


def _bounce(detail: Mapping[str, Any]) -> str:
    return "hard" if detail.get("bounceType") == "Permanent" else "soft"


def _reason(event: str, detail: Mapping[str, Any], listed: Any) -> str:
    if event == "delivered":
        return ""
    first = listed[0] if isinstance(listed, list) and listed else {}
    first = first if isinstance(first, dict) else {}
    return short_reason(
        detail.get("bounceType"),
        detail.get("bounceSubType"),
        detail.get("complaintFeedbackType"),
        detail.get("delayType"),
        detail.get("reason"),
        first.get("status"),
        first.get("diagnosticCode"),
    )

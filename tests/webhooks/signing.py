"""Sign webhook requests the way each provider does, with keys made in the test.

:class:`Signer` is the one test double per provider for "the provider sending
a webhook": it holds the secret (the value configured in the service) and
turns a payload into the exact headers and body the provider would send.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from svix.webhooks import Webhook

__all__ = ["MORE_PROVIDERS", "PROVIDERS", "MoreSigner", "Signer", "more_signer", "signer"]

PROVIDERS = ("mailgun", "postmark", "resend", "sendgrid")
#: Providers whose webhooks need more than headers and body (see their block below).
MORE_PROVIDERS = ("sparkpost", "acs", "ses")


@dataclass
class Signer:
    """One provider's signing side: ``setting`` is the service's variable, ``secret`` its value."""

    provider: str
    setting: str
    secret: str
    _private_key: Any = field(default=None, repr=False)

    def request(
        self, payload: Any, *, when: datetime | None = None, event_id: str | None = None
    ) -> tuple[dict[str, str], bytes]:
        """Headers and body for ``payload`` (bytes are sent as they are), signed at ``when``."""
        when = when or datetime.now(UTC)
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = {"content-type": "application/json"}
        if self.provider in HOOKS2_SIGNERS:
            return headers | HOOKS2_SIGNERS[self.provider](self.secret, body), body
        if self.provider == "resend":
            msg_id = event_id or f"msg_{secrets.token_hex(8)}"
            signature = Webhook(self.secret).sign(msg_id, when, body.decode())
            headers |= {
                "svix-id": msg_id,
                "svix-timestamp": str(int(when.timestamp())),
                "svix-signature": signature,
            }
        elif self.provider == "postmark":
            token = base64.b64encode(self.secret.encode()).decode()
            headers["authorization"] = f"Basic {token}"
        elif self.provider == "sendgrid":
            timestamp = str(int(when.timestamp()))
            der = self._private_key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
            headers |= {
                "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(der).decode(),
                "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
            }
        else:
            body = json.dumps(self.mailgun_body(payload, when)).encode()
        return headers, body

    def mailgun_body(self, event_data: Any, when: datetime) -> dict[str, Any]:
        """Mailgun's body: the signature object (HMAC of timestamp + token) and ``event-data``."""
        timestamp = str(int(when.timestamp()))
        token = secrets.token_hex(25)
        digest = hmac.new(
            self.secret.encode(), (timestamp + token).encode(), hashlib.sha256
        ).hexdigest()
        return {
            "signature": {"timestamp": timestamp, "token": token, "signature": digest},
            "event-data": event_data,
        }


def signer(provider: str) -> Signer:
    """A fresh secret (or key pair) for ``provider``."""
    if provider in HOOKS2_SECRETS:
        setting, secret = HOOKS2_SECRETS[provider]()
        return Signer(provider, setting, secret)
    if provider == "resend":
        raw = base64.b64encode(secrets.token_bytes(24)).decode()
        return Signer("resend", "resend_webhook_secret", f"whsec_{raw}")
    if provider == "postmark":
        return Signer("postmark", "postmark_webhook_auth", f"hooks:{secrets.token_urlsafe(12)}")
    if provider == "sendgrid":
        private = ec.generate_private_key(ec.SECP256R1())
        public = private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return Signer(
            "sendgrid",
            "sendgrid_webhook_public_key",
            base64.b64encode(public).decode(),
            private,
        )
    return Signer("mailgun", "mailgun_webhook_signing_key", secrets.token_hex(16))


# --- SparkPost, Azure Communication Services (Event Grid), Amazon SES (SNS) ---------------
# Kept apart from the four above: SparkPost sends Basic credentials, Event Grid a token in
# the URL's query, and SNS signs an envelope whose certificate the service fetches.

SNS_REGION = "eu-west-1"
SNS_TOPIC = f"arn:aws:sns:{SNS_REGION}:123456789012:ses-events"
SNS_CERT_URL = (
    f"https://sns.{SNS_REGION}.amazonaws.com/SimpleNotificationService-"
    "9c6465fa7f48f5cacd23014631ec1136.pem"
)


@dataclass
class MoreSigner:
    """SparkPost, ACS or SES sending a webhook: ``setting`` and ``secret`` as configured.

    For SES, ``secret`` is the topic ARN and ``certificate`` the PEM that
    :data:`SNS_CERT_URL` must serve (a self-signed certificate made here).
    """

    provider: str
    setting: str
    secret: str
    _private_key: Any = field(default=None, repr=False)
    certificate: bytes = b""
    signature_version: str = "2"

    def query(self) -> dict[str, str]:
        """The query arguments of the URL the provider posts to."""
        return {"token": self.secret} if self.provider == "acs" else {}

    def request(
        self, payload: Any, *, when: datetime | None = None, event_id: str | None = None
    ) -> tuple[dict[str, str], bytes]:
        """Headers and body for ``payload`` (SES: the event record; bytes are sent as they are)."""
        headers = {"content-type": "application/json"}
        if self.provider == "sparkpost":
            token = base64.b64encode(self.secret.encode()).decode()
            headers["authorization"] = f"Basic {token}"
        if self.provider == "ses" and not isinstance(payload, bytes):
            message = payload if isinstance(payload, str) else json.dumps(payload)
            envelope = self.sns_envelope(
                "Notification", Message=message, MessageId=event_id, when=when
            )
            headers = {"content-type": "text/plain; charset=UTF-8"}
            headers["x-amz-sns-message-type"] = "Notification"
            return headers, json.dumps(envelope).encode()
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        return headers, body

    def sns_envelope(
        self, kind: str, *, when: datetime | None = None, **fields: Any
    ) -> dict[str, Any]:
        """An SNS message of ``kind`` with ``fields``, signed as SNS documents it."""
        when = when or datetime.now(UTC)
        message: dict[str, Any] = {
            "Type": kind,
            "MessageId": fields.pop("MessageId", None) or str(uuid.uuid4()),
            "TopicArn": self.secret,
            "Timestamp": when.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "SignatureVersion": self.signature_version,
            "SigningCertURL": SNS_CERT_URL,
            **fields,
        }
        keys = (
            ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
            if kind != "Notification"
            else ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
        )
        text = "".join(f"{key}\n{message[key]}\n" for key in keys if key in message)
        algorithm = hashes.SHA1() if self.signature_version == "1" else hashes.SHA256()
        signature = self._private_key.sign(text.encode(), padding.PKCS1v15(), algorithm)
        message["Signature"] = base64.b64encode(signature).decode()
        return message


def more_signer(provider: str) -> MoreSigner:
    """A fresh secret (SES: a fresh RSA key and certificate) for ``provider``."""
    if provider == "sparkpost":
        return MoreSigner("sparkpost", "sparkpost_webhook_auth", f"sp:{secrets.token_urlsafe(12)}")
    if provider == "acs":
        return MoreSigner("acs", "acs_webhook_token", secrets.token_urlsafe(24))
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return MoreSigner("ses", "ses_webhook_topic_arn", SNS_TOPIC, private, sns_certificate(private))


def sns_certificate(private: Any) -> bytes:
    """A self-signed certificate for ``private``, valid for a day, as PEM."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .sign(private, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM)


# --- brevo, mailjet, mailersend --------------------------------------------------------
# Brevo: the bearer token set as the webhook's ``auth`` (Basic credentials are tested on
# their own); Mailjet: Basic credentials from the callback URL; MailerSend: ``Signature``,
# the hex HMAC-SHA256 of the raw body keyed with the signing secret.


def _bearer(secret: str, body: bytes) -> dict[str, str]:
    return {"authorization": f"Bearer {secret}"}


def _basic(secret: str, body: bytes) -> dict[str, str]:
    return {"authorization": f"Basic {base64.b64encode(secret.encode()).decode()}"}


def _hmac_body(secret: str, body: bytes) -> dict[str, str]:
    return {"Signature": hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()}


HOOKS2_SIGNERS = {"brevo": _bearer, "mailjet": _basic, "mailersend": _hmac_body}
HOOKS2_SECRETS = {
    "brevo": lambda: ("brevo_webhook_auth", secrets.token_urlsafe(24)),
    "mailjet": lambda: ("mailjet_webhook_auth", f"hooks:{secrets.token_urlsafe(12)}"),
    "mailersend": lambda: ("mailersend_webhook_signing_secret", secrets.token_urlsafe(30)),
}
PROVIDERS += tuple(HOOKS2_SIGNERS)

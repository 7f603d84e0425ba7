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
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from svix.webhooks import Webhook

__all__ = ["PROVIDERS", "Signer", "signer"]

PROVIDERS = ("mailgun", "postmark", "resend", "sendgrid")


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

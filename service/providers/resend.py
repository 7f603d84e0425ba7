"""The ``resend`` provider: Resend's REST API.

Format followed (pages read 2026-11-26):

* Send email — https://resend.com/docs/api-reference/emails/send-email:
  ``POST {RESEND_BASE_URL}/emails``, ``Authorization: Bearer {RESEND_API_KEY}``,
  JSON ``from``, ``to`` (list, at most 50), ``reply_to``, ``subject``,
  ``html``, ``text``, ``headers`` (object); success is 200 ``{"id": "..."}``.
* Idempotency keys — https://resend.com/docs/dashboard/emails/idempotency-keys:
  header ``Idempotency-Key`` (1 to 256 characters, kept 24 hours); a retry
  with the same key and payload returns the first answer without sending again.
* Errors — https://resend.com/docs/api-reference/errors: JSON
  ``{"statusCode", "name", "message"}``. Refined here: ``daily_quota_exceeded``
  and ``monthly_quota_exceeded`` (429) mean the provider is unavailable, not
  busy; ``concurrent_idempotent_requests`` (409) is transient;
  ``invalid_idempotent_request`` (409, the key was used with another payload)
  is a rejection, since Resend has already taken a version of this email.
* Rate limits — https://resend.com/docs/api-reference/rate-limit: 429 with
  ``retry-after`` in seconds.
* Check (``python -m service check``) — List Domains,
  https://resend.com/docs/api-reference/domains/list-domains: ``GET
  {RESEND_BASE_URL}/domains`` with the same bearer key; 200 ``{"object":
  "list", "data": [{"name", "status", ...}]}``. A key with "Sending access"
  only (the recommended kind) is answered 401 ``restricted_api_key`` ("This
  API key is restricted to only send emails", errors page above): Resend
  has recognised the key, so the check passes; an unknown key is 403
  ``invalid_api_key`` (or ``validation_error`` "API key is invalid").

Addresses: Resend rejects a quoted display name (``"Smith, John" <...>``) and
answers 451 ``security_error`` to an RFC 2047 encoded word in ``from`` (both
documented by django-anymail's Resend backend). So ``to`` and ``reply_to``
use an encoded word for any name that is non-ASCII or needs quoting, and
``from`` carries the plain Unicode name unquoted; a From name with characters
that only a quoted-string can carry fails loudly (``EMAIL_FROM_NAME``).

Message-ID: not sent. Resend documents no way to set it (it delivers through
Amazon SES, which replaces it); the stable id travels as the idempotency key.
"""

from __future__ import annotations

import hashlib
from email.charset import Charset
from email.utils import formataddr
from typing import TYPE_CHECKING, Any

from service.providers.catalog.resend import ResendSettings
from service.providers.errors import MessageRejected, ProviderUnavailable, SendError, TransientError
from service.providers.http import (
    ErrorDetail,
    HttpProvider,
    HttpRequest,
    json_body,
    needs_quoting,
    plain_reason,
    short,
)

if TYPE_CHECKING:
    from email.headerregistry import Address

    import httpx

    from service.message import OutgoingEmail

__all__ = ["ResendProvider", "idempotency_key"]

_IDEMPOTENCY_KEY_LIMIT = 256
_SENDING_ONLY = "restricted_api_key"
_QUOTA_ERRORS = frozenset({"daily_quota_exceeded", "monthly_quota_exceeded"})
# Characters a display name can carry unquoted in Resend's ``from`` parser.
_UNQUOTABLE = frozenset(',;:<>@"\\()[]')
_UTF8 = Charset("utf-8")


def idempotency_key(message_id: str) -> str:
    """Resend's ``Idempotency-Key`` for an email: its Message-ID without angle brackets.

    The Message-ID is fixed when the email is made and kept across retries,
    providers and restarts, so every attempt at one email shares one key.
    A rare id longer than Resend's 256 characters is hashed instead.
    """
    key = message_id.strip().strip("<>")
    if len(key) <= _IDEMPOTENCY_KEY_LIMIT:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


class ResendProvider(HttpProvider):
    """Sends each email with one ``POST /emails`` call to Resend."""

    declaration = ResendSettings
    options: ResendSettings

    def build_request(self, email: OutgoingEmail) -> HttpRequest:
        body: dict[str, Any] = {
            "from": self._sender(email.sender),
            "to": [_recipient(address) for address in email.to],
            "subject": email.subject,
            "html": email.html,
            "text": email.text,
        }
        if email.reply_to is not None:
            body["reply_to"] = _recipient(email.reply_to)
        headers = self.extra_headers(email)
        if headers:
            body["headers"] = headers
        return HttpRequest(
            method="POST",
            url=self.url("emails"),
            headers={"Idempotency-Key": idempotency_key(email.message_id)},
            json=body,
        )

    async def auth_headers(self, request: HttpRequest) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.options.secret('api_key')}"}

    def check_request(self) -> HttpRequest:
        return HttpRequest(method="GET", url=self.url("domains"))

    def check_passed(self, response: httpx.Response) -> str | None:
        body = json_body(response)
        domains = body.get("data") if isinstance(body, dict) else None
        if not isinstance(domains, list):
            return None
        verified = sum(
            isinstance(domain, dict) and domain.get("status") == "verified" for domain in domains
        )
        return f"full-access key accepted; {verified} of {len(domains)} domain(s) verified"

    def parse_check(self, response: httpx.Response) -> str:
        if response.status_code == 401 and self.error_detail(response).code == _SENDING_ONLY:
            return "sending-only key accepted (GET /domains answered restricted_api_key)"
        return super().parse_check(response)

    def _sender(self, address: Address) -> str:
        name = address.display_name
        if not name:
            return address.addr_spec
        if _UNQUOTABLE.intersection(name):
            raise self.unsupported(
                "EMAIL_FROM_NAME has characters Resend cannot take in 'from' (such as a comma)"
            )
        return f"{name} <{address.addr_spec}>"

    def error_detail(self, response: httpx.Response) -> ErrorDetail:
        body = json_body(response)
        if isinstance(body, dict) and isinstance(body.get("name"), str):
            return ErrorDetail(body["name"], short(str(body.get("message") or body["name"])))
        return ErrorDetail(None, plain_reason(response))

    def classify(self, status: int, code: str | int | None) -> type[SendError]:
        if code in _QUOTA_ERRORS:
            return ProviderUnavailable
        if code == "concurrent_idempotent_requests":
            return TransientError
        if code == "invalid_idempotent_request":
            return MessageRejected
        return super().classify(status, code)


def _recipient(address: Address) -> str:
    name = address.display_name
    if name and (not name.isascii() or needs_quoting(name)):
        return f"{_UTF8.header_encode(name)} <{address.addr_spec}>"
    return formataddr((name, address.addr_spec))

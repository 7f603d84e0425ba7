"""The ``sparkpost`` provider: SparkPost's Transmissions API.

Format followed (pages read 2026-11-27):

* Transmissions — https://developers.sparkpost.com/api/transmissions/ (also
  ``services/transmissions.md`` of SparkPost's API documentation):
  ``POST {SPARKPOST_BASE_URL}/api/v1/transmissions`` with ``Authorization:
  {SPARKPOST_API_KEY}`` (the bare key); JSON ``recipients [{"address":
  {"email", "name"}}]``, ``content {"from": {"email", "name"}, "reply_to":
  "Name <address>", "subject", "text", "html", "headers"}`` (headers other
  than Subject, From, To and Reply-To), ``metadata`` (returned in webhook
  events; at most 1000 bytes) and ``options.transactional`` (no
  List-Unsubscribe header, transactional suppression rules). Success is 200
  ``{"results": {"total_rejected_recipients", "total_accepted_recipients",
  "id"}}``; the id is the transmission's. EU accounts use
  ``https://api.eu.sparkpost.com``.
* Extended error codes — https://support.sparkpost.com/docs/tech-resources/extended-error-codes:
  ``{"errors": [{"message", "code": "7001", "description"}]}``. Refined here:
  ``1502`` (server resources unavailable, 400) and ``1900`` are transient;
  ``2101``-``2103`` (420, hourly/daily/sandbox sending limit), ``7000``
  (blacklisted sending domain), ``7001`` (unconfigured or unverified sending
  domain) and ``1100``/``1601`` (permission, licence) make the provider
  unavailable; ``3002`` (invalid header) and ``10000``-``10002`` (restricted
  or too many custom headers) are headers this API cannot carry: unavailable,
  not a rejection. A 200 with no accepted recipient is a rejection.
* Template language — https://developers.sparkpost.com/api/template-language/:
  subject, headers, text and HTML are templates. Visitor text is sent
  literally by writing each ``{{`` as ``{{opening_double_curly()}}`` and each
  ``}}`` as ``{{closing_double_curly()}}``, the escape SparkPost documents for
  its engine ("Escaping {{ and }} in SMTP Message Body", SparkPost Elite /
  Momentum manual).

* Check (``python -m service check``) — List transmissions (same page):
  ``GET {SPARKPOST_BASE_URL}/api/v1/transmissions`` with the same key, which
  needs the key's "Transmissions: Read/Write" permission, the one sending
  uses; 200 ``{"results": [...]}``. A key without it is refused (403 ``1100``).

Outbox id: ``metadata {"outbox_id": ...}``. Message-ID: sent in
``content.headers`` (SparkPost's pages do not say whether it is kept); the id
returned is the transmission id, which SparkPost's events carry as
``transmission_id``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from service.providers.base import SendResult
from service.providers.catalog.sparkpost import SparkpostSettings
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

__all__ = ["SparkpostProvider", "literal"]

SPARKPOST_ERROR_KINDS: dict[str, type[SendError]] = {
    "1100": ProviderUnavailable,
    "1502": TransientError,
    "1601": ProviderUnavailable,
    "1900": TransientError,
    "2101": ProviderUnavailable,
    "2102": ProviderUnavailable,
    "2103": ProviderUnavailable,
    "3002": ProviderUnavailable,
    "7000": ProviderUnavailable,
    "7001": ProviderUnavailable,
    "10000": ProviderUnavailable,
    "10001": ProviderUnavailable,
    "10002": ProviderUnavailable,
}
_CURLIES = re.compile(r"\{\{|\}\}")
_ESCAPED = {"{{": "{{opening_double_curly()}}", "}}": "{{closing_double_curly()}}"}


def literal(text: str) -> str:
    """``text`` that SparkPost's template engine renders as itself."""
    return _CURLIES.sub(lambda found: _ESCAPED[found[0]], text)


class SparkpostProvider(HttpProvider):
    """Sends each email as a one-recipient-list transmission: ``POST /api/v1/transmissions``."""

    declaration = SparkpostSettings
    options: SparkpostSettings
    message_id_path = ("results", "id")

    def build_request(self, email: OutgoingEmail) -> HttpRequest:
        headers = {**self.extra_headers(email), "Message-ID": email.message_id}
        content: dict[str, Any] = {
            "from": _address(email.sender),
            "subject": literal(email.subject),
            "text": literal(email.text),
            "html": literal(email.html),
            "headers": {name: literal(value) for name, value in headers.items()},
        }
        if email.reply_to is not None:
            content["reply_to"] = literal(_mailbox(email.reply_to))
        body: dict[str, Any] = {
            "options": {"transactional": True},
            "recipients": [{"address": _address(address)} for address in email.to],
            "content": content,
        }
        if email.outbox_id is not None:
            body["metadata"] = {"outbox_id": email.outbox_id}
        return HttpRequest(method="POST", url=self.url("api/v1/transmissions"), json=body)

    async def auth_headers(self, request: HttpRequest) -> dict[str, str]:
        return {"Authorization": self.options.secret("api_key")}

    def accepted(self, response: httpx.Response) -> SendResult | None:
        result = super().accepted(response)
        body = json_body(response)
        results = body.get("results") if isinstance(body, dict) else None
        if (
            result is not None
            and isinstance(results, dict)
            and results.get("total_accepted_recipients") == 0
        ):
            raise MessageRejected(
                "SparkPost accepted none of the recipients",
                provider=self.name,
                code="total_accepted_recipients=0",
            )
        return result

    def check_request(self) -> HttpRequest:
        return HttpRequest(method="GET", url=self.url("api/v1/transmissions"))

    def check_passed(self, response: httpx.Response) -> str | None:
        body = json_body(response)
        if not isinstance(body, dict) or not isinstance(body.get("results"), list):
            return None
        return "key accepted with the Transmissions permission"

    def error_detail(self, response: httpx.Response) -> ErrorDetail:
        body = json_body(response)
        errors = body.get("errors") if isinstance(body, dict) else None
        first = errors[0] if isinstance(errors, list) and errors else None
        if not isinstance(first, dict) or not isinstance(first.get("message"), str):
            return ErrorDetail(None, plain_reason(response))
        code = first.get("code") if isinstance(first.get("code"), str) else None
        text = first["message"]
        if isinstance(first.get("description"), str) and first["description"]:
            text = f"{text}: {first['description']}"
        return ErrorDetail(code, short(text))

    def classify(self, status: int, code: str | int | None) -> type[SendError]:
        if isinstance(code, str) and code in SPARKPOST_ERROR_KINDS:
            return SPARKPOST_ERROR_KINDS[code]
        if status == 420:  # a sending limit, with or without its extended code
            return ProviderUnavailable
        return super().classify(status, code)


def _mailbox(address: Address) -> str:
    """``Name <address>`` in UTF-8 (SparkPost encodes it), the name quoted when it must be."""
    name = address.display_name
    if not name:
        return address.addr_spec
    if needs_quoting(name):
        name = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{name} <{address.addr_spec}>"


def _address(address: Address) -> dict[str, str]:
    fields = {"email": address.addr_spec}
    if address.display_name:
        fields["name"] = literal(address.display_name)
    return fields

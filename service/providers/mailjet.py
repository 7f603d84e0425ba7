"""The ``mailjet`` provider: Mailjet's Send API v3.1.

Format followed (pages read 2026-11-27; Mailjet's guide, also kept as
``guides/_send-api.md`` in github.com/mailjet/api-documentation):

* Send API v3.1 — https://dev.mailjet.com/email/guides/send-api-v31/ and
  https://dev.mailjet.com/reference/email/send-emails/: ``POST
  {MAILJET_BASE_URL}/v3.1/send`` with HTTP Basic ``{MAILJET_API_KEY}:{MAILJET_SECRET_KEY}``;
  JSON ``{"Messages": [{...}]}`` with ``From {"Email", "Name"}``, ``To [{"Email",
  "Name"}]``, ``ReplyTo {"Email", "Name"}``, ``Subject``, ``TextPart``,
  ``HTMLPart``, ``Headers`` (``{"X-My-Header": "value"}``) and ``CustomID``
  ("attach a custom ID to the message", returned in Mailjet's events). Success
  is 200 ``{"Messages": [{"Status": "success", "To": [{"Email", "MessageUUID",
  "MessageID", "MessageHref"}]}]}``; the id kept is the first recipient's
  ``MessageUUID`` (``Message_GUID`` in events).
* Send API errors (same guide) — a global error ``{"ErrorIdentifier",
  "ErrorCode": "mj-0002", "ErrorMessage", "StatusCode": 400}``, or per message
  ``{"Messages": [{"Status": "error", "Errors": [{"ErrorCode", "StatusCode",
  "ErrorMessage", "ErrorRelatedTo"}]}]}``. ``mj-0001`` (key suspended) and
  ``mj-0015`` (bad credentials) are 401, ``send-0008`` (From not an authorised
  sender) 403: all unavailable, as their status says. Refined here:
  ``send-0011`` (a header Mailjet sets through a property) is unavailable, not
  a rejection: the email is fine, this API cannot carry it, SMTP can. A
  ``"Status": "error"`` message in a 2xx answer is a failure too.
* Status codes — https://dev.mailjet.com/docs/email-api/email_api_overview/status_codes:
  400, 401, 403, 404, 405, 429, 500.

* Check (``python -m service check``) — the ``/sender`` resource ("Verify a
  Sender" in the guide above; https://dev.mailjet.com/reference/email/sender-addresses-and-domains/sender/):
  ``GET {MAILJET_BASE_URL}/v3/REST/sender`` with the same Basic credentials;
  200 ``{"Count", "Data": [{"Email", "Status": "Active", ...}], "Total"}``.
  The check reports how many senders are active (never their addresses).

Message-ID: sent in ``Headers`` (it has no property of its own, so
``send-0011`` does not apply; Mailjet's pages do not say whether it is kept).
Outbox id: ``CustomID``.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

import httpx

from service.providers.base import SendResult
from service.providers.catalog.mailjet import MailjetSettings
from service.providers.errors import ProviderUnavailable, SendError
from service.providers.http import (
    ErrorDetail,
    HttpProvider,
    HttpRequest,
    json_body,
    plain_reason,
    short,
)

if TYPE_CHECKING:
    from email.headerregistry import Address

    from service.message import OutgoingEmail

__all__ = ["MailjetProvider"]

# Headers Mailjet sets from a message property (send-0011 when given in Headers).
_PROPERTY_HEADERS = frozenset(
    {
        "x-mj-customid",
        "x-mj-eventpayload",
        "x-mj-templateid",
        "x-mj-templatelanguage",
        "x-mj-vars",
        "x-mailjet-campaign",
        "x-mailjet-prio",
        "x-mailjet-trackopen",
        "x-mailjet-trackclick",
    }
)


class MailjetProvider(HttpProvider):
    """Sends each email with one ``POST /v3.1/send`` call to Mailjet."""

    declaration = MailjetSettings
    options: MailjetSettings
    reserved_headers = _PROPERTY_HEADERS
    message_id_path = None

    def build_request(self, email: OutgoingEmail) -> HttpRequest:
        message: dict[str, Any] = {
            "From": _person(email.sender),
            "To": [_person(address) for address in email.to],
            "Subject": email.subject,
            "TextPart": email.text,
            "HTMLPart": email.html,
            "Headers": {**self.extra_headers(email), "Message-ID": email.message_id},
        }
        if email.reply_to is not None:
            message["ReplyTo"] = _person(email.reply_to)
        if email.outbox_id is not None:
            message["CustomID"] = email.outbox_id
        return HttpRequest(method="POST", url=self.url("v3.1/send"), json={"Messages": [message]})

    async def auth_headers(self, request: HttpRequest) -> dict[str, str]:
        pair = f"{self.options.secret('api_key')}:{self.options.secret('secret_key')}"
        return {"Authorization": f"Basic {base64.b64encode(pair.encode()).decode('ascii')}"}

    def accepted(self, response: httpx.Response) -> SendResult | None:
        message = _first_message(response)
        recipients = message.get("To") if message.get("Status") == "success" else None
        if not isinstance(recipients, list) or not recipients:
            return None
        first = recipients[0]
        uuid = first.get("MessageUUID") if isinstance(first, dict) else None
        if not isinstance(uuid, str) or not uuid:
            return None
        return SendResult(provider=self.name, message_id=uuid)

    def parse_response(self, response: httpx.Response) -> SendResult:
        if response.is_success and _first_message(response).get("Status") == "error":
            # Judged by the message's own StatusCode, as if Mailjet had answered with it.
            errors = _first_message(response).get("Errors")
            first = errors[0] if isinstance(errors, list) and errors else {}
            status = first.get("StatusCode") if isinstance(first, dict) else None
            raise self.error_from(
                httpx.Response(
                    status if isinstance(status, int) and status >= 400 else 502,
                    json=json_body(response),
                    request=response.request,
                )
            )
        return super().parse_response(response)

    def check_request(self) -> HttpRequest:
        return HttpRequest(method="GET", url=self.url("v3/REST/sender"))

    def check_passed(self, response: httpx.Response) -> str | None:
        body = json_body(response)
        senders = body.get("Data") if isinstance(body, dict) else None
        if not isinstance(senders, list):
            return None
        active = sum(isinstance(s, dict) and s.get("Status") == "Active" for s in senders)
        return f"keys accepted; {active} of {len(senders)} sender(s) active"

    def error_detail(self, response: httpx.Response) -> ErrorDetail:
        body = json_body(response)
        errors = _first_message(response).get("Errors")
        error = errors[0] if isinstance(errors, list) and errors else body
        if isinstance(error, dict) and isinstance(error.get("ErrorMessage"), str):
            code = error.get("ErrorCode") if isinstance(error.get("ErrorCode"), str) else None
            return ErrorDetail(code, short(error["ErrorMessage"]))
        return ErrorDetail(None, plain_reason(response))

    def classify(self, status: int, code: str | int | None) -> type[SendError]:
        if code == "send-0011":
            return ProviderUnavailable
        return super().classify(status, code)


def _first_message(response: httpx.Response) -> dict[str, Any]:
    body = json_body(response)
    messages = body.get("Messages") if isinstance(body, dict) else None
    first = messages[0] if isinstance(messages, list) and messages else None
    return first if isinstance(first, dict) else {}


def _person(address: Address) -> dict[str, str]:
    person = {"Email": address.addr_spec}
    if address.display_name:
        person["Name"] = address.display_name
    return person

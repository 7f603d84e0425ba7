"""The ``brevo`` provider: Brevo's (formerly Sendinblue) transactional email API v3.

Format followed (pages read 2026-11-27):

* Send a transactional email — https://developers.brevo.com/reference/sendtransacemail:
  ``POST {BREVO_BASE_URL}/v3/smtp/email`` with the ``api-key`` header; JSON
  ``sender {"email", "name"}``, ``to [{"email", "name"}]``, ``replyTo {"email",
  "name"}``, ``subject``, ``htmlContent``, ``textContent`` and ``headers``
  ("custom email headers (non-standard headers) ... Standard email headers are
  not supported", e.g. ``{"X-Mailin-custom": "some_custom_value"}``). Success is
  201 ``{"messageId": "<...@smtp-relay.mailin.fr>"}``.
* Key concepts — https://developers.brevo.com/docs/how-it-works: errors are
  ``{"code": "invalid_parameter", "message": "..."}``; the codes are the
  ``ErrorModel`` enumeration of Brevo's API clients (getbrevo/brevo-node):
  ``invalid_parameter``, ``missing_parameter``, ``out_of_range``,
  ``duplicate_parameter``, ``document_not_found``, ``unauthorized``,
  ``permission_denied``, ``reseller_permission_denied``, ``not_enough_credits``,
  ``account_under_validation``, ``not_acceptable``, ``method_not_allowed``,
  ``duplicate_request``. Refined here: ``unauthorized``, ``permission_denied``,
  ``reseller_permission_denied``, ``not_enough_credits`` and
  ``account_under_validation`` mean the account cannot send at all (whatever
  the HTTP status, 400 included), so the chain fails over.

* Check (``python -m service check``) — Get your account information,
  https://developers.brevo.com/reference/getaccount: ``GET
  {BREVO_BASE_URL}/v3/account`` with the same key; 200 with the account's
  ``email``, ``companyName`` and ``plan [{"type", "credits", "creditsType"}]``.
  Nothing of the account (its owner's address) is printed.

Outbox id: sent as the ``X-Mailin-custom`` header, which Brevo returns in every
webhook event (``"X-Mailin-custom"``) for matching events to emails.

Message-ID: not sent; a standard header, which Brevo's ``headers`` refuses.
Brevo returns its own ``messageId`` (also in its webhook events).

Names: Brevo drops a ``name`` that is non-ASCII and contains a special such as
a comma, and writes a ``replyTo`` name of that kind as raw 8-bit (documented by
django-anymail's Brevo backend, ``workaround_display_name_bugs``), so such a
name is sent as an RFC 2047 encoded word instead.
"""

from __future__ import annotations

from email.charset import Charset
from typing import TYPE_CHECKING, Any

from service.providers.catalog.brevo import BrevoSettings
from service.providers.errors import ProviderUnavailable, SendError
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

__all__ = ["BrevoProvider"]

#: Brevo error codes that mean the account or key cannot send, whatever the status.
ACCOUNT_ERRORS = frozenset(
    {
        "unauthorized",
        "permission_denied",
        "reseller_permission_denied",
        "not_enough_credits",
        "account_under_validation",
    }
)
_UTF8 = Charset("utf-8")


class BrevoProvider(HttpProvider):
    """Sends each email with one ``POST /v3/smtp/email`` call to Brevo."""

    declaration = BrevoSettings
    options: BrevoSettings
    reserved_headers = frozenset({"x-mailin-custom", "idempotency-key", "sender.ip"})
    message_id_path = ("messageId",)

    def build_request(self, email: OutgoingEmail) -> HttpRequest:
        headers = self.extra_headers(email)
        if email.outbox_id is not None:
            headers["X-Mailin-custom"] = email.outbox_id
        body: dict[str, Any] = {
            "sender": _contact(email.sender),
            "to": [_contact(address) for address in email.to],
            "subject": email.subject,
            "htmlContent": email.html,
            "textContent": email.text,
        }
        if email.reply_to is not None:
            body["replyTo"] = _contact(email.reply_to)
        if headers:
            body["headers"] = headers
        return HttpRequest(
            method="POST",
            url=self.url("v3/smtp/email"),
            headers={"Accept": "application/json"},
            json=body,
        )

    async def auth_headers(self, request: HttpRequest) -> dict[str, str]:
        return {"api-key": self.options.secret("api_key")}

    def check_request(self) -> HttpRequest:
        return HttpRequest(
            method="GET", url=self.url("v3/account"), headers={"Accept": "application/json"}
        )

    def check_passed(self, response: httpx.Response) -> str | None:
        body = json_body(response)
        if not isinstance(body, dict) or not isinstance(body.get("email"), str):
            return None
        plans = body.get("plan") if isinstance(body.get("plan"), list) else []
        kinds = [str(plan["type"]) for plan in plans if isinstance(plan, dict) and plan.get("type")]
        return f"key accepted (plan: {short(', '.join(kinds)) or 'unknown'})"

    def error_detail(self, response: httpx.Response) -> ErrorDetail:
        body = json_body(response)
        if not isinstance(body, dict):
            return ErrorDetail(None, plain_reason(response))
        code = body["code"] if isinstance(body.get("code"), str) else None
        text = body.get("message") if isinstance(body.get("message"), str) else code
        return ErrorDetail(code, short(text) if text else plain_reason(response))

    def classify(self, status: int, code: str | int | None) -> type[SendError]:
        if code in ACCOUNT_ERRORS:
            return ProviderUnavailable
        return super().classify(status, code)


def _contact(address: Address) -> dict[str, str]:
    contact = {"email": address.addr_spec}
    name = address.display_name
    if name:
        if not name.isascii() and needs_quoting(name):
            name = _UTF8.header_encode(name)
        contact["name"] = name
    return contact

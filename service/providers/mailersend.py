"""The ``mailersend`` provider: MailerSend's Email API.

Format followed (pages read 2026-11-27):

* Send an email — https://developers.mailersend.com/api/v1/email.html:
  ``POST {MAILERSEND_BASE_URL}/v1/email`` with ``Authorization: Bearer
  {MAILERSEND_API_KEY}``; JSON ``from {"email", "name"}``, ``to [{"email",
  "name"}]`` (a recipient's name "may not contain ; or ,"), ``reply_to
  {"email", "name"}``, ``subject``, ``text``, ``html``, ``tags`` (strings) and
  ``headers`` (``[{"name", "value"}]``, Enterprise accounts only, as
  django-anymail's MailerSend backend notes). Success is 202 with the id in
  the ``X-Message-Id`` header and usually an empty body.
* REST API response codes — https://www.mailersend.com/help/rest-api-response-codes:
  a 202 may carry ``{"warnings": [{"type": "ALL_SUPPRESSED" | "SOME_SUPPRESSED",
  "recipients": [{"email", "reasons": ["hard_bounced"]}]}]}``; with
  ``ALL_SUPPRESSED`` "the email won't be sent", which is a rejection here.
* General API resources — https://developers.mailersend.com/general: 401 bad
  token, 403 action denied, 408 and 421 ("Service isn't available, try again
  later": maintenance) are transient, 422 validation errors ``{"message",
  "errors": {"from.email": ["..."]}}``, 429 with ``#MS42903`` (the per-minute
  rate limit: transient) or ``#MS42901`` ("Your account reached its API daily
  quota limit": unavailable until ``x-apiquota-reset``), 5xx.

* Check (``python -m service check``) — Get API quota,
  https://developers.mailersend.com/guides/checking-api-quota: ``GET
  {MAILERSEND_BASE_URL}/v1/api-quota`` with the same token; 200 ``{"quota",
  "remaining", "reset"}``, and it does not count against the quota. The check
  fails when no request is left today.

Outbox id: sent as the one entry of ``tags`` (MailerSend has no per-message
metadata; tags come back in its webhook events). Message-ID and the extra
headers: sent in ``headers`` only with ``MAILERSEND_SEND_HEADERS=true``, since
MailerSend refuses custom headers below its Enterprise plan; otherwise
MailerSend's own Message-ID is used and ``Auto-Submitted`` is not set.
A ``,`` or ``;`` in a recipient's name is replaced by a space.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from service.providers.catalog.mailersend import MailersendSettings
from service.providers.errors import MessageRejected, ProviderUnavailable, SendError, TransientError
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

    import httpx

    from service.message import OutgoingEmail
    from service.providers.base import SendResult

__all__ = ["MailersendProvider"]

DAILY_QUOTA = "MS42901"
_CODE = re.compile(r"#(MS\d{5})")
_NAME_SEPARATORS = re.compile(r"\s*[,;]\s*")


class MailersendProvider(HttpProvider):
    """Sends each email with one ``POST /v1/email`` call to MailerSend."""

    declaration = MailersendSettings
    options: MailersendSettings
    accepted_statuses = frozenset({202})
    message_id_path = None
    message_id_header = "X-Message-Id"

    def build_request(self, email: OutgoingEmail) -> HttpRequest:
        headers = self.extra_headers(email)  # checked even when not sent
        body: dict[str, Any] = {
            "from": _person(email.sender),
            "to": [_person(address, recipient=True) for address in email.to],
            "subject": email.subject,
            "text": email.text,
            "html": email.html,
        }
        if email.reply_to is not None:
            body["reply_to"] = _person(email.reply_to)
        if email.outbox_id is not None:
            body["tags"] = [email.outbox_id]
        if self.options.send_headers:
            headers["Message-ID"] = email.message_id
            body["headers"] = [{"name": name, "value": value} for name, value in headers.items()]
        return HttpRequest(
            method="POST",
            url=self.url("v1/email"),
            headers={"Accept": "application/json"},
            json=body,
        )

    async def auth_headers(self, request: HttpRequest) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.options.secret('api_key')}"}

    def accepted(self, response: httpx.Response) -> SendResult | None:
        body = json_body(response)
        warnings = body.get("warnings") if isinstance(body, dict) else None
        for warning in warnings if isinstance(warnings, list) else ():
            if isinstance(warning, dict) and warning.get("type") == "ALL_SUPPRESSED":
                raise MessageRejected(
                    f"every recipient is suppressed ({_reasons(warning)})",
                    provider=self.name,
                    code="ALL_SUPPRESSED",
                )
        return super().accepted(response)

    def check_request(self) -> HttpRequest:
        return HttpRequest(
            method="GET", url=self.url("v1/api-quota"), headers={"Accept": "application/json"}
        )

    def check_passed(self, response: httpx.Response) -> str | None:
        body = json_body(response)
        if not isinstance(body, dict):
            return None
        quota, remaining = body.get("quota"), body.get("remaining")
        if not isinstance(quota, int) or not isinstance(remaining, int):
            return None
        if remaining <= 0:
            raise ProviderUnavailable(
                f"token accepted, but no API request is left today (reset {body.get('reset')})",
                provider=self.name,
                code=DAILY_QUOTA,
            )
        return f"token accepted; {remaining} of {quota} API requests left today"

    def error_detail(self, response: httpx.Response) -> ErrorDetail:
        body = json_body(response)
        if not isinstance(body, dict) or not isinstance(body.get("message"), str):
            return ErrorDetail(None, plain_reason(response))
        text = body["message"]
        errors = body.get("errors")
        if isinstance(errors, dict) and errors:
            field, problems = next(iter(errors.items()))
            if isinstance(problems, list) and problems:
                text = f"{field}: {problems[0]}"
        found = _CODE.search(text)
        return ErrorDetail(found[1] if found else None, short(text))

    def classify(self, status: int, code: str | int | None) -> type[SendError]:
        if code == DAILY_QUOTA:
            return ProviderUnavailable
        if status == 421:  # scheduled maintenance
            return TransientError
        return super().classify(status, code)


def _person(address: Address, *, recipient: bool = False) -> dict[str, str]:
    person = {"email": address.addr_spec}
    name = address.display_name
    if recipient:
        name = _NAME_SEPARATORS.sub(" ", name).strip()
    if name:
        person["name"] = name
    return person


def _reasons(warning: dict[str, Any]) -> str:
    recipients = warning.get("recipients")
    reasons = {
        str(reason)
        for recipient in (recipients if isinstance(recipients, list) else ())
        if isinstance(recipient, dict) and isinstance(recipient.get("reasons"), list)
        for reason in recipient["reasons"]
    }
    return ", ".join(sorted(reasons)) or "no reason given"

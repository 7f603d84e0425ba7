"""The ``sendgrid`` provider: Twilio SendGrid's v3 Mail Send API.

Format followed (pages read 2026-11-26):

* Mail Send — https://www.twilio.com/docs/sendgrid/api-reference/mail-send/mail-send:
  ``POST {SENDGRID_BASE_URL}/v3/mail/send``, ``Authorization: Bearer
  {SENDGRID_API_KEY}``; JSON ``personalizations[{"to": [{"email", "name"}]}]``,
  ``from {"email", "name"}``, ``reply_to {"email", "name"}``, ``subject``,
  ``content`` (``text/plain`` must come before ``text/html``), ``headers``
  (may not set x-sg-id, x-sg-eid, received, dkim-signature, Content-Type,
  Content-Transfer-Encoding, To, From, Subject, Reply-To, CC, BCC). Success
  is 202 with an empty body; the message id is the ``X-Message-Id`` header.
* Errors — https://www.twilio.com/docs/sendgrid/api-reference/mail-send/errors:
  ``{"errors": [{"message", "field", "help"}]}``; validation errors are 400,
  a bad key 401, an unverified sender or missing scope 403, 413 too large,
  429 rate limited (with ``Retry-After``-style reset headers), 5xx.

* Check (``python -m service check``) — API Key Permissions, "Retrieve a list
  of scopes for which this user has access",
  https://www.twilio.com/docs/sendgrid/api-reference/api-key-permissions/retrieve-a-list-of-scopes-for-which-this-user-has-access:
  ``GET {SENDGRID_BASE_URL}/v3/scopes`` with the same bearer key; 200
  ``{"scopes": [...]}``, the scopes of the key itself. The check passes only
  when ``mail.send`` is among them: a "Restricted Access" key without it
  authenticates but cannot send.

Names are sent as Unicode in ``name`` (omitted when empty). SendGrid does not
quote a ``to`` name containing a comma or semicolon when it builds the
message (django-anymail's workaround, sendgrid-python issue 291), so a ``to``
name that needs quoting is sent already quoted; ``from`` and ``reply_to`` are
quoted correctly by SendGrid itself.

Message-ID: sent in ``headers`` (it is not a reserved header); SendGrid keeps
its own id for events and returns it as ``X-Message-Id``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from service.providers.catalog.sendgrid import SendgridSettings
from service.providers.errors import ProviderUnavailable
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

__all__ = ["SendgridProvider"]

SEND_SCOPE = "mail.send"


class SendgridProvider(HttpProvider):
    """Sends each email with one ``POST /v3/mail/send`` call to SendGrid."""

    declaration = SendgridSettings
    options: SendgridSettings
    reserved_headers = frozenset({"x-sg-id", "x-sg-eid", "received", "dkim-signature"})
    # 202 is the documented acceptance; the id is useful but not the proof.
    accepted_statuses = frozenset({202})
    message_id_path = None
    message_id_header = "X-Message-Id"

    def build_request(self, email: OutgoingEmail) -> HttpRequest:
        # SendGrid refuses an empty content value, and wants text/plain first.
        content = [
            {"type": mime_type, "value": value}
            for mime_type, value in (("text/plain", email.text), ("text/html", email.html))
            if value
        ]
        body: dict[str, Any] = {
            "personalizations": [{"to": [_person(address, quote=True) for address in email.to]}],
            "from": _person(email.sender),
            "subject": email.subject,
            "content": content,
            "headers": {**self.extra_headers(email), "Message-ID": email.message_id},
        }
        if email.reply_to is not None:
            body["reply_to"] = _person(email.reply_to)
        return HttpRequest(
            method="POST",
            url=self.url("v3/mail/send"),
            json=body,
        )

    async def auth_headers(self, request: HttpRequest) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.options.secret('api_key')}"}

    def check_request(self) -> HttpRequest:
        return HttpRequest(method="GET", url=self.url("v3/scopes"))

    def check_passed(self, response: httpx.Response) -> str | None:
        body = json_body(response)
        scopes = body.get("scopes") if isinstance(body, dict) else None
        if not isinstance(scopes, list):
            return None
        if SEND_SCOPE not in scopes:
            raise ProviderUnavailable(
                f"the key is valid but lacks the {SEND_SCOPE} scope ({len(scopes)} scopes)",
                provider=self.name,
                code=SEND_SCOPE,
            )
        return f"key accepted with the {SEND_SCOPE} scope"

    def error_detail(self, response: httpx.Response) -> ErrorDetail:
        body = json_body(response)
        errors = body.get("errors") if isinstance(body, dict) else None
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            first = errors[0]
            field = f"{first['field']}: " if isinstance(first.get("field"), str) else ""
            return ErrorDetail(None, short(f"{field}{first.get('message') or ''}"))
        return ErrorDetail(None, plain_reason(response))


def _person(address: Address, *, quote: bool = False) -> dict[str, str]:
    person = {"email": address.addr_spec}
    name = address.display_name
    if name:
        if quote and needs_quoting(name):
            escaped = name.replace("\\", "\\\\").replace('"', '\\"')
            name = f'"{escaped}"'
        person["name"] = name
    return person

"""The ``mailgun`` provider: Mailgun's Messages API.

Format followed (pages read 2026-11-26):

* Send an email — https://documentation.mailgun.com/docs/mailgun/api-reference/send/mailgun/messages/post-v3--domain-name--messages:
  ``POST {MAILGUN_BASE_URL}/v3/{MAILGUN_DOMAIN}/messages`` with HTTP Basic
  ``api:{MAILGUN_API_KEY}``; form fields ``from``, ``to`` (repeatable, or
  comma-separated ``Name <address>``), ``subject``, ``text``, ``html``, and
  ``h:<Name>`` for any header (``h:Reply-To``). Servers: ``api.mailgun.net``
  (US) and ``api.eu.mailgun.net`` (EU); a domain exists in one region only.
  Success is 200 ``{"id": "<...>", "message": "Queued. Thank you."}``.
* API response codes — https://documentation.mailgun.com/docs/mailgun/quickstart-guide/responses:
  400 with ``{"message": ...}``, 401/403 auth (the body may be plain
  ``Forbidden``), 404 (e.g. ``Domain not found``: wrong domain or region),
  429, 500.

* Check (``python -m service check``) — Domains, "Get domain details",
  https://documentation.mailgun.com/docs/mailgun/api-reference/send/mailgun/domains/get-v4-domains--name-:
  ``GET {MAILGUN_BASE_URL}/v4/domains/{MAILGUN_DOMAIN}`` with the same Basic
  credentials; 200 ``{"domain": {"name", "state", ...}, ...}``, 401, or 404
  for a domain the account does not have in that region. The check passes
  only when the domain's ``state`` is ``active``. A Domain Sending Key may
  only ``POST`` messages (https://documentation.mailgun.com/docs/mailgun/api-reference/authentication),
  so it cannot be checked without sending: ``send-test`` can.

The body is sent ``application/x-www-form-urlencoded`` (as Mailgun's own
Python examples do); ``multipart/form-data`` is only needed for attachments,
which these emails never have.

Addresses are ASCII RFC 5322 mailboxes (non-ASCII names as RFC 2047 encoded
words). Mailgun builds a broken From for an internationalised address, so a
non-ASCII sender address fails loudly (as in django-anymail).

Message-ID: sent as ``h:Message-ID`` (users report Mailgun keeps it; its pages
do not say); the provider id returned is Mailgun's own ``id``.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

from service.providers.catalog.mailgun import MailgunSettings
from service.providers.errors import ProviderUnavailable, SendError
from service.providers.http import HttpProvider, HttpRequest, format_address, json_body

if TYPE_CHECKING:
    import httpx

    from service.message import OutgoingEmail

__all__ = ["MailgunProvider"]

_CHECK_HINTS = {
    401: "a Domain Sending Key can only send, so check cannot prove it: try send-test",
    403: "a Domain Sending Key can only send, so check cannot prove it: try send-test",
    404: "check MAILGUN_DOMAIN and the region (api.mailgun.net or api.eu.mailgun.net)",
}


class MailgunProvider(HttpProvider):
    """Sends each email with one ``POST /v3/{domain}/messages`` call to Mailgun."""

    declaration = MailgunSettings
    options: MailgunSettings

    @property
    def domain(self) -> str:
        """``MAILGUN_DOMAIN``, checked at startup (required, a plain hostname)."""
        return self.options.domain or ""

    def build_request(self, email: OutgoingEmail) -> HttpRequest:
        if not email.sender.addr_spec.isascii():
            raise self.unsupported("Mailgun cannot send from an internationalised address")
        form: dict[str, str | list[str]] = {
            "from": format_address(email.sender),
            "to": [format_address(address) for address in email.to],
            "subject": email.subject,
            "text": email.text,
            "html": email.html,
        }
        if email.reply_to is not None:
            form["h:Reply-To"] = format_address(email.reply_to)
        for name, value in self.extra_headers(email).items():
            form[f"h:{name}"] = value
        form["h:Message-ID"] = email.message_id
        return HttpRequest(
            method="POST",
            url=self.url(f"v3/{self.domain}/messages"),
            form=form,
        )

    async def auth_headers(self, request: HttpRequest) -> dict[str, str]:
        credentials = f"api:{self.options.secret('api_key')}".encode()
        return {"Authorization": f"Basic {base64.b64encode(credentials).decode('ascii')}"}

    def check_request(self) -> HttpRequest:
        return HttpRequest(method="GET", url=self.url(f"v4/domains/{self.domain}"))

    def check_passed(self, response: httpx.Response) -> str | None:
        body = json_body(response)
        domain = body.get("domain") if isinstance(body, dict) else None
        if not isinstance(domain, dict) or not isinstance(domain.get("state"), str):
            return None
        if domain["state"] != "active":
            raise ProviderUnavailable(
                f"domain {self.domain} is {domain['state']}, not active",
                provider=self.name,
                code=domain["state"],
            )
        return f"key accepted; domain {self.domain} is active"

    def check_error(self, response: httpx.Response) -> SendError:
        error = super().check_error(response)
        hint = _CHECK_HINTS.get(response.status_code)
        if hint is None:
            return error
        detail = f"{Exception.__str__(error)}; {hint}"
        return type(error)(detail, provider=self.name, code=error.code)

"""The ``postmark`` provider: Postmark's Email API.

Format followed (pages read 2026-11-26):

* Sending with the API — https://postmarkapp.com/developer/user-guide/sending-with-api
  and https://postmarkapp.com/developer/api/email-api: ``POST
  {POSTMARK_BASE_URL}/email`` with ``X-Postmark-Server-Token``,
  ``Accept: application/json``; JSON ``From``, ``To`` (comma-separated),
  ``ReplyTo``, ``Subject``, ``HtmlBody``, ``TextBody``, ``Headers``
  (``[{"Name", "Value"}]``), ``MessageStream``. ``From`` and ``To`` take
  ``Name <address>``. Success is 200 with ``{"To", "SubmittedAt",
  "MessageID", "ErrorCode": 0, "Message": "OK"}``.
* API overview, HTTP response codes and API error codes —
  https://postmarkapp.com/developer/api/overview: 401 for a missing or wrong
  token, 422 with ``{"ErrorCode", "Message"}`` for a refused request, 429,
  500, 503. Any answer whose ``ErrorCode`` is not 0 is a failure, even a 200.

* Check (``python -m service check``) — Server API, "Get the server",
  https://postmarkapp.com/developer/api/server-api: ``GET
  {POSTMARK_BASE_URL}/server`` with the same ``X-Postmark-Server-Token`` and
  ``Accept: application/json``; 200 with the server's ``ID``, ``Name`` and
  settings (including ``ApiTokens``, never printed); a wrong token is 401
  with ``ErrorCode`` 10.

``ErrorCode`` decides before the HTTP status: 10 (bad or missing token), 400
and 401 (sender signature missing or unconfirmed), 405 (not allowed to send,
e.g. out of credits), 412 (account pending) and 413 (account may not send)
make the provider unavailable; 100 (maintenance) and 429 are transient; 300
(invalid email request), 402/403 (invalid JSON), 406 (inactive recipient:
hard bounce or spam complaint) and 409 are rejections. An unknown code keeps
the HTTP status's meaning (a 200 with one is treated as unavailable).

Addresses are sent as ASCII RFC 5322 mailboxes (non-ASCII names as RFC 2047
encoded words), as django-anymail does. Message-ID: our stable one is sent in
``Headers`` (Postmark's pages do not say whether it is kept or replaced); the
provider id returned is Postmark's own ``MessageID``, a UUID.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from service.providers.catalog.postmark import PostmarkSettings
from service.providers.errors import MessageRejected, ProviderUnavailable, SendError, TransientError
from service.providers.http import (
    ErrorDetail,
    HttpProvider,
    HttpRequest,
    format_address,
    json_body,
    plain_reason,
    short,
)

if TYPE_CHECKING:
    import httpx

    from service.message import OutgoingEmail
    from service.providers.base import SendResult

__all__ = ["POSTMARK_ERROR_KINDS", "PostmarkProvider"]

#: Postmark ``ErrorCode`` values whose meaning does not depend on the HTTP status.
POSTMARK_ERROR_KINDS: dict[int, type[SendError]] = {
    10: ProviderUnavailable,
    100: TransientError,
    300: MessageRejected,
    400: ProviderUnavailable,
    401: ProviderUnavailable,
    402: MessageRejected,
    403: MessageRejected,
    405: ProviderUnavailable,
    406: MessageRejected,
    409: MessageRejected,
    412: ProviderUnavailable,
    413: ProviderUnavailable,
    429: TransientError,
}


class PostmarkProvider(HttpProvider):
    """Sends each email with one ``POST /email`` call to Postmark."""

    declaration = PostmarkSettings
    options: PostmarkSettings
    message_id_path = ("MessageID",)

    def build_request(self, email: OutgoingEmail) -> HttpRequest:
        headers = {**self.extra_headers(email), "Message-ID": email.message_id}
        body: dict[str, Any] = {
            "From": format_address(email.sender),
            "To": ", ".join(format_address(address) for address in email.to),
            "Subject": email.subject,
            "HtmlBody": email.html,
            "TextBody": email.text,
            "Headers": [{"Name": name, "Value": value} for name, value in headers.items()],
            "MessageStream": self.options.message_stream,
        }
        if email.reply_to is not None:
            body["ReplyTo"] = format_address(email.reply_to)
        return HttpRequest(
            method="POST",
            url=self.url("email"),
            headers={"Accept": "application/json"},
            json=body,
        )

    async def auth_headers(self, request: HttpRequest) -> dict[str, str]:
        return {"X-Postmark-Server-Token": self.options.secret("server_token")}

    def check_request(self) -> HttpRequest:
        return HttpRequest(
            method="GET", url=self.url("server"), headers={"Accept": "application/json"}
        )

    def check_passed(self, response: httpx.Response) -> str | None:
        body = json_body(response)
        if not isinstance(body, dict) or not isinstance(body.get("Name"), str):
            return None
        return f"server token accepted by server {short(body['Name'])!r}"

    def parse_response(self, response: httpx.Response) -> SendResult:
        body = json_body(response)
        if response.is_success and isinstance(body, dict) and body.get("ErrorCode", 0) != 0:
            raise self.error_from(response)
        return super().parse_response(response)

    def error_detail(self, response: httpx.Response) -> ErrorDetail:
        body = json_body(response)
        if isinstance(body, dict) and isinstance(body.get("ErrorCode"), int):
            return ErrorDetail(body["ErrorCode"], short(str(body.get("Message") or "")))
        return ErrorDetail(None, plain_reason(response))

    def classify(self, status: int, code: str | int | None) -> type[SendError]:
        if isinstance(code, int) and code in POSTMARK_ERROR_KINDS:
            return POSTMARK_ERROR_KINDS[code]
        return super().classify(status, code)

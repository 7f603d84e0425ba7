"""The ``acs`` provider: Azure Communication Services Email, on our shared httpx client.

Format followed (pages read 2026-11-27):

* Email - Send — https://learn.microsoft.com/en-us/rest/api/communication/email/send
  (and its swagger, azure-rest-api-specs ``Email/stable/2023-03-31``):
  ``POST {endpoint}/emails:send?api-version=2023-03-31`` with JSON
  ``senderAddress`` (an address of a domain linked to the resource; the
  display name is the one configured for that sender in Azure),
  ``recipients.to`` (``[{"address", "displayName"}]``), ``content``
  (``subject``, ``plainText``, ``html``), ``replyTo``, ``headers`` (custom
  headers) and ``userEngagementTrackingDisabled``. Success is ``202
  Accepted`` with ``{"id": <operation id>, "status": "Running"}`` and an
  ``Operation-Location`` header; errors are an ``ErrorResponse``
  (``{"error": {"code", "message"}}``) with ``x-ms-error-code``.
* Custom headers — https://learn.microsoft.com/en-us/azure/communication-services/concepts/email/email-headers:
  a ``Message-ID`` sent in ``headers`` is kept when it is a valid RFC 2822
  id (ours always is); so is any custom header, here ``X-Outbox-Id``.
  Delivery events (Event Grid ``EmailDeliveryReportReceived``) name the
  operation id, which is the provider id recorded at send.
* Authentication — https://learn.microsoft.com/en-us/rest/api/communication/authentication
  and https://learn.microsoft.com/en-us/azure/communication-services/tutorials/hmac-header-tutorial:
  HMAC-SHA256 of ``"{VERB}\\n{path and query}\\n{x-ms-date};{host};{x-ms-content-sha256}"``
  with the base64-decoded access key; ``x-ms-content-sha256`` is the base64
  SHA-256 of the body bytes; ``Authorization: HMAC-SHA256
  SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=...``. Or
  Microsoft Entra ID: ``Authorization: Bearer`` with a token for
  ``https://communication.azure.com//.default`` from azure-identity.
* Error codes — https://learn.microsoft.com/en-us/rest/api/communication/errorcodes:
  400 bad request, 401 unauthenticated, 403 forbidden, 404 wrong resource,
  422 invalid body, 429 too many requests (``Retry-After``, see
  concepts/service-limits), 500. Error codes decide first where they say
  more: ``SubscriptionBlocked`` (the subscription's sending is blocked for
  its reputation) makes the provider unavailable whatever the status.

* Check (``python -m service check``) — Email - Get Send Result,
  https://learn.microsoft.com/en-us/rest/api/communication/email/get-send-result:
  ``GET {endpoint}/emails/operations/{id}?api-version=2023-03-31``, the only
  read-only call of the Email API, for an id that cannot exist. Signed (or
  with a token) like a send; 401/403 fail as a send would; the API's own
  ``ErrorResponse`` for the unknown operation (404) proves the endpoint and
  the credentials were accepted.

Why not the ``azure-communication-email`` SDK: it brings azure-core's own
pipeline (its retries, its transport, a poller for the long-running
operation) where the chain already retries and fails over, does not share our
``httpx.AsyncClient`` nor its timeouts, and cannot be stubbed with respx; the
call is one POST and the signature twenty lines of documented HMAC.
``userEngagementTrackingDisabled`` is always true: no tracking pixel or link
rewriting in a contact form's emails.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any, Protocol

import httpx

from service.providers.catalog.acs import AcsSettings
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

__all__ = ["ACS_ERROR_KINDS", "API_VERSION", "ENTRA_SCOPE", "AcsProvider", "TokenCredential"]

API_VERSION = "2023-03-31"
#: The Entra ID scope of Communication Services (the double slash is Azure's own).
ENTRA_SCOPE = "https://communication.azure.com//.default"
#: The operation the check asks for: the nil UUID, which no send is ever given.
NO_OPERATION = uuid.UUID(int=0)
#: The custom header carrying the outbox id.
OUTBOX_ID_HEADER = "X-Outbox-Id"

#: ACS error codes whose meaning does not depend on the HTTP status.
ACS_ERROR_KINDS: dict[str, type[SendError]] = {
    "SubscriptionBlocked": ProviderUnavailable,
}


class TokenCredential(Protocol):
    """What is used of azure-identity's async credentials."""

    async def get_token(self, *scopes: str) -> Any: ...

    async def close(self) -> None: ...


class AcsProvider(HttpProvider):
    """Sends each email with one ``POST /emails:send`` call to Azure Communication Services."""

    declaration = AcsSettings
    options: AcsSettings
    accepted_statuses = frozenset({202})
    message_id_path = ("id",)

    def __init__(self, *, options: AcsSettings, client: httpx.AsyncClient) -> None:
        super().__init__(options=options, client=client)
        parsed = options.parsed()
        self.access_key = parsed.access_key if parsed is not None else None
        #: The managed identity's credential without an access key; made on first use.
        self.token_credential: TokenCredential | None = None
        self._token = ""

    def api_base(self, options: AcsSettings) -> str:  # type: ignore[override]
        if options.endpoint is not None:
            return str(options.endpoint)
        parsed = options.parsed()
        return parsed.endpoint if parsed is not None else ""

    def secrets(self) -> tuple[str, ...]:
        """The connection string, the access key inside it, and the last Entra token."""
        return (*super().secrets(), *(s for s in (self.access_key, self._token) if s))

    async def close(self) -> None:
        if self.token_credential is not None:
            await self.token_credential.close()
            self.token_credential = None

    def build_request(self, email: OutgoingEmail) -> HttpRequest:
        headers = {**self.extra_headers(email), "Message-ID": email.message_id}
        if email.outbox_id:
            headers[OUTBOX_ID_HEADER] = email.outbox_id
        body: dict[str, Any] = {
            "senderAddress": email.sender.addr_spec,
            "recipients": {"to": [_address(address) for address in email.to]},
            "content": {"subject": email.subject, "plainText": email.text, "html": email.html},
            "headers": headers,
            "userEngagementTrackingDisabled": True,
        }
        if email.reply_to is not None:
            body["replyTo"] = [_address(email.reply_to)]
        return HttpRequest(method="POST", url=self.api_url("emails:send"), json=body)

    def api_url(self, path: str) -> str:
        """``path`` under the endpoint, with the API version."""
        return f"{self.url(path)}?api-version={API_VERSION}"

    async def auth_headers(self, request: HttpRequest) -> dict[str, str]:
        if self.access_key is not None:
            return hmac_headers(request, self.access_key, now=datetime.now(UTC))
        return {"Authorization": f"Bearer {await self._entra_token()}"}

    async def _entra_token(self) -> str:
        if self.token_credential is None:
            try:
                from azure.identity.aio import DefaultAzureCredential
            except ImportError:
                raise self.unsupported(
                    "ACS_ENDPOINT without ACS_CONNECTION_STRING needs azure-identity "
                    "(pip install '.[azure]')"
                ) from None
            self.token_credential = DefaultAzureCredential()
        token = await self.token_credential.get_token(ENTRA_SCOPE)
        self._token = token.token
        return self._token

    def check_request(self) -> HttpRequest:
        return HttpRequest(method="GET", url=self.api_url(f"emails/operations/{NO_OPERATION}"))

    def check_passed(self, response: httpx.Response) -> str | None:
        body = json_body(response)
        if not isinstance(body, dict) or not isinstance(body.get("status"), str):
            return None
        return self._proven()

    def parse_check(self, response: httpx.Response) -> str:
        if response.status_code == 404 and self.error_detail(response).code is not None:
            return self._proven()  # the Email API's own answer for the unknown operation
        return super().parse_check(response)

    def _proven(self) -> str:
        way = "access key" if self.access_key is not None else "managed identity token"
        return f"{way} accepted by {httpx.URL(self.base_url).host}"

    def error_detail(self, response: httpx.Response) -> ErrorDetail:
        body = json_body(response)
        error = body.get("error") if isinstance(body, dict) else None
        code = response.headers.get("x-ms-error-code")
        if isinstance(error, dict):
            code = error.get("code") if isinstance(error.get("code"), str) else code
            if isinstance(error.get("message"), str):
                return ErrorDetail(code, short(error["message"]))
        return ErrorDetail(code, plain_reason(response))

    def classify(self, status: int, code: str | int | None) -> type[SendError]:
        if isinstance(code, str) and code in ACS_ERROR_KINDS:
            return ACS_ERROR_KINDS[code]
        return super().classify(status, code)


def _address(address: Address) -> dict[str, str]:
    entry = {"address": address.addr_spec}
    if address.display_name:
        entry["displayName"] = address.display_name
    return entry


def hmac_headers(request: HttpRequest, access_key: str, *, now: datetime) -> dict[str, str]:
    """The ``x-ms-date``, ``x-ms-content-sha256`` and ``Authorization`` of an access-key request."""
    url = httpx.URL(request.url)
    date = format_datetime(now.astimezone(UTC), usegmt=True)
    content_hash = base64.b64encode(hashlib.sha256(request.body).digest()).decode()
    path_and_query = url.raw_path.decode("ascii")
    to_sign = (
        f"{request.method}\n{path_and_query}\n{date};{url.netloc.decode('ascii')};{content_hash}"
    )
    digest = hmac.new(base64.b64decode(access_key), to_sign.encode(), hashlib.sha256).digest()
    signature = base64.b64encode(digest).decode()
    return {
        "x-ms-date": date,
        "x-ms-content-sha256": content_hash,
        "Authorization": (
            f"HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature={signature}"
        ),
    }

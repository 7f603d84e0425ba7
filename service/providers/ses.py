"""The ``ses`` provider: Amazon SES API v2, ``SendEmail`` with our own MIME message.

Format followed (pages read 2026-11-27):

* SendEmail — https://docs.aws.amazon.com/goto/WebAPI/sesv2-2019-09-27/SendEmail
  (API_SendEmail.html of the SES API v2 reference):
  ``POST {base}/v2/email/outbound-emails`` with JSON ``Content.Raw.Data``
  (the whole RFC 5322 message, a blob, so base64 in JSON), optional
  ``ConfigurationSetName`` and ``EmailTags`` (``[{"Name", "Value"}]``). With
  a raw message the recipients and every header (From, To, Reply-To,
  Message-ID) come from the message itself: they are exactly the bytes
  :meth:`~service.message.OutgoingEmail.to_bytes` writes, as SMTP sends them.
  Success is 200 ``{"MessageId": "..."}``.
  Errors: ``MessageRejected`` (invalid content), ``BadRequestException``,
  ``MailFromDomainNotVerifiedException``, ``AccountSuspendedException``,
  ``SendingPausedException``, ``NotFoundException`` (e.g. the configuration
  set), ``LimitExceededException``, ``TooManyRequestsException``.
* Errors — the SendEmail errors of the reference (also listed as SendEmailError in
  https://docs.rs/aws-sdk-sesv2/latest/aws_sdk_sesv2/operation/send_email/ ) and the
  common AWS errors (CommonErrors.html): ``AccessDeniedException``,
  ``UnrecognizedClientException``, ``InvalidSignatureException``,
  ``SignatureDoesNotMatch``, ``ExpiredTokenException``, ``ThrottlingException``,
  ``InternalFailure``, ``ServiceUnavailable``. The error's name is in the
  ``x-amzn-ErrorType`` header (REST-JSON protocol; ``Name:namespace``) and the
  text in the body's ``message``.
* Event publishing — https://docs.aws.amazon.com/ses/latest/dg/event-publishing-send-email.html:
  ``EmailTags`` come back in the events a configuration set publishes, so
  the outbox id is sent as the tag ``outbox_id``.
* Endpoints — https://docs.aws.amazon.com/general/latest/gr/ses.html:
  ``https://email.{region}.amazonaws.com``; ``SES_BASE_URL`` overrides it.
* Signing — https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv.html:
  Signature Version 4 with the signing name ``ses``, done by botocore's
  ``SigV4Auth`` over the exact bytes sent (never by hand). Credentials come
  from botocore's default chain, resolved on first use (not in the factory:
  an instance role is an HTTP call) and refreshed by botocore when they expire.

* Check (``python -m service check``) — GetAccount,
  https://docs.aws.amazon.com/goto/WebAPI/sesv2-2019-09-27/GetAccount (its fields also in
  the SDK's GetAccountOutput, https://docs.rs/aws-sdk-sesv2/latest/aws_sdk_sesv2/ ):
  ``GET {base}/v2/email/account``; fails when ``SendingEnabled`` is false,
  and says so when ``ProductionAccessEnabled`` is false (the sandbox: only
  verified recipients, 200 emails a day).

botocore is the ``aws`` extra; this module is imported only when ``ses`` is built.
"""

from __future__ import annotations

import asyncio
import base64
from typing import TYPE_CHECKING, Any

from service.config import ConfigError
from service.providers.catalog.ses import SesSettings
from service.providers.errors import MessageRejected, ProviderUnavailable, SendError, TransientError
from service.providers.http import (
    OUTBOX_ID_KEY,
    ErrorDetail,
    HttpProvider,
    HttpRequest,
    json_body,
    plain_reason,
    short,
)

try:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.session import get_session
except ImportError as err:  # pragma: no cover - depends on the installation
    raise ConfigError(
        "EMAIL_PROVIDERS: the ses provider needs botocore: pip install 'contact-mailer[aws]'"
    ) from err

if TYPE_CHECKING:
    import httpx
    from botocore.credentials import Credentials, ReadOnlyCredentials

    from service.message import OutgoingEmail

__all__ = ["SES_ERROR_KINDS", "SesProvider"]

#: SES error names whose meaning does not depend on the HTTP status.
SES_ERROR_KINDS: dict[str, type[SendError]] = {
    "MessageRejected": MessageRejected,
    "BadRequestException": MessageRejected,
    "MailFromDomainNotVerifiedException": ProviderUnavailable,
    "AccountSuspendedException": ProviderUnavailable,
    "SendingPausedException": ProviderUnavailable,
    "NotFoundException": ProviderUnavailable,
    "LimitExceededException": ProviderUnavailable,
    "AccessDeniedException": ProviderUnavailable,
    "UnrecognizedClientException": ProviderUnavailable,
    "InvalidSignatureException": ProviderUnavailable,
    "SignatureDoesNotMatch": ProviderUnavailable,
    "ExpiredTokenException": ProviderUnavailable,
    "IncompleteSignature": ProviderUnavailable,
    "MissingAuthenticationToken": ProviderUnavailable,
    "TooManyRequestsException": TransientError,
    "ThrottlingException": TransientError,
    "InternalFailure": TransientError,
    "ServiceUnavailable": TransientError,
}

_SIGNED_BY_BOTOCORE = ("Authorization", "X-Amz-Date", "X-Amz-Security-Token")


class SesProvider(HttpProvider):
    """Sends each email's own MIME bytes with one SES v2 ``SendEmail`` call."""

    declaration = SesSettings
    options: SesSettings
    message_id_path = ("MessageId",)

    def __init__(self, *, options: SesSettings, client: httpx.AsyncClient) -> None:
        super().__init__(options=options, client=client)
        self._credentials: Credentials | None = None
        self._aws_secrets: tuple[str, ...] = ()

    def api_base(self, options: SesSettings) -> str:  # type: ignore[override]
        if options.base_url is not None:
            return str(options.base_url)
        return f"https://email.{options.region}.amazonaws.com"

    def secrets(self) -> tuple[str, ...]:
        """The declared secrets (none) plus the AWS secret key and session token in use."""
        return (*super().secrets(), *self._aws_secrets)

    def build_request(self, email: OutgoingEmail) -> HttpRequest:
        self.extra_headers(email)  # the same refusals as every API, before writing the message
        try:
            raw = email.to_bytes()
        except ValueError as err:
            raise self.unsupported(str(err)) from err
        body: dict[str, Any] = {"Content": {"Raw": {"Data": base64.b64encode(raw).decode()}}}
        if self.options.configuration_set:
            body["ConfigurationSetName"] = self.options.configuration_set
        if email.outbox_id:
            body["EmailTags"] = [{"Name": OUTBOX_ID_KEY, "Value": email.outbox_id}]
        return HttpRequest(method="POST", url=self.url("v2/email/outbound-emails"), json=body)

    async def auth_headers(self, request: HttpRequest) -> dict[str, str]:
        credentials = await self._current_credentials()
        signed = AWSRequest(
            method=request.method, url=request.url, data=request.body, headers=dict(request.headers)
        )
        SigV4Auth(credentials, "ses", self.options.region).add_auth(signed)
        return {
            name: signed.headers[name] for name in _SIGNED_BY_BOTOCORE if name in signed.headers
        }

    async def _current_credentials(self) -> ReadOnlyCredentials:
        # Both calls may do I/O (an instance role, a refresh): off the event loop.
        if self._credentials is None:
            self._credentials = await asyncio.to_thread(get_session().get_credentials)
        if self._credentials is None:
            raise ProviderUnavailable(
                "no AWS credentials found (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
                "shared config, or an instance/pod role)",
                provider=self.name,
                code="NoCredentials",
            )
        frozen = await asyncio.to_thread(self._credentials.get_frozen_credentials)
        self._aws_secrets = tuple(s for s in (frozen.secret_key, frozen.token) if s)
        return frozen

    def check_request(self) -> HttpRequest:
        return HttpRequest(method="GET", url=self.url("v2/email/account"))

    def check_passed(self, response: httpx.Response) -> str | None:
        body = json_body(response)
        if not isinstance(body, dict) or not isinstance(body.get("SendingEnabled"), bool):
            return None
        region = self.options.region
        if not body["SendingEnabled"]:
            raise ProviderUnavailable(
                f"sending is disabled for this account in {region} "
                f"(enforcement status {body.get('EnforcementStatus', 'unknown')})",
                provider=self.name,
                code="SendingDisabled",
            )
        if body.get("ProductionAccessEnabled") is False:
            return (
                f"credentials accepted; sending enabled in {region}; WARNING: the account is "
                "in the SES sandbox (only verified recipients, 200 emails a day)"
            )
        return f"credentials accepted; sending enabled in {region} (production access)"

    def error_detail(self, response: httpx.Response) -> ErrorDetail:
        body = json_body(response)
        body = body if isinstance(body, dict) else {}
        code = response.headers.get("x-amzn-ErrorType", "").partition(":")[0].strip()
        if not code and isinstance(body.get("__type"), str):
            code = body["__type"].rpartition("#")[2]
        text = body.get("message") or body.get("Message")
        return ErrorDetail(
            code or None, short(text) if isinstance(text, str) else plain_reason(response)
        )

    def classify(self, status: int, code: str | int | None) -> type[SendError]:
        if isinstance(code, str) and code in SES_ERROR_KINDS:
            return SES_ERROR_KINDS[code]
        return super().classify(status, code)

"""The ``acs`` provider against respx: the documented Email - Send call, HMAC verified, errors."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx
import pytest
import respx

from service.config import ConfigError
from service.message import OutgoingEmail
from service.providers.acs import ENTRA_SCOPE, AcsProvider
from service.providers.base import SendResult
from service.providers.catalog.acs import parse_connection_string
from service.providers.errors import (
    MessageRejected,
    ProviderUnavailable,
    SendError,
    TransientError,
)
from service.providers.http import HttpProvider
from service.providers.registry import build_providers
from tests.provider_doubles import SAMPLE_VALUES, make_http_settings

URL = "https://contoso.communication.azure.com/emails:send?api-version=2023-03-31"
CHECK = (
    "https://contoso.communication.azure.com/emails/operations/"
    "00000000-0000-0000-0000-000000000000?api-version=2023-03-31"
)
OUTBOX_ID = "6f1c2f9e-3b1d-4c55-9a8e-2f0d6c1b7a10"
# The documented answer (swagger example SendEmail.json, "202").
OPERATION = "8540c0de-899f-5cce-acb5-3ec493af3800"
ACCEPTED = {"id": OPERATION, "status": "Running"}
ACCEPTED_HEADERS = {
    "Operation-Location": (
        f"https://contoso.communication.azure.com//emails/operations/{OPERATION}"
        "?api-version=2023-03-31"
    ),
    "retry-after": "20",
}


@pytest.fixture
def acs(http_provider: Callable[..., HttpProvider]) -> HttpProvider:
    provider = http_provider("acs")
    assert isinstance(provider, AcsProvider)
    return provider


def access_key() -> bytes:
    """The key inside the sample connection string, decoded, as the test knows it."""
    return base64.b64decode(parse_connection_string(SAMPLE_VALUES["acs_connection_string"])[1])


def expected_signature(request: httpx.Request, key: bytes) -> str:
    """The documented HMAC-SHA256 recomputed from the request as received."""
    to_sign = "\n".join(
        [
            request.method,
            request.url.raw_path.decode(),
            f"{request.headers['x-ms-date']};{request.headers['host']};"
            f"{request.headers['x-ms-content-sha256']}",
        ]
    )
    return base64.b64encode(hmac.new(key, to_sign.encode(), hashlib.sha256).digest()).decode()


async def test_build_request_is_the_documented_call(
    acs: HttpProvider, sample_email: OutgoingEmail
) -> None:
    request = await acs.authorize(acs.build_request(replace(sample_email, outbox_id=OUTBOX_ID)))

    assert (request.method, request.url) == ("POST", URL)
    assert request.json == {
        "senderAddress": "contact@acme.example",
        "recipients": {
            "to": [
                {"address": "li.lei@example.org", "displayName": "李雷"},
                {"address": "john@example.org", "displayName": "Smith, John"},
            ]
        },
        "content": {
            "subject": "Nouveau message de Zoë Ångström",
            "plainText": sample_email.text,
            "html": sample_email.html,
        },
        "replyTo": [{"address": "zoe@example.net", "displayName": "Zoë Ångström"}],
        "headers": {
            "Auto-Submitted": "auto-generated",
            "Message-ID": sample_email.message_id,
            "X-Outbox-Id": OUTBOX_ID,
        },
        "userEngagementTrackingDisabled": True,
    }
    assert set(request.headers) == {
        "Content-Type",
        "x-ms-date",
        "x-ms-content-sha256",
        "Authorization",
    }


async def test_send_is_signed_with_the_access_key_over_the_bytes_sent(
    acs: HttpProvider, sample_email: OutgoingEmail, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(URL).respond(202, json=ACCEPTED, headers=ACCEPTED_HEADERS)

    result = await acs.send(sample_email)

    assert result == SendResult(provider="acs", message_id=OPERATION)
    sent = route.calls.last.request
    assert sent.headers["host"] == "contoso.communication.azure.com"
    digest = base64.b64encode(hashlib.sha256(sent.content).digest()).decode()
    assert sent.headers["x-ms-content-sha256"] == digest
    stamped = parsedate_to_datetime(sent.headers["x-ms-date"])
    assert abs((datetime.now(UTC) - stamped).total_seconds()) < 60
    assert sent.headers["Authorization"] == (
        "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256"
        f"&Signature={expected_signature(sent, access_key())}"
    )
    # Another key signs differently: the test can fail.
    assert expected_signature(sent, b"another key") not in sent.headers["Authorization"]


async def test_acs_endpoint_replaces_the_connection_strings_endpoint(
    http_provider: Callable[..., HttpProvider],
    sample_email: OutgoingEmail,
    respx_mock: respx.MockRouter,
) -> None:
    local = "http://127.0.0.1:8089/emails:send?api-version=2023-03-31"
    route = respx_mock.post(local).respond(202, json=ACCEPTED)
    provider = http_provider("acs", acs_endpoint="http://127.0.0.1:8089/")

    await provider.send(sample_email)

    sent = route.calls.last.request
    assert sent.headers["host"] == "127.0.0.1:8089"
    assert sent.headers["Authorization"].endswith(expected_signature(sent, access_key()))


async def test_a_200_is_not_the_documented_acceptance(
    acs: HttpProvider, sample_email: OutgoingEmail, respx_mock: respx.MockRouter
) -> None:
    respx_mock.post(URL).respond(200, json=ACCEPTED)
    with pytest.raises(ProviderUnavailable, match="unexpected HTTP 200"):
        await acs.send(sample_email)


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (400, "BadRequest", MessageRejected),
        (422, "UnprocessableEntity", MessageRejected),
        (401, "Denied", ProviderUnavailable),
        (403, "Forbidden", ProviderUnavailable),
        (404, "NotFound", ProviderUnavailable),
        (400, "SubscriptionBlocked", ProviderUnavailable),
        (429, "TooManyRequests", TransientError),
        (500, "InternalServerError", TransientError),
    ],
)
async def test_acs_errors_are_classified(
    status: int,
    code: str,
    kind: type[SendError],
    acs: HttpProvider,
    sample_email: OutgoingEmail,
    respx_mock: respx.MockRouter,
) -> None:
    respx_mock.post(URL).respond(
        status,
        json={"error": {"code": code, "message": f"{code} happened."}},
        headers={"x-ms-error-code": code, "Retry-After": "30"},
    )

    with pytest.raises(SendError) as caught:
        await acs.send(sample_email)

    assert type(caught.value) is kind
    assert caught.value.code == code
    assert f"HTTP {status}: {code} happened." in str(caught.value)
    if kind is TransientError:
        assert caught.value.retry_after == 30.0


async def test_an_error_code_only_in_the_header_is_kept(
    acs: HttpProvider, sample_email: OutgoingEmail, respx_mock: respx.MockRouter
) -> None:
    respx_mock.post(URL).respond(400, text="", headers={"x-ms-error-code": "SubscriptionBlocked"})
    with pytest.raises(ProviderUnavailable) as caught:
        await acs.send(sample_email)
    assert caught.value.code == "SubscriptionBlocked"


class FakeCredential:
    """azure-identity's async credential interface, handing out one token."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.scopes: list[tuple[str, ...]] = []
        self.closed = False

    async def get_token(self, *scopes: str) -> object:
        from azure.core.credentials import AccessToken

        self.scopes.append(scopes)
        return AccessToken(self.token, 2_000_000_000)

    async def close(self) -> None:
        self.closed = True


async def test_acs_endpoint_alone_sends_with_the_managed_identitys_token(
    http_provider: Callable[..., HttpProvider],
    sample_email: OutgoingEmail,
    respx_mock: respx.MockRouter,
) -> None:
    pytest.importorskip("azure.core", reason="the azure extra is not installed")
    provider = http_provider(
        "acs", acs_connection_string=None, acs_endpoint="https://contoso.communication.azure.com"
    )
    assert isinstance(provider, AcsProvider)
    credential = FakeCredential("eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.fake-entra-token")
    provider.token_credential = credential
    route = respx_mock.post(URL).respond(202, json=ACCEPTED)

    await provider.send(sample_email)

    sent = route.calls.last.request
    assert sent.headers["Authorization"] == f"Bearer {credential.token}"
    assert "x-ms-content-sha256" not in sent.headers
    assert credential.scopes == [(ENTRA_SCOPE,)]
    # An echoed token never shows.
    respx_mock.post(URL).respond(
        401, json={"error": {"code": "Denied", "message": credential.token}}
    )
    with pytest.raises(ProviderUnavailable) as caught:
        await provider.send(sample_email)
    assert credential.token[:20] not in str(caught.value)
    await provider.close()
    assert credential.closed


def test_without_key_nor_endpoint_startup_names_the_connection_string() -> None:
    settings = make_http_settings(acs_connection_string=None)
    with pytest.raises(ConfigError, match=r"^ACS_CONNECTION_STRING: required by the 'acs'"):
        build_providers(settings, ["acs"], http_client=httpx.AsyncClient())


@pytest.mark.parametrize(
    "value",
    [
        "https://contoso.communication.azure.com/",
        "endpoint=https://contoso.communication.azure.com/",
        "endpoint=contoso;accesskey=c2VjcmV0LWtleQ==",
        "endpoint=https://contoso.communication.azure.com/;accesskey=not*base64",
    ],
)
def test_a_malformed_connection_string_is_one_line_without_the_key(value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        make_http_settings(acs_connection_string=value)
    message = str(caught.value)
    assert message.startswith("ACS_CONNECTION_STRING:")
    assert "\n" not in message
    assert "c2VjcmV0" not in message
    assert "not*base64" not in message


async def test_check_reads_an_operation_that_cannot_exist(
    acs: HttpProvider, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.get(CHECK).respond(
        404,
        json={"error": {"code": "NotFound", "message": "Operation not found."}},
        headers={"x-ms-error-code": "NotFound"},
    )

    proven = await acs.check()

    assert proven == "access key accepted by contoso.communication.azure.com"
    sent = route.calls.last.request
    assert sent.content == b""
    assert sent.headers["Authorization"].endswith(expected_signature(sent, access_key()))


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (401, {"error": {"code": "Denied", "message": "Denied by the resource provider."}}),
        (404, None),  # not the Email API: a wrong endpoint
    ],
)
async def test_check_fails_on_refused_keys_and_foreign_404s(
    status: int, body: object, acs: HttpProvider, respx_mock: respx.MockRouter
) -> None:
    if body is None:
        respx_mock.get(CHECK).respond(status, html="<h1>Not Found</h1>")
    else:
        respx_mock.get(CHECK).respond(status, json=body)

    with pytest.raises(ProviderUnavailable) as caught:
        await acs.check()

    assert f"HTTP {status}" in str(caught.value)

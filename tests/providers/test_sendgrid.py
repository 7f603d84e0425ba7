"""The ``sendgrid`` provider against respx: the exact documented request, 202 and X-Message-Id."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
import respx

from service.message import OutgoingEmail
from service.providers.base import SendResult
from service.providers.errors import (
    MessageRejected,
    ProviderUnavailable,
    SendError,
    TransientError,
)
from service.providers.http import HttpProvider
from service.providers.sendgrid import SendgridProvider

URL = "https://api.sendgrid.com/v3/mail/send"


@pytest.fixture
def sendgrid(http_provider: Callable[..., HttpProvider]) -> HttpProvider:
    provider = http_provider("sendgrid")
    assert isinstance(provider, SendgridProvider)
    return provider


def expected_body(email: OutgoingEmail) -> dict[str, object]:
    return {
        "personalizations": [
            {
                "to": [
                    {"email": "li.lei@example.org", "name": "李雷"},
                    # SendGrid would not quote this name itself in personalizations.
                    {"email": "john@example.org", "name": '"Smith, John"'},
                ]
            }
        ],
        "from": {"email": "contact@acme.example", "name": "Acme Contact"},
        "reply_to": {"email": "zoe@example.net", "name": "Zoë Ångström"},
        "subject": "Nouveau message de Zoë Ångström",
        "content": [
            {"type": "text/plain", "value": email.text},
            {"type": "text/html", "value": email.html},
        ],
        "headers": {
            "Auto-Submitted": "auto-generated",
            "Message-ID": "<0123456789abcdef0123456789abcdef@acme.example>",
        },
    }


async def test_build_request_is_the_documented_call(
    sendgrid: HttpProvider, sample_email: OutgoingEmail, http_keys: dict[str, str]
) -> None:
    request = await sendgrid.authorize(sendgrid.build_request(sample_email))  # as sent

    assert request.method == "POST"
    assert request.url == URL
    assert dict(request.headers) == {
        "Authorization": f"Bearer {http_keys['sendgrid_api_key']}",
        "Content-Type": "application/json",
    }
    assert request.json == expected_body(sample_email)
    # Key order matters to SendGrid: text/plain must come before text/html.
    assert [part["type"] for part in request.json["content"]] == ["text/plain", "text/html"]


async def test_send_posts_exactly_that_and_takes_the_id_from_the_header(
    sendgrid: HttpProvider,
    sample_email: OutgoingEmail,
    http_keys: dict[str, str],
    respx_mock: respx.MockRouter,
) -> None:
    route = respx_mock.post(URL).respond(202, headers={"X-Message-Id": "mUkcMAx3Tq-c6dbB3Uqx1w"})

    result = await sendgrid.send(sample_email)

    assert result == SendResult(provider="sendgrid", message_id="mUkcMAx3Tq-c6dbB3Uqx1w")
    sent = route.calls.last.request
    assert sent.method == "POST"
    assert str(sent.url) == URL
    assert sent.headers["Authorization"] == f"Bearer {http_keys['sendgrid_api_key']}"
    assert sent.headers["Content-Type"] == "application/json"
    assert json.loads(sent.content) == expected_body(sample_email)


async def test_a_202_without_id_is_still_accepted(
    sendgrid: HttpProvider, sample_email: OutgoingEmail, respx_mock: respx.MockRouter
) -> None:
    respx_mock.post(URL).respond(202)
    assert await sendgrid.send(sample_email) == SendResult(provider="sendgrid", message_id=None)


def test_empty_names_and_parts_are_left_out(
    sendgrid: HttpProvider, sample_email: OutgoingEmail
) -> None:
    email = OutgoingEmail.from_dict(
        {
            **sample_email.to_dict(),
            "sender": {"name": "", "email": "contact@acme.example"},
            "to": [{"name": "", "email": "owner@acme.example"}],
            "reply_to": {"name": "", "email": "visitor@example.net"},
            "text": "",
        }
    )
    body = sendgrid.build_request(email).json
    assert body["from"] == {"email": "contact@acme.example"}
    assert body["personalizations"] == [{"to": [{"email": "owner@acme.example"}]}]
    assert body["reply_to"] == {"email": "visitor@example.net"}
    assert body["content"] == [{"type": "text/html", "value": email.html}]


def test_no_reply_to_means_no_field(sendgrid: HttpProvider, sample_email: OutgoingEmail) -> None:
    email = OutgoingEmail.from_dict({**sample_email.to_dict(), "reply_to": None})
    assert "reply_to" not in sendgrid.build_request(email).json


@pytest.mark.parametrize("header", ["X-SG-EID", "x-sg-id", "Received", "DKIM-Signature"])
async def test_sendgrid_reserved_headers_fail_loudly(
    header: str,
    sendgrid: HttpProvider,
    sample_email: OutgoingEmail,
    respx_mock: respx.MockRouter,
) -> None:
    email = OutgoingEmail.from_dict({**sample_email.to_dict(), "headers": {header: "x"}})
    with pytest.raises(ProviderUnavailable, match="cannot be set"):
        await sendgrid.send(email)
    assert not respx_mock.calls


@pytest.mark.parametrize(
    ("status", "errors", "kind", "text"),
    [
        (
            400,
            [{"message": "Does not contain a valid address.", "field": "reply_to.email"}],
            MessageRejected,
            "HTTP 400: reply_to.email: Does not contain a valid address.",
        ),
        (
            401,
            [{"message": "The provided authorization grant is invalid, expired, or revoked",
              "field": None, "help": None}],
            ProviderUnavailable,
            "HTTP 401: The provided authorization grant is invalid, expired, or revoked",
        ),
        (
            403,
            [{"message": "The from address does not match a verified Sender Identity.",
              "field": "from"}],
            ProviderUnavailable,
            "HTTP 403: from: The from address does not match a verified Sender Identity.",
        ),
        (413, [{"message": "Payload Too Large", "field": None}], MessageRejected,
         "HTTP 413: Payload Too Large"),
        (429, [{"message": "too many requests", "field": None}], TransientError,
         "HTTP 429: too many requests"),
    ],
)  # fmt: skip
async def test_sendgrid_errors(
    status: int,
    errors: list[dict[str, object]],
    kind: type[SendError],
    text: str,
    sendgrid: HttpProvider,
    sample_email: OutgoingEmail,
    respx_mock: respx.MockRouter,
) -> None:
    respx_mock.post(URL).respond(status, json={"errors": errors})

    with pytest.raises(SendError) as caught:
        await sendgrid.send(sample_email)

    assert type(caught.value) is kind
    assert caught.value.code == status
    assert str(caught.value).endswith(text)

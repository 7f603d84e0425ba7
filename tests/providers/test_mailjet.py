"""The ``mailjet`` provider against respx: Send API v3.1's documented request, errors and check."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import replace

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
from service.providers.mailjet import MailjetProvider

URL = "https://api.mailjet.com/v3.1/send"
SENDERS = "https://api.mailjet.com/v3/REST/sender"
# The answer documented under "Send a basic email" (Send API v3.1 guide).
ACCEPTED = {
    "Messages": [
        {
            "Status": "success",
            "To": [
                {
                    "Email": "passenger1@mailjet.com",
                    "MessageUUID": "123",
                    "MessageID": 456,
                    "MessageHref": "https://api.mailjet.com/v3/message/456",
                }
            ],
        }
    ]
}


@pytest.fixture
def mailjet(http_provider: Callable[..., HttpProvider]) -> HttpProvider:
    provider = http_provider("mailjet")
    assert isinstance(provider, MailjetProvider)
    return provider


def basic(http_keys: dict[str, str]) -> str:
    pair = f"{http_keys['mailjet_api_key']}:{http_keys['mailjet_secret_key']}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


def expected_body(email: OutgoingEmail) -> dict[str, object]:
    return {
        "Messages": [
            {
                "From": {"Email": "contact@acme.example", "Name": "Acme Contact"},
                "To": [
                    {"Email": "li.lei@example.org", "Name": "李雷"},
                    {"Email": "john@example.org", "Name": "Smith, John"},
                ],
                "ReplyTo": {"Email": "zoe@example.net", "Name": "Zoë Ångström"},
                "Subject": "Nouveau message de Zoë Ångström",
                "TextPart": email.text,
                "HTMLPart": email.html,
                "Headers": {
                    "Auto-Submitted": "auto-generated",
                    "Message-ID": "<0123456789abcdef0123456789abcdef@acme.example>",
                },
                "CustomID": "0193a4b5-outbox-id",
            }
        ]
    }


async def test_build_request_is_the_documented_call(
    mailjet: HttpProvider, stored_email: OutgoingEmail, http_keys: dict[str, str]
) -> None:
    request = await mailjet.authorize(mailjet.build_request(stored_email))

    assert (request.method, request.url) == ("POST", URL)
    assert dict(request.headers) == {
        "Authorization": basic(http_keys),
        "Content-Type": "application/json",
    }
    assert request.json == expected_body(stored_email)


async def test_send_posts_exactly_that_and_keeps_the_message_uuid(
    mailjet: HttpProvider,
    stored_email: OutgoingEmail,
    http_keys: dict[str, str],
    respx_mock: respx.MockRouter,
) -> None:
    route = respx_mock.post(URL).respond(200, json=ACCEPTED)

    result = await mailjet.send(stored_email)

    assert result == SendResult(provider="mailjet", message_id="123")
    sent = route.calls.last.request
    assert sent.headers["Authorization"] == basic(http_keys)
    assert json.loads(sent.content) == expected_body(stored_email)


def test_no_reply_to_and_no_outbox_id_leave_their_fields_out(
    mailjet: HttpProvider, sample_email: OutgoingEmail
) -> None:
    (message,) = mailjet.build_request(replace(sample_email, reply_to=None)).json["Messages"]
    assert "ReplyTo" not in message
    assert "CustomID" not in message


@pytest.mark.parametrize("header", ["X-MJ-CustomID", "X-Mailjet-Campaign", "X-MJ-TemplateID"])
async def test_headers_mailjet_sets_from_properties_fail_loudly(
    header: str, mailjet: HttpProvider, sample_email: OutgoingEmail, respx_mock: respx.MockRouter
) -> None:
    with pytest.raises(ProviderUnavailable, match="cannot be set"):
        await mailjet.send(replace(sample_email, headers={header: "x"}))
    assert not respx_mock.calls


def message_errors(*errors: dict[str, object]) -> dict[str, object]:
    """A per-message error answer as the guide's "Send API errors" shows it."""
    return {"Messages": [{"Status": "error", "Errors": list(errors)}]}


def error(code: str, status: int, text: str, related: list[str]) -> dict[str, object]:
    return {
        "ErrorIdentifier": "f987008f-251a-4dff-8ffc-40f1583ad7bc",
        "ErrorCode": code,
        "StatusCode": status,
        "ErrorMessage": text,
        "ErrorRelatedTo": related,
    }


@pytest.mark.parametrize(
    ("status", "body", "kind", "code", "text"),
    [
        (400, message_errors(
            error("mj-0004", 400, 'Type mismatch. Expected type "array of emails".',
                  ["HTMLPart", "TemplateID"]),
            error("mj-0005", 400, "The To is mandatory but missing from the input", ["To"]),
        ), MessageRejected, "mj-0004", 'HTTP 400: Type mismatch. Expected type "array of emails".'),
        (400, {"ErrorIdentifier": "06df1144-c6f3-4ca7-8885-7ec5d4344113", "ErrorCode": "mj-0002",
               "ErrorMessage": "Malformed JSON, please review the syntax and properties types.",
               "StatusCode": 400},
         MessageRejected, "mj-0002",
         "HTTP 400: Malformed JSON, please review the syntax and properties types."),
        (401, {"ErrorIdentifier": "x", "ErrorCode": "mj-0015", "StatusCode": 401,
               "ErrorMessage": "API key authentication/authorization failure."},
         ProviderUnavailable, "mj-0015", "HTTP 401: API key authentication/authorization failure."),
        (403, message_errors(error("send-0008", 403, '"pilot@mailjet.com" is not an authorized '
                                   "sender email address for your account.", ["From"])),
         ProviderUnavailable, "send-0008", 'HTTP 403: "pilot@mailjet.com" is not an authorized'),
        (400, message_errors(error("send-0011", 400, "Header is forbidden, use the property",
                                   ['Headers["X-Mailjet-Prio"]'])),
         ProviderUnavailable, "send-0011", "HTTP 400: Header is forbidden, use the property"),
        (429, {"ErrorMessage": "Too many requests", "StatusCode": 429}, TransientError, 429,
         "HTTP 429: Too many requests"),
    ],
)  # fmt: skip
async def test_mailjet_errors(
    status: int,
    body: dict[str, object],
    kind: type[SendError],
    code: str | int,
    text: str,
    mailjet: HttpProvider,
    stored_email: OutgoingEmail,
    respx_mock: respx.MockRouter,
) -> None:
    respx_mock.post(URL).respond(status, json=body)

    with pytest.raises(SendError) as caught:
        await mailjet.send(stored_email)

    assert type(caught.value) is kind
    assert caught.value.code == code
    assert text in str(caught.value)


async def test_an_error_status_in_a_2xx_answer_is_a_failure(
    mailjet: HttpProvider, stored_email: OutgoingEmail, respx_mock: respx.MockRouter
) -> None:
    respx_mock.post(URL).respond(
        200, json=message_errors(error("mj-0013", 400, "Email address is invalid", ["Email"]))
    )

    with pytest.raises(MessageRejected) as caught:
        await mailjet.send(stored_email)
    assert caught.value.code == "mj-0013"


async def test_check_counts_active_senders_without_naming_them(
    mailjet: HttpProvider, http_keys: dict[str, str], respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.get(SENDERS).respond(
        200,
        json={
            "Count": 2,
            "Data": [
                {"Email": "contact@acme.example", "ID": 1, "Name": "", "Status": "Active"},
                {"Email": "anothersender@example.com", "ID": 2, "Name": "", "Status": "Inactive"},
            ],
            "Total": 2,
        },
    )

    proven = await mailjet.check()

    assert proven == "keys accepted; 1 of 2 sender(s) active"
    assert "acme.example" not in proven
    sent = route.calls.last.request
    assert (sent.method, sent.headers["Authorization"]) == ("GET", basic(http_keys))


async def test_check_with_refused_keys_is_unavailable(
    mailjet: HttpProvider, respx_mock: respx.MockRouter
) -> None:
    respx_mock.get(SENDERS).respond(401, text="", headers={"Content-Type": "text/plain"})

    with pytest.raises(ProviderUnavailable) as caught:
        await mailjet.check()
    assert str(caught.value) == "mailjet: unavailable [401]: HTTP 401: Unauthorized"

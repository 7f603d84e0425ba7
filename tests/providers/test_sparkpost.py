"""The ``sparkpost`` provider against respx: the documented transmission, its error codes, check."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace

import pytest
import respx

from service.message import Address, OutgoingEmail
from service.providers.base import SendResult
from service.providers.errors import (
    MessageRejected,
    ProviderUnavailable,
    SendError,
    TransientError,
)
from service.providers.http import HttpProvider
from service.providers.sparkpost import SparkpostProvider, literal

URL = "https://api.sparkpost.com/api/v1/transmissions"
# The answer documented for "Create a Transmission" (inline email part content).
ACCEPTED = {
    "results": {
        "total_rejected_recipients": 0,
        "total_accepted_recipients": 1,
        "id": "11668787484950529",
    }
}


@pytest.fixture
def sparkpost(http_provider: Callable[..., HttpProvider]) -> HttpProvider:
    provider = http_provider("sparkpost")
    assert isinstance(provider, SparkpostProvider)
    return provider


def expected_body(email: OutgoingEmail) -> dict[str, object]:
    return {
        "options": {"transactional": True},
        "recipients": [
            {"address": {"email": "li.lei@example.org", "name": "李雷"}},
            {"address": {"email": "john@example.org", "name": "Smith, John"}},
        ],
        "content": {
            "from": {"email": "contact@acme.example", "name": "Acme Contact"},
            "subject": "Nouveau message de Zoë Ångström",
            "text": email.text,
            "html": email.html,
            "headers": {
                "Auto-Submitted": "auto-generated",
                "Message-ID": "<0123456789abcdef0123456789abcdef@acme.example>",
            },
            "reply_to": "Zoë Ångström <zoe@example.net>",
        },
        "metadata": {"outbox_id": "0193a4b5-outbox-id"},
    }


async def test_build_request_is_the_documented_call(
    sparkpost: HttpProvider, stored_email: OutgoingEmail, http_keys: dict[str, str]
) -> None:
    request = await sparkpost.authorize(sparkpost.build_request(stored_email))

    assert (request.method, request.url) == ("POST", URL)
    # The bare key, no scheme: SparkPost's documented Authorization header.
    assert dict(request.headers) == {
        "Authorization": http_keys["sparkpost_api_key"],
        "Content-Type": "application/json",
    }
    assert request.json == expected_body(stored_email)


async def test_send_posts_exactly_that_and_keeps_the_transmission_id(
    sparkpost: HttpProvider, stored_email: OutgoingEmail, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(URL).respond(200, json=ACCEPTED)

    result = await sparkpost.send(stored_email)

    assert result == SendResult(provider="sparkpost", message_id="11668787484950529")
    assert json.loads(route.calls.last.request.content) == expected_body(stored_email)


async def test_the_eu_region_is_a_base_url(
    http_provider: Callable[..., HttpProvider],
    stored_email: OutgoingEmail,
    respx_mock: respx.MockRouter,
) -> None:
    eu = http_provider("sparkpost", sparkpost_base_url="https://api.eu.sparkpost.com")
    route = respx_mock.post("https://api.eu.sparkpost.com/api/v1/transmissions").respond(
        200, json=ACCEPTED
    )
    await eu.send(stored_email)
    assert route.called


def test_visitor_text_is_never_a_template(
    sparkpost: HttpProvider, sample_email: OutgoingEmail
) -> None:
    visitor = Address(display_name='Eve "{{address.email}}"', addr_spec="eve@example.net")
    email = replace(
        sample_email,
        subject="Message from {{address.name}}",
        text="I wrote {{{ raw }}} and }}",
        html="<p>{{ each x }}</p>",
        reply_to=visitor,
    )
    content = sparkpost.build_request(email).json["content"]
    opening, closing = "{{opening_double_curly()}}", "{{closing_double_curly()}}"
    assert content["subject"] == f"Message from {opening}address.name{closing}"
    assert content["text"] == f"I wrote {opening}{{ raw {closing}}} and {closing}"
    assert content["html"] == f"<p>{opening} each x {closing}</p>"
    assert content["reply_to"] == (f'"Eve \\"{opening}address.email{closing}\\"" <eve@example.net>')
    assert literal("no braces { } here") == "no braces { } here"


def test_without_reply_to_or_outbox_id_the_fields_are_left_out(
    sparkpost: HttpProvider, sample_email: OutgoingEmail
) -> None:
    body = sparkpost.build_request(replace(sample_email, reply_to=None)).json
    assert "reply_to" not in body["content"]
    assert "metadata" not in body


def errors(code: str, message: str, description: str) -> dict[str, object]:
    return {"errors": [{"message": message, "code": code, "description": description}]}


@pytest.mark.parametrize(
    ("status", "body", "kind", "code"),
    [
        # The 400 documented under "Create a Transmission".
        (400, errors("7001", "Invalid domain", "Unconfigured or unverified sending domain."),
         ProviderUnavailable, "7001"),
        (420, errors("2101", "Exceed Sending Limit (hourly)", ""),
         ProviderUnavailable, "2101"),
        (420, {}, ProviderUnavailable, 420),
        (400, errors("1502", "Server resources unavailable", ""), TransientError,
         "1502"),
        (503, errors("1900", "Message generation module not available", ""), TransientError,
         "1900"),
        (403, errors("1100", "permission denied", ""),
         ProviderUnavailable, "1100"),
        (422, errors("3002", "Invalid header", ""),
         ProviderUnavailable, "3002"),
        (400, errors("1902", "Message generation rejected", ""), MessageRejected, "1902"),
        (422, errors("1300", "invalid data format/type/length", ""),
         MessageRejected, "1300"),
    ],
)  # fmt: skip
async def test_sparkpost_extended_error_codes(
    status: int,
    body: dict[str, object],
    kind: type[SendError],
    code: str | int,
    sparkpost: HttpProvider,
    stored_email: OutgoingEmail,
    respx_mock: respx.MockRouter,
) -> None:
    respx_mock.post(URL).respond(status, json=body)

    with pytest.raises(SendError) as caught:
        await sparkpost.send(stored_email)

    assert type(caught.value) is kind
    assert caught.value.code == code


async def test_an_error_says_message_and_description(
    sparkpost: HttpProvider, stored_email: OutgoingEmail, respx_mock: respx.MockRouter
) -> None:
    respx_mock.post(URL).respond(
        400, json=errors("7001", "Invalid domain", "Unconfigured or unverified sending domain.")
    )
    with pytest.raises(ProviderUnavailable) as caught:
        await sparkpost.send(stored_email)
    assert str(caught.value) == (
        "sparkpost: unavailable [7001]: HTTP 400: Invalid domain: "
        "Unconfigured or unverified sending domain."
    )


async def test_no_accepted_recipient_is_a_rejection(
    sparkpost: HttpProvider, stored_email: OutgoingEmail, respx_mock: respx.MockRouter
) -> None:
    respx_mock.post(URL).respond(
        200,
        json={
            "results": {
                "total_rejected_recipients": 1,
                "total_accepted_recipients": 0,
                "id": "11668787484950530",
            }
        },
    )
    with pytest.raises(MessageRejected, match="accepted none of the recipients"):
        await sparkpost.send(stored_email)


async def test_check_lists_transmissions(
    sparkpost: HttpProvider, http_keys: dict[str, str], respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.get(URL).respond(200, json={"results": []})

    assert await sparkpost.check() == "key accepted with the Transmissions permission"
    sent = route.calls.last.request
    assert (sent.method, sent.headers["Authorization"]) == ("GET", http_keys["sparkpost_api_key"])
    assert sent.content == b""


async def test_check_with_a_key_lacking_the_permission_is_unavailable(
    sparkpost: HttpProvider, respx_mock: respx.MockRouter
) -> None:
    respx_mock.get(URL).respond(403, json=errors("1100", "permission denied", ""))

    with pytest.raises(ProviderUnavailable) as caught:
        await sparkpost.check()
    assert caught.value.code == "1100"

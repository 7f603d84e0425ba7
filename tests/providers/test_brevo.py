"""The ``brevo`` provider against respx: the documented request, its error codes and its check."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace

import pytest
import respx

from service.message import Address, OutgoingEmail
from service.providers.base import SendResult
from service.providers.brevo import BrevoProvider
from service.providers.errors import (
    MessageRejected,
    ProviderUnavailable,
    SendError,
    TransientError,
)
from service.providers.http import HttpProvider

URL = "https://api.brevo.com/v3/smtp/email"
ACCOUNT = "https://api.brevo.com/v3/account"
# The answer documented on the "Send a transactional email" reference page.
ACCEPTED = {"messageId": "<201798300811.5787683@smtp-relay.mailin.fr>"}


@pytest.fixture
def brevo(http_provider: Callable[..., HttpProvider]) -> HttpProvider:
    provider = http_provider("brevo")
    assert isinstance(provider, BrevoProvider)
    return provider


def expected_body(email: OutgoingEmail) -> dict[str, object]:
    return {
        "sender": {"email": "contact@acme.example", "name": "Acme Contact"},
        "to": [
            {"email": "li.lei@example.org", "name": "李雷"},
            {"email": "john@example.org", "name": "Smith, John"},
        ],
        "replyTo": {"email": "zoe@example.net", "name": "Zoë Ångström"},
        "subject": "Nouveau message de Zoë Ångström",
        "htmlContent": email.html,
        "textContent": email.text,
        "headers": {"Auto-Submitted": "auto-generated", "X-Mailin-custom": "0193a4b5-outbox-id"},
    }


async def test_build_request_is_the_documented_call(
    brevo: HttpProvider, stored_email: OutgoingEmail, http_keys: dict[str, str]
) -> None:
    request = await brevo.authorize(brevo.build_request(stored_email))

    assert (request.method, request.url) == ("POST", URL)
    assert dict(request.headers) == {
        "api-key": http_keys["brevo_api_key"],
        "Accept": "application/json",
        "Content-Type": "application/json",
    }
    assert request.json == expected_body(stored_email)


async def test_send_posts_exactly_that_and_takes_the_message_id(
    brevo: HttpProvider,
    stored_email: OutgoingEmail,
    http_keys: dict[str, str],
    respx_mock: respx.MockRouter,
) -> None:
    route = respx_mock.post(URL).respond(201, json=ACCEPTED)

    result = await brevo.send(stored_email)

    assert result == SendResult(provider="brevo", message_id=ACCEPTED["messageId"])
    sent = route.calls.last.request
    assert sent.headers["api-key"] == http_keys["brevo_api_key"]
    assert json.loads(sent.content) == expected_body(stored_email)


def test_without_an_outbox_id_or_extra_headers_there_are_no_headers(
    brevo: HttpProvider, sample_email: OutgoingEmail
) -> None:
    email = replace(sample_email, headers={}, reply_to=None)
    body = brevo.build_request(email).json
    assert "headers" not in body
    assert "replyTo" not in body


def test_a_non_ascii_name_with_a_special_is_an_encoded_word(
    brevo: HttpProvider, sample_email: OutgoingEmail
) -> None:
    # Brevo would drop such a name in "to" and send it as raw 8-bit in "replyTo".
    visitor = Address(display_name="Ångström, Zoë", addr_spec="zoe@example.net")
    body = brevo.build_request(replace(sample_email, reply_to=visitor, to=(visitor,))).json
    encoded = "=?utf-8?b?w4VuZ3N0csO2bSwgWm/Dqw==?="
    assert body["replyTo"] == {"email": "zoe@example.net", "name": encoded}
    assert body["to"] == [{"email": "zoe@example.net", "name": encoded}]


@pytest.mark.parametrize("header", ["X-Mailin-custom", "Idempotency-Key"])
async def test_headers_brevo_reads_itself_cannot_be_set(
    header: str, brevo: HttpProvider, sample_email: OutgoingEmail, respx_mock: respx.MockRouter
) -> None:
    with pytest.raises(ProviderUnavailable, match="cannot be set"):
        await brevo.send(replace(sample_email, headers={header: "x"}))
    assert not respx_mock.calls


@pytest.mark.parametrize(
    ("status", "code", "message", "kind"),
    [
        (400, "invalid_parameter", "email is not valid in to", MessageRejected),
        (400, "missing_parameter", "subject is missing", MessageRejected),
        (401, "unauthorized", "Key not found", ProviderUnavailable),
        (401, "permission_denied", "Unable to send email. Your SMTP account is not yet activated.",
         ProviderUnavailable),
        (402, "not_enough_credits", "Not enough credits", ProviderUnavailable),
        (400, "account_under_validation", "Your account is under validation", ProviderUnavailable),
        (400, "not_enough_credits", "Not enough credits", ProviderUnavailable),
        (429, "too_many_requests", "Too many requests", TransientError),
    ],
)  # fmt: skip
async def test_brevo_error_codes(
    status: int,
    code: str,
    message: str,
    kind: type[SendError],
    brevo: HttpProvider,
    stored_email: OutgoingEmail,
    respx_mock: respx.MockRouter,
) -> None:
    respx_mock.post(URL).respond(status, json={"code": code, "message": message})

    with pytest.raises(SendError) as caught:
        await brevo.send(stored_email)

    assert type(caught.value) is kind
    assert caught.value.code == code
    assert str(caught.value).endswith(f"HTTP {status}: {message}")


async def test_check_reads_the_account(
    brevo: HttpProvider, http_keys: dict[str, str], respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.get(ACCOUNT).respond(
        200,
        json={
            "email": "owner@acme.example",
            "firstName": "Ann",
            "lastName": "Owner",
            "companyName": "Acme",
            "plan": [{"type": "free", "credits": 300, "creditsType": "sendLimit"}],
        },
    )

    proven = await brevo.check()

    assert proven == "key accepted (plan: free)"
    assert "owner@acme.example" not in proven
    sent = route.calls.last.request
    assert sent.method == "GET"
    assert sent.headers["api-key"] == http_keys["brevo_api_key"]
    assert sent.content == b""


async def test_check_with_a_refused_key_is_unavailable(
    brevo: HttpProvider, respx_mock: respx.MockRouter
) -> None:
    respx_mock.get(ACCOUNT).respond(401, json={"code": "unauthorized", "message": "Key not found"})

    with pytest.raises(ProviderUnavailable) as caught:
        await brevo.check()
    assert str(caught.value) == "brevo: unavailable [unauthorized]: HTTP 401: Key not found"

"""The ``mailersend`` provider against respx: the documented request, 202 with X-Message-Id."""

from __future__ import annotations

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
from service.providers.mailersend import MailersendProvider

URL = "https://api.mailersend.com/v1/email"
QUOTA = "https://api.mailersend.com/v1/api-quota"
MESSAGE_ID = "5e42957d51f1d94a1070a733"


@pytest.fixture
def mailersend(http_provider: Callable[..., HttpProvider]) -> HttpProvider:
    provider = http_provider("mailersend")
    assert isinstance(provider, MailersendProvider)
    return provider


def expected_body(email: OutgoingEmail) -> dict[str, object]:
    return {
        "from": {"email": "contact@acme.example", "name": "Acme Contact"},
        # MailerSend: a recipient's name "may not contain ; or ,".
        "to": [
            {"email": "li.lei@example.org", "name": "李雷"},
            {"email": "john@example.org", "name": "Smith John"},
        ],
        "reply_to": {"email": "zoe@example.net", "name": "Zoë Ångström"},
        "subject": "Nouveau message de Zoë Ångström",
        "text": email.text,
        "html": email.html,
        "tags": ["0193a4b5-outbox-id"],
    }


async def test_build_request_is_the_documented_call(
    mailersend: HttpProvider, stored_email: OutgoingEmail, http_keys: dict[str, str]
) -> None:
    request = await mailersend.authorize(mailersend.build_request(stored_email))

    assert (request.method, request.url) == ("POST", URL)
    assert dict(request.headers) == {
        "Authorization": f"Bearer {http_keys['mailersend_api_key']}",
        "Accept": "application/json",
        "Content-Type": "application/json",
    }
    assert request.json == expected_body(stored_email)


async def test_send_posts_exactly_that_and_takes_the_id_from_the_header(
    mailersend: HttpProvider,
    stored_email: OutgoingEmail,
    http_keys: dict[str, str],
    respx_mock: respx.MockRouter,
) -> None:
    route = respx_mock.post(URL).respond(202, headers={"X-Message-Id": MESSAGE_ID})

    result = await mailersend.send(stored_email)

    assert result == SendResult(provider="mailersend", message_id=MESSAGE_ID)
    sent = route.calls.last.request
    assert sent.headers["Authorization"] == f"Bearer {http_keys['mailersend_api_key']}"
    assert json.loads(sent.content) == expected_body(stored_email)


def test_headers_are_sent_only_when_the_plan_takes_them(
    http_provider: Callable[..., HttpProvider], stored_email: OutgoingEmail
) -> None:
    enterprise = http_provider("mailersend", mailersend_send_headers=True)
    assert enterprise.build_request(stored_email).json["headers"] == [
        {"name": "Auto-Submitted", "value": "auto-generated"},
        {"name": "Message-ID", "value": "<0123456789abcdef0123456789abcdef@acme.example>"},
    ]


async def test_a_header_no_api_can_carry_fails_even_when_headers_are_not_sent(
    mailersend: HttpProvider, sample_email: OutgoingEmail, respx_mock: respx.MockRouter
) -> None:
    with pytest.raises(ProviderUnavailable, match="one line of ASCII"):
        await mailersend.send(replace(sample_email, headers={"X-Note": "a\r\nBcc: x@example.com"}))
    assert not respx_mock.calls


async def test_some_recipients_suppressed_is_still_accepted(
    mailersend: HttpProvider, stored_email: OutgoingEmail, respx_mock: respx.MockRouter
) -> None:
    respx_mock.post(URL).respond(
        202,
        headers={"X-Message-Id": MESSAGE_ID},
        json={
            "message": "There are some warnings for your request.",
            "warnings": [
                {
                    "type": "SOME_SUPPRESSED",
                    "message": "Some of the recipients have been suppressed.",
                    "recipients": [
                        {"email": "john@example.org", "name": None, "reasons": ["unsubscribed"]}
                    ],
                }
            ],
        },
    )
    assert (await mailersend.send(stored_email)).message_id == MESSAGE_ID


async def test_every_recipient_suppressed_is_a_rejection(
    mailersend: HttpProvider, stored_email: OutgoingEmail, respx_mock: respx.MockRouter
) -> None:
    # The example on MailerSend's "REST API response codes" page.
    respx_mock.post(URL).respond(
        202,
        json={
            "message": "There are some warnings for your request.",
            "warnings": [
                {
                    "type": "ALL_SUPPRESSED",
                    "message": "All of the recipients provided have been suppressed.",
                    "recipients": [
                        {"email": "hello@example.com", "name": None, "reasons": ["hard_bounced"]}
                    ],
                }
            ],
        },
    )

    with pytest.raises(MessageRejected) as caught:
        await mailersend.send(stored_email)
    assert str(caught.value) == (
        "mailersend: rejected [ALL_SUPPRESSED]: every recipient is suppressed (hard_bounced)"
    )


@pytest.mark.parametrize(
    ("status", "body", "kind", "code", "text"),
    [
        # The validation error shape of MailerSend's general page: "message" and "errors".
        (422, {"message": "The given data was invalid.",
               "errors": {"to.0.email": ["The to.0.email must be a valid email address."]}},
         MessageRejected, 422, "HTTP 422: to.0.email: The to.0.email must be a valid email"),
        (401, {"message": "Unauthenticated."}, ProviderUnavailable, 401,
         "HTTP 401: Unauthenticated."),
        (429, {"message": "Your account reached its API daily quota limit. Upgrade to increase "
                          "it. #MS42901"}, ProviderUnavailable, "MS42901",
         "HTTP 429: Your account reached its API daily quota limit."),
        (429, {"message": "Your account reached its rate limit of 60 requests/min. Please wait "
                          "before trying again. #MS42903"}, TransientError, "MS42903",
         "HTTP 429: Your account reached its rate limit"),
        (421, {"message": "Service isn't available, try again later"}, TransientError, 421,
         "HTTP 421: Service isn't available"),
    ],
)  # fmt: skip
async def test_mailersend_errors(
    status: int,
    body: dict[str, object],
    kind: type[SendError],
    code: str | int,
    text: str,
    mailersend: HttpProvider,
    stored_email: OutgoingEmail,
    respx_mock: respx.MockRouter,
) -> None:
    respx_mock.post(URL).respond(status, json=body)

    with pytest.raises(SendError) as caught:
        await mailersend.send(stored_email)

    assert type(caught.value) is kind
    assert caught.value.code == code
    assert text in str(caught.value)


async def test_check_reads_the_api_quota(
    mailersend: HttpProvider, http_keys: dict[str, str], respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.get(QUOTA).respond(
        200, json={"quota": 100, "remaining": 98, "reset": "2026-11-28T00:00:00Z"}
    )

    assert await mailersend.check() == "token accepted; 98 of 100 API requests left today"
    sent = route.calls.last.request
    assert sent.headers["Authorization"] == f"Bearer {http_keys['mailersend_api_key']}"


async def test_check_fails_when_the_daily_quota_is_used_up(
    mailersend: HttpProvider, respx_mock: respx.MockRouter
) -> None:
    respx_mock.get(QUOTA).respond(
        200, json={"quota": 100, "remaining": 0, "reset": "2026-11-28T00:00:00Z"}
    )

    with pytest.raises(ProviderUnavailable) as caught:
        await mailersend.check()
    assert caught.value.code == "MS42901"

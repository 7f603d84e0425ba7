"""The ``postmark`` provider against respx: the exact documented request and ``ErrorCode``."""

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
from service.providers.postmark import PostmarkProvider

URL = "https://api.postmarkapp.com/email"
MESSAGE_ID = "b7bc2f4a-e38e-4336-af7d-e6c392c2f817"


@pytest.fixture
def postmark(http_provider: Callable[..., HttpProvider]) -> HttpProvider:
    provider = http_provider("postmark")
    assert isinstance(provider, PostmarkProvider)
    return provider


def expected_body(email: OutgoingEmail, stream: str = "outbound") -> dict[str, object]:
    return {
        "From": "Acme Contact <contact@acme.example>",
        "To": '=?utf-8?b?5p2O6Zu3?= <li.lei@example.org>, "Smith, John" <john@example.org>',
        "ReplyTo": "=?utf-8?b?Wm/DqyDDhW5nc3Ryw7Zt?= <zoe@example.net>",
        "Subject": "Nouveau message de Zoë Ångström",
        "HtmlBody": email.html,
        "TextBody": email.text,
        "Headers": [
            {"Name": "Auto-Submitted", "Value": "auto-generated"},
            {"Name": "Message-ID", "Value": "<0123456789abcdef0123456789abcdef@acme.example>"},
        ],
        "MessageStream": stream,
    }


def ok(**extra: object) -> dict[str, object]:
    return {
        "To": "li.lei@example.org",
        "SubmittedAt": "2026-11-26T09:30:00.0000000-05:00",
        "MessageID": MESSAGE_ID,
        "ErrorCode": 0,
        "Message": "OK",
        **extra,
    }


async def test_build_request_is_the_documented_call(
    postmark: HttpProvider, sample_email: OutgoingEmail, http_keys: dict[str, str]
) -> None:
    request = await postmark.authorize(postmark.build_request(sample_email))  # as sent

    assert request.method == "POST"
    assert request.url == URL
    assert dict(request.headers) == {
        "X-Postmark-Server-Token": http_keys["postmark_server_token"],
        "Accept": "application/json",
        "Content-Type": "application/json",
    }
    assert request.json == expected_body(sample_email)


async def test_send_posts_exactly_that_and_returns_postmarks_id(
    postmark: HttpProvider,
    sample_email: OutgoingEmail,
    http_keys: dict[str, str],
    respx_mock: respx.MockRouter,
) -> None:
    route = respx_mock.post(URL).respond(200, json=ok())

    result = await postmark.send(sample_email)

    assert result == SendResult(provider="postmark", message_id=MESSAGE_ID)
    sent = route.calls.last.request
    assert sent.method == "POST"
    assert str(sent.url) == URL
    assert sent.headers["X-Postmark-Server-Token"] == http_keys["postmark_server_token"]
    assert sent.headers["Accept"] == "application/json"
    assert sent.headers["Content-Type"] == "application/json"
    assert "Authorization" not in sent.headers
    assert json.loads(sent.content) == expected_body(sample_email)


def test_message_stream_comes_from_settings(
    http_provider: Callable[..., HttpProvider], sample_email: OutgoingEmail
) -> None:
    provider = http_provider("postmark", postmark_message_stream="contact-forms")
    assert provider.build_request(sample_email).json == expected_body(
        sample_email, stream="contact-forms"
    )


async def test_a_delayed_acceptance_without_error_code_is_a_success(
    postmark: HttpProvider, sample_email: OutgoingEmail, respx_mock: respx.MockRouter
) -> None:
    body = ok(Message="Message accepted, but delivery may be delayed.")
    del body["ErrorCode"]
    respx_mock.post(URL).respond(200, json=body)

    assert (await postmark.send(sample_email)).message_id == MESSAGE_ID


@pytest.mark.parametrize(
    ("status", "error_code", "kind"),
    [
        # A 200 with a non-zero ErrorCode is a failure, classified by the code.
        (200, 406, MessageRejected),
        (200, 405, ProviderUnavailable),
        (200, 9999, ProviderUnavailable),
        # The code decides before the status.
        (401, 10, ProviderUnavailable),
        (422, 10, ProviderUnavailable),
        (422, 300, MessageRejected),
        (422, 406, MessageRejected),
        (422, 401, ProviderUnavailable),
        (422, 412, ProviderUnavailable),
        (422, 413, ProviderUnavailable),
        (422, 100, TransientError),
        (429, 429, TransientError),
        (422, 9999, MessageRejected),
        (500, 0, TransientError),
    ],
)
async def test_error_code_classification(
    status: int,
    error_code: int,
    kind: type[SendError],
    postmark: HttpProvider,
    sample_email: OutgoingEmail,
    respx_mock: respx.MockRouter,
) -> None:
    respx_mock.post(URL).respond(
        status, json={"ErrorCode": error_code, "Message": f"Postmark code {error_code}."}
    )

    with pytest.raises(SendError) as caught:
        await postmark.send(sample_email)

    assert type(caught.value) is kind
    assert caught.value.code == error_code
    assert f"HTTP {status}: Postmark code {error_code}." in str(caught.value)


async def test_inactive_recipient_is_rejected_with_postmarks_reason(
    postmark: HttpProvider, sample_email: OutgoingEmail, respx_mock: respx.MockRouter
) -> None:
    message = (
        "You tried to send to a recipient that has been marked as inactive.\n"
        "Found inactive addresses: li.lei@example.org.\n"
        "Inactive recipients are ones that have generated a hard bounce or a spam complaint."
    )
    respx_mock.post(URL).respond(422, json={"ErrorCode": 406, "Message": message})

    with pytest.raises(MessageRejected) as caught:
        await postmark.send(sample_email)

    assert str(caught.value).startswith(
        "postmark: rejected [406]: HTTP 422: You tried to send to a recipient"
    )
    assert "\n" not in str(caught.value)


async def test_rate_limit_honours_retry_after(
    postmark: HttpProvider, sample_email: OutgoingEmail, respx_mock: respx.MockRouter
) -> None:
    respx_mock.post(URL).respond(
        429,
        json={"ErrorCode": 429, "Message": "Rate limit exceeded."},
        headers={"Retry-After": "4"},
    )
    with pytest.raises(TransientError) as caught:
        await postmark.send(sample_email)
    assert caught.value.retry_after == 4.0

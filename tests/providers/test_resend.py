"""The ``resend`` provider against respx: the exact documented request and Resend's own errors."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
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
from service.providers.resend import ResendProvider, idempotency_key

URL = "https://api.resend.com/emails"
KEY = "0123456789abcdef0123456789abcdef@acme.example"


@pytest.fixture
def resend(http_provider: Callable[..., HttpProvider]) -> HttpProvider:
    provider = http_provider("resend")
    assert isinstance(provider, ResendProvider)
    return provider


def expected_body(email: OutgoingEmail) -> dict[str, object]:
    return {
        "from": "Acme Contact <contact@acme.example>",
        "to": [
            "=?utf-8?b?5p2O6Zu3?= <li.lei@example.org>",
            "=?utf-8?q?Smith=2C_John?= <john@example.org>",
        ],
        "reply_to": "=?utf-8?b?Wm/DqyDDhW5nc3Ryw7Zt?= <zoe@example.net>",
        "subject": "Nouveau message de Zoë Ångström",
        "html": email.html,
        "text": email.text,
        "headers": {"Auto-Submitted": "auto-generated"},
    }


async def test_build_request_is_the_documented_call(
    resend: HttpProvider, sample_email: OutgoingEmail, http_keys: dict[str, str]
) -> None:
    request = await resend.authorize(resend.build_request(sample_email))  # as sent

    assert request.method == "POST"
    assert request.url == URL
    assert dict(request.headers) == {
        "Authorization": f"Bearer {http_keys['resend_api_key']}",
        "Idempotency-Key": KEY,
        "Content-Type": "application/json",
    }
    assert request.json == expected_body(sample_email)
    assert request.form is None


async def test_send_posts_exactly_that_and_returns_resends_id(
    resend: HttpProvider,
    sample_email: OutgoingEmail,
    http_keys: dict[str, str],
    respx_mock: respx.MockRouter,
) -> None:
    route = respx_mock.post(URL).respond(200, json={"id": "49a3999c-0ce1-4ea6-ab68-afcd6dc2e794"})

    result = await resend.send(sample_email)

    assert result == SendResult(
        provider="resend", message_id="49a3999c-0ce1-4ea6-ab68-afcd6dc2e794"
    )
    sent = route.calls.last.request
    assert sent.method == "POST"
    assert str(sent.url) == URL
    assert sent.headers["Authorization"] == f"Bearer {http_keys['resend_api_key']}"
    assert sent.headers["Idempotency-Key"] == KEY
    assert sent.headers["Content-Type"] == "application/json"
    assert json.loads(sent.content) == expected_body(sample_email)


async def test_every_attempt_at_one_email_carries_the_same_key(
    resend: HttpProvider, sample_email: OutgoingEmail, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(URL)
    route.side_effect = [httpx.Response(500), httpx.Response(200, json={"id": "e-1"})]

    with pytest.raises(TransientError):
        await resend.send(sample_email)
    await resend.send(sample_email)

    keys = [call.request.headers["Idempotency-Key"] for call in route.calls]
    assert keys == [KEY, KEY]


def test_idempotency_key_fits_resends_limit() -> None:
    long_id = f"<{'a' * 300}@example.com>"
    key = idempotency_key(long_id)
    assert len(key) <= 256
    assert key == idempotency_key(long_id)
    assert key != idempotency_key(f"<{'b' * 300}@example.com>")
    assert idempotency_key("<abc@example.com>") == "abc@example.com"


def test_base_url_may_carry_a_path(
    http_provider: Callable[..., HttpProvider], sample_email: OutgoingEmail
) -> None:
    provider = http_provider("resend", resend_base_url="https://proxy.example/resend/")
    assert provider.build_request(sample_email).url == "https://proxy.example/resend/emails"


def test_names_and_bare_addresses(resend: HttpProvider, sample_email: OutgoingEmail) -> None:
    email = OutgoingEmail.from_dict(
        {
            **sample_email.to_dict(),
            "sender": {"name": "Zoë's Café", "email": "cafe@acme.example"},
            "to": [{"name": "", "email": "owner@acme.example"}],
            "reply_to": None,
            "headers": {},
        }
    )
    body = resend.build_request(email).json
    # From keeps Unicode unquoted (Resend refuses encoded words there).
    assert body["from"] == "Zoë's Café <cafe@acme.example>"
    assert body["to"] == ["owner@acme.example"]
    assert "reply_to" not in body
    assert "headers" not in body


async def test_a_from_name_resend_cannot_take_fails_loudly_before_any_request(
    resend: HttpProvider, sample_email: OutgoingEmail, respx_mock: respx.MockRouter
) -> None:
    email = OutgoingEmail.from_dict(
        {**sample_email.to_dict(), "sender": {"name": "Acme, Inc", "email": "c@acme.example"}}
    )
    with pytest.raises(ProviderUnavailable, match="EMAIL_FROM_NAME") as caught:
        await resend.send(email)
    assert caught.value.code == "unsupported"
    assert not respx_mock.calls


@pytest.mark.parametrize(
    ("status", "name", "kind"),
    [
        (429, "daily_quota_exceeded", ProviderUnavailable),
        (429, "monthly_quota_exceeded", ProviderUnavailable),
        (429, "rate_limit_exceeded", TransientError),
        (409, "concurrent_idempotent_requests", TransientError),
        (409, "invalid_idempotent_request", MessageRejected),
        (400, "invalid_idempotency_key", MessageRejected),
        (422, "validation_error", MessageRejected),
        (401, "missing_api_key", ProviderUnavailable),
        (403, "invalid_api_key", ProviderUnavailable),
        (403, "validation_error", ProviderUnavailable),
        (500, "application_error", TransientError),
        (451, "security_error", MessageRejected),
    ],
)
async def test_resend_errors(
    status: int,
    name: str,
    kind: type[SendError],
    resend: HttpProvider,
    sample_email: OutgoingEmail,
    respx_mock: respx.MockRouter,
) -> None:
    respx_mock.post(URL).respond(
        status,
        json={"statusCode": status, "name": name, "message": f"Resend says {name}."},
        headers={"Retry-After": "1"},
    )

    with pytest.raises(SendError) as caught:
        await resend.send(sample_email)

    assert type(caught.value) is kind
    assert caught.value.code == name
    assert str(caught.value) == f"resend: {kind.kind} [{name}]: HTTP {status}: Resend says {name}."
    if kind is TransientError:
        assert caught.value.retry_after == 1.0


async def test_daily_quota_is_not_retried_even_with_retry_after(
    resend: HttpProvider, sample_email: OutgoingEmail, respx_mock: respx.MockRouter
) -> None:
    respx_mock.post(URL).respond(
        429,
        json={
            "statusCode": 429,
            "name": "daily_quota_exceeded",
            "message": "You have reached your daily email sending quota.",
        },
        headers={"Retry-After": "3600"},
    )
    with pytest.raises(ProviderUnavailable, match="daily email sending quota") as caught:
        await resend.send(sample_email)
    assert not isinstance(caught.value, TransientError)


async def test_error_messages_never_carry_the_email(
    resend: HttpProvider, sample_email: OutgoingEmail, respx_mock: respx.MockRouter
) -> None:
    respx_mock.post(URL).respond(
        422, json={"statusCode": 422, "name": "validation_error", "message": "Invalid `to` field."}
    )
    with pytest.raises(MessageRejected) as caught:
        await resend.send(sample_email)
    text = str(caught.value)
    assert "Invalid `to` field." in text
    assert "你好世界" not in text
    assert sample_email.subject not in text

"""The ``mailgun`` provider against respx: the exact documented form request and its answers."""

from __future__ import annotations

import base64
from collections.abc import Callable
from urllib.parse import parse_qs

import pytest
import respx

from service.config import ConfigError
from service.message import OutgoingEmail
from service.providers.base import SendResult
from service.providers.errors import (
    MessageRejected,
    ProviderUnavailable,
    SendError,
    TransientError,
)
from service.providers.http import HttpProvider
from service.providers.mailgun import MailgunProvider

URL = "https://api.mailgun.net/v3/mg.example.com/messages"
MAILGUN_ID = "<20261126093000.1.ABCDEF@mg.example.com>"


@pytest.fixture
def mailgun(http_provider: Callable[..., HttpProvider]) -> HttpProvider:
    provider = http_provider("mailgun")
    assert isinstance(provider, MailgunProvider)
    return provider


def expected_form(email: OutgoingEmail) -> dict[str, list[str]]:
    """The form as ``parse_qs`` reads it back: every field a list, ``to`` repeated."""
    return {
        "from": ["Acme Contact <contact@acme.example>"],
        "to": ["=?utf-8?b?5p2O6Zu3?= <li.lei@example.org>", '"Smith, John" <john@example.org>'],
        "subject": ["Nouveau message de Zoë Ångström"],
        "text": [email.text],
        "html": [email.html],
        "h:Reply-To": ["=?utf-8?b?Wm/DqyDDhW5nc3Ryw7Zt?= <zoe@example.net>"],
        "h:Auto-Submitted": ["auto-generated"],
        "h:Message-ID": ["<0123456789abcdef0123456789abcdef@acme.example>"],
    }


async def test_build_request_is_the_documented_call(
    mailgun: HttpProvider, sample_email: OutgoingEmail, http_keys: dict[str, str]
) -> None:
    request = await mailgun.authorize(mailgun.build_request(sample_email))  # as sent

    assert request.method == "POST"
    assert request.url == URL
    assert request.json is None
    credentials = base64.b64encode(f"api:{http_keys['mailgun_api_key']}".encode()).decode()
    assert dict(request.headers) == {
        "Authorization": f"Basic {credentials}",
        "Content-Type": "application/x-www-form-urlencoded",
    }
    assert request.form == {
        field: values if field == "to" else values[0]
        for field, values in expected_form(sample_email).items()
    }


async def test_send_posts_exactly_that_form_and_returns_mailguns_id(
    mailgun: HttpProvider,
    sample_email: OutgoingEmail,
    http_keys: dict[str, str],
    respx_mock: respx.MockRouter,
) -> None:
    route = respx_mock.post(URL).respond(
        200, json={"id": MAILGUN_ID, "message": "Queued. Thank you."}
    )

    result = await mailgun.send(sample_email)

    assert result == SendResult(provider="mailgun", message_id=MAILGUN_ID)
    sent = route.calls.last.request
    assert sent.method == "POST"
    assert str(sent.url) == URL
    scheme, _, token = sent.headers["Authorization"].partition(" ")
    assert scheme == "Basic"
    assert base64.b64decode(token).decode() == f"api:{http_keys['mailgun_api_key']}"
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(sent.content.decode("ascii"), strict_parsing=True) == expected_form(
        sample_email
    )


def test_eu_region_base_url(
    http_provider: Callable[..., HttpProvider], sample_email: OutgoingEmail
) -> None:
    provider = http_provider("mailgun", mailgun_base_url="https://api.eu.mailgun.net")
    assert (
        provider.build_request(sample_email).url
        == "https://api.eu.mailgun.net/v3/mg.example.com/messages"
    )


@pytest.mark.parametrize(
    "domain", ["mg.example.com/../v4", "mg example.com", "%2f", "-bad.example"]
)
def test_a_domain_that_would_change_the_endpoint_fails_startup(
    domain: str, http_provider: Callable[..., HttpProvider]
) -> None:
    with pytest.raises(ConfigError, match=r"^MAILGUN_DOMAIN: "):
        http_provider("mailgun", mailgun_domain=domain)


def test_a_missing_domain_fails_startup(http_provider: Callable[..., HttpProvider]) -> None:
    with pytest.raises(ConfigError, match=r"^MAILGUN_DOMAIN: required by the 'mailgun' provider"):
        http_provider("mailgun", mailgun_domain=None)


async def test_an_internationalised_sender_address_fails_loudly(
    mailgun: HttpProvider, sample_email: OutgoingEmail, respx_mock: respx.MockRouter
) -> None:
    email = OutgoingEmail.from_dict(
        {**sample_email.to_dict(), "sender": {"name": "", "email": "contact@bücher.example"}}
    )
    with pytest.raises(ProviderUnavailable, match="internationalised") as caught:
        await mailgun.send(email)
    assert caught.value.code == "unsupported"
    assert not respx_mock.calls


@pytest.mark.parametrize(
    ("status", "body", "content_type", "kind", "text"),
    [
        (400, '{"message": "to parameter is not a valid address. please check documentation"}',
         "application/json", MessageRejected,
         "HTTP 400: to parameter is not a valid address. please check documentation"),
        (401, "Forbidden", "text/plain; charset=utf-8", ProviderUnavailable, "HTTP 401: Forbidden"),
        (403, '{"message": "Domain mg.example.com is not allowed to send: Free accounts..."}',
         "application/json", ProviderUnavailable, "HTTP 403: Domain mg.example.com is not allowed"),
        (404, '{"message": "Domain not found: mg.example.com"}', "application/json",
         ProviderUnavailable, "HTTP 404: Domain not found: mg.example.com"),
        (429, '{"message": "Too many requests"}', "application/json", TransientError,
         "HTTP 429: Too many requests"),
        (500, "<html><body>Internal Server Error</body></html>", "text/html", TransientError,
         "HTTP 500: Internal Server Error"),
    ],
)  # fmt: skip
async def test_mailgun_errors(
    status: int,
    body: str,
    content_type: str,
    kind: type[SendError],
    text: str,
    mailgun: HttpProvider,
    sample_email: OutgoingEmail,
    respx_mock: respx.MockRouter,
) -> None:
    respx_mock.post(URL).respond(status, text=body, headers={"Content-Type": content_type})

    with pytest.raises(SendError) as caught:
        await mailgun.send(sample_email)

    assert type(caught.value) is kind
    assert caught.value.code == status
    assert text in str(caught.value)
    assert "<html>" not in str(caught.value)


async def test_the_magnificent_api_answer_means_a_wrong_endpoint(
    mailgun: HttpProvider, sample_email: OutgoingEmail, respx_mock: respx.MockRouter
) -> None:
    respx_mock.post(URL).respond(200, text="Mailgun Magnificent API")
    with pytest.raises(ProviderUnavailable, match="unexpected HTTP 200 answer"):
        await mailgun.send(sample_email)

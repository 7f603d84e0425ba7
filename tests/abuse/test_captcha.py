"""The optional captcha against respx: the documented siteverify request, and every way it fails."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import respx
from sanic_testing.testing import SanicASGITestClient

from service.abuse.captcha import FAILED, MISSING, PROVIDERS, UNAVAILABLE
from tests.abuse.forms import VALID_FORM, mail_kinds, post_json

MakeClient = Callable[..., SanicASGITestClient]

SECRET = "0x4AAA-secret-do-not-log"
TOKEN = "token-XYZ.123_abc"
VISITOR = {"x-forwarded-for": "203.0.113.9"}

ENDPOINTS = {
    "turnstile": (
        "cf-turnstile-response",
        "https://challenges.cloudflare.com/turnstile/v0/siteverify",
    ),
    "hcaptcha": ("h-captcha-response", "https://api.hcaptcha.com/siteverify"),
    "recaptcha": ("g-recaptcha-response", "https://www.google.com/recaptcha/api/siteverify"),
}


@pytest.fixture(params=sorted(ENDPOINTS))
def provider(request: pytest.FixtureRequest) -> str:
    """Each provider in turn."""
    return request.param


@pytest.fixture
def captcha_client(make_client: MakeClient, provider: str) -> SanicASGITestClient:
    """An app behind one trusted proxy, with ``provider`` configured."""
    return make_client(
        captcha_provider=provider, captcha_secret=SECRET, proxies_count=1, contact_rate_limit="off"
    )


def form_with_token(provider: str, token: str = TOKEN) -> dict[str, Any]:
    return {**VALID_FORM, ENDPOINTS[provider][0]: token}


def sent_form(route: respx.Route) -> dict[str, list[str]]:
    request = route.calls.last.request
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    return parse_qs(request.content.decode())


def test_the_table_matches_each_providers_documentation(provider: str) -> None:
    field, url = ENDPOINTS[provider]
    assert PROVIDERS[provider].token_field == field
    assert PROVIDERS[provider].verify_url == url


async def test_a_passed_captcha_is_verified_with_secret_token_and_visitor_ip(
    captcha_client: SanicASGITestClient, provider: str, respx_mock: respx.MockRouter, mail_dir: Path
) -> None:
    route = respx_mock.post(ENDPOINTS[provider][1]).respond(
        200, json={"success": True, "hostname": "example.com", "score": 0.9}
    )
    response = await post_json(captcha_client, form_with_token(provider), VISITOR)
    assert response.status == 200, response.text
    assert route.call_count == 1
    assert sent_form(route) == {
        "secret": [SECRET],
        "response": [TOKEN],
        "remoteip": ["203.0.113.9"],
    }
    assert len(mail_kinds(mail_dir)) == 2


async def test_a_plain_html_form_carries_the_token_too(
    captcha_client: SanicASGITestClient, provider: str, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(ENDPOINTS[provider][1]).respond(200, json={"success": True})
    _, response = await captcha_client.post(
        "/api/contact", data=form_with_token(provider), headers=VISITOR
    )
    assert response.status == 200
    assert sent_form(route)["response"] == [TOKEN]


async def test_no_remoteip_is_sent_when_the_peer_is_not_an_ip_address(
    make_client: MakeClient, provider: str, respx_mock: respx.MockRouter
) -> None:
    # The in-process test client's peer is called "mockserver"; it is not worth sending.
    client = make_client(captcha_provider=provider, captcha_secret=SECRET)
    route = respx_mock.post(ENDPOINTS[provider][1]).respond(200, json={"success": True})
    assert (await post_json(client, form_with_token(provider))).status == 200
    assert set(sent_form(route)) == {"secret", "response"}


@pytest.mark.parametrize("token", [None, "", "   ", 42, ["t"], "t" * 8193])
async def test_a_missing_token_is_refused_without_asking_the_provider(
    captcha_client: SanicASGITestClient,
    provider: str,
    respx_mock: respx.MockRouter,
    mail_dir: Path,
    token: object,
) -> None:
    route = respx_mock.post(ENDPOINTS[provider][1]).respond(200, json={"success": True})
    form = {**VALID_FORM}
    if token is not None:
        form[ENDPOINTS[provider][0]] = token
    response = await post_json(captcha_client, form, VISITOR)
    assert response.status == 422
    assert response.json == {"success": False, "message": MISSING, "errors": []}
    assert not route.called
    assert not mail_kinds(mail_dir)


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ({"success": False, "error-codes": ["invalid-input-response"]}, "invalid-input-response"),
        ({"success": False, "error-codes": ["timeout-or-duplicate"]}, "timeout-or-duplicate"),
        ({"success": False}, "success-false"),
        ({"success": "true"}, "success-false"),
        ({}, "success-false"),
    ],
)
async def test_a_failed_captcha_is_a_422_and_sends_nothing(
    captcha_client: SanicASGITestClient,
    provider: str,
    respx_mock: respx.MockRouter,
    caplog: pytest.LogCaptureFixture,
    answer: dict[str, Any],
    reason: str,
) -> None:
    respx_mock.post(ENDPOINTS[provider][1]).respond(200, json=answer)
    with caplog.at_level(logging.INFO):
        response = await post_json(captcha_client, form_with_token(provider), VISITOR)
    assert response.status == 422
    assert response.json["message"] == FAILED
    assert f"abuse: captcha_rejected ({reason})" in caplog.text
    assert TOKEN not in caplog.text
    assert SECRET not in caplog.text


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ConnectTimeout("timed out"),
        httpx.ReadTimeout("timed out"),
        httpx.ConnectError("refused"),
        httpx.Response(500, text="oops"),
        httpx.Response(503, json={"success": True}),
        httpx.Response(200, text="<html>challenge</html>"),
        httpx.Response(200, json=["success", True]),
        httpx.Response(200, content=b'{"success": true, "x": ' + b"[" * 5000 + b"]" * 5000 + b"}"),
    ],
    ids=[
        "connect-timeout",
        "read-timeout",
        "refused",
        "500",
        "503",
        "not-json",
        "not-object",
        "nested-5000-deep",
    ],
)
async def test_an_unreachable_or_broken_provider_fails_closed(
    captcha_client: SanicASGITestClient,
    provider: str,
    respx_mock: respx.MockRouter,
    mail_dir: Path,
    caplog: pytest.LogCaptureFixture,
    failure: Exception | httpx.Response,
) -> None:
    route = respx_mock.post(ENDPOINTS[provider][1])
    if isinstance(failure, Exception):
        route.side_effect = failure
    else:
        route.return_value = failure
    with caplog.at_level(logging.INFO):
        response = await post_json(captcha_client, form_with_token(provider), VISITOR)
    assert response.status == 422
    assert response.json["message"] == UNAVAILABLE
    assert not mail_kinds(mail_dir)
    assert "abuse: captcha_unavailable" in caplog.text
    assert SECRET not in caplog.text


async def test_a_browser_gets_the_failure_as_an_html_page(
    captcha_client: SanicASGITestClient, provider: str, respx_mock: respx.MockRouter
) -> None:
    respx_mock.post(ENDPOINTS[provider][1]).respond(200, json={"success": False})
    _, response = await captcha_client.post(
        "/api/contact",
        data=form_with_token(provider),
        headers={"accept": "text/html", **VISITOR},
    )
    assert response.status == 422
    assert response.content_type.startswith("text/html")
    assert FAILED in response.text


async def test_a_wrong_secret_is_logged_as_an_operator_error(
    captcha_client: SanicASGITestClient,
    provider: str,
    respx_mock: respx.MockRouter,
    caplog: pytest.LogCaptureFixture,
) -> None:
    respx_mock.post(ENDPOINTS[provider][1]).respond(
        200, json={"success": False, "error-codes": ["invalid-input-secret"]}
    )
    response = await post_json(captcha_client, form_with_token(provider), VISITOR)
    assert response.status == 422
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [r.getMessage() for r in errors] == [
        f"{provider} rejects our CAPTCHA_SECRET (invalid-input-secret)"
    ]


@pytest.mark.parametrize(
    ("hostname", "status"),
    [("example.com", 200), ("EXAMPLE.com", 200), ("evil.example", 422), (None, 422)],
)
async def test_captcha_hostname_must_match_when_set(
    make_client: MakeClient,
    provider: str,
    respx_mock: respx.MockRouter,
    hostname: str | None,
    status: int,
) -> None:
    client = make_client(
        captcha_provider=provider, captcha_secret=SECRET, captcha_hostname="example.com"
    )
    answer: dict[str, Any] = {"success": True}
    if hostname is not None:
        answer["hostname"] = hostname
    respx_mock.post(ENDPOINTS[provider][1]).respond(200, json=answer)
    response = await post_json(client, form_with_token(provider))
    assert response.status == status
    if status == 422:
        assert response.json["message"] == FAILED


@pytest.mark.parametrize(
    ("answer", "status"),
    [
        ({"success": True, "score": 0.9, "action": "contact"}, 200),
        ({"success": True, "score": 0.5}, 200),
        ({"success": True, "score": 0.3}, 422),
        ({"success": True, "score": "high"}, 422),
        ({"success": True}, 200),  # reCAPTCHA v2 has no score
    ],
)
async def test_recaptcha_v3_scores_below_captcha_min_score_are_refused(
    make_client: MakeClient, respx_mock: respx.MockRouter, answer: dict[str, Any], status: int
) -> None:
    client = make_client(captcha_provider="recaptcha", captcha_secret=SECRET)
    respx_mock.post(ENDPOINTS["recaptcha"][1]).respond(200, json=answer)
    assert (await post_json(client, form_with_token("recaptcha"))).status == status


async def test_captcha_min_score_is_configurable(
    make_client: MakeClient, respx_mock: respx.MockRouter
) -> None:
    client = make_client(
        captcha_provider="recaptcha", captcha_secret=SECRET, captcha_min_score="0.8"
    )
    respx_mock.post(ENDPOINTS["recaptcha"][1]).respond(200, json={"success": True, "score": 0.7})
    assert (await post_json(client, form_with_token("recaptcha"))).status == 422


async def test_hcaptcha_enterprise_risk_scores_are_not_read_as_recaptcha_scores(
    make_client: MakeClient, respx_mock: respx.MockRouter
) -> None:
    # hCaptcha's score is a risk (higher is worse): CAPTCHA_MIN_SCORE is reCAPTCHA's.
    client = make_client(captcha_provider="hcaptcha", captcha_secret=SECRET)
    respx_mock.post(ENDPOINTS["hcaptcha"][1]).respond(200, json={"success": True, "score": 0.1})
    assert (await post_json(client, form_with_token("hcaptcha"))).status == 200


async def test_a_honeypot_bot_costs_no_captcha_call(
    captcha_client: SanicASGITestClient, provider: str, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(ENDPOINTS[provider][1]).respond(200, json={"success": False})
    response = await post_json(captcha_client, {**VALID_FORM, "_gotcha": "x"}, VISITOR)
    assert response.status == 200
    assert not route.called


async def test_an_invalid_form_costs_no_captcha_call(
    captcha_client: SanicASGITestClient, provider: str, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(ENDPOINTS[provider][1]).respond(200, json={"success": True})
    form = {**form_with_token(provider), "email": "not-an-address"}
    assert (await post_json(captcha_client, form, VISITOR)).status == 422
    assert not route.called

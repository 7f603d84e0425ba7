"""The admin pages' door: off without a token, sign-in, cookie, CSRF, rate limit, headers."""

from __future__ import annotations

import html
import logging
import re
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie

import httpx
import pytest
from pydantic import SecretStr
from sanic import HTTPResponse, Sanic

from service.api.admin.session import COOKIE, LIFETIME_SECONDS, SessionKeeper
from service.app import create_app
from service.config import Settings
from service.submission import Submission
from tests.api.served import served

TOKEN = "admin-token-0123456789abcdef"


@pytest.fixture
async def browser(make_settings: Callable[..., Settings]) -> AsyncIterator[httpx.AsyncClient]:
    """A client on a served app with ``ADMIN_TOKEN`` set, keeping cookies as a browser does."""
    app = create_app(settings=make_settings(admin_token=TOKEN, email_from="owner@example.com"))
    try:
        async with served(app) as client:
            yield client
    finally:
        Sanic._app_registry.pop(app.name, None)


def csrf_of(page: httpx.Response) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found is not None, page.text
    return found.group(1)


def session_cookie(response: httpx.Response) -> SimpleCookie:
    cookie = SimpleCookie()
    for header in response.headers.get_list("set-cookie"):
        cookie.load(header)
    assert COOKIE in cookie
    return cookie


async def sign_in(client: httpx.AsyncClient, token: str = TOKEN) -> httpx.Response:
    form = await client.get("/admin")
    return await client.post("/admin/sign-in", data={"csrf": csrf_of(form), "token": token})


async def test_without_a_token_setting_every_admin_page_is_404(
    make_settings: Callable[..., Settings],
) -> None:
    app = create_app(settings=make_settings(email_from="owner@example.com"))
    try:
        async with served(app) as client:
            for path in ("/admin", "/admin/outbox", "/admin/static/admin.css"):
                assert (await client.get(path)).status_code == 404
            assert (await client.post("/admin/sign-in", data={"token": "x"})).status_code == 404
    finally:
        Sanic._app_registry.pop(app.name, None)


async def test_the_sign_in_page_is_one_password_field_with_strict_headers(
    browser: httpx.AsyncClient,
) -> None:
    response = await browser.get("/admin")
    assert response.status_code == 200
    assert response.text.count("<input") == 2  # the CSRF token and the password
    assert 'type="password"' in response.text
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-frame-options"] == "DENY"
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp
    assert "unsafe-inline" not in csp
    assert "script-src" not in csp  # no script at all
    assert "frame-ancestors 'none'" in csp


async def test_signing_in_sets_a_new_strict_cookie_for_eight_hours(
    browser: httpx.AsyncClient,
) -> None:
    before = session_cookie(await browser.get("/admin"))[COOKIE]
    browser.cookies.clear()
    browser.cookies.set(COOKIE, before.value, domain="testserver.local", path="/admin")
    form = await browser.get("/admin")
    response = await browser.post("/admin/sign-in", data={"csrf": csrf_of(form), "token": TOKEN})
    assert response.status_code == 303
    assert response.headers["location"] == "/admin"
    cookie = session_cookie(response)[COOKIE]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Strict"
    assert cookie["path"] == "/admin"
    assert not cookie["secure"]  # development serves plain HTTP
    assert int(cookie["max-age"]) == LIFETIME_SECONDS
    assert cookie.value != before.value  # rotated
    inbox = await browser.get("/admin")
    assert "Sign out" in inbox.text


def test_the_cookie_is_secure_in_production() -> None:
    keeper = SessionKeeper(SecretStr(TOKEN), secure=True)
    response = HTTPResponse()
    keeper.set_cookie(response, keeper.start(signed_in=True))
    value = str(response.cookies.get_cookie(COOKIE, path="/admin"))
    assert "; Secure" in value
    assert "; HttpOnly" in value
    assert "; SameSite=Strict" in value


async def test_a_wrong_token_is_refused_and_logged_without_it(
    browser: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "wrong-token-9876543210-secret"
    with caplog.at_level(logging.INFO, logger="service.admin"):
        response = await sign_in(browser, wrong)
    assert response.status_code == 403
    assert "not right" in response.text
    assert "Sign out" not in (await browser.get("/admin")).text
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "sign-in failed" in logged
    assert wrong not in logged
    assert TOKEN not in logged


async def test_sign_in_is_limited_to_ten_attempts_an_hour(browser: httpx.AsyncClient) -> None:
    statuses = [(await sign_in(browser, "wrong-token-0000000000")).status_code for _ in range(10)]
    assert statuses == [403] * 10
    refused = await sign_in(browser)  # even the right token, now
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) > 0
    assert "Too many attempts" in refused.text


async def test_a_post_without_the_csrf_token_is_refused(browser: httpx.AsyncClient) -> None:
    assert (await sign_in(browser)).status_code == 303
    inbox = await browser.get("/admin/outbox")
    for data in ({}, {"csrf": "forged"}, {"csrf": csrf_of(inbox) + "x"}):
        response = await browser.post("/admin/outbox/retry", data=data)
        assert response.status_code == 403
        assert response.headers["content-type"].startswith("text/html")
        assert "Nothing was changed" in response.text
    # The sign-in form needs its token too.
    browser.cookies.clear()
    response = await browser.post("/admin/sign-in", data={"token": TOKEN})
    assert response.status_code == 403
    assert COOKIE not in response.headers.get("set-cookie", "")


async def test_signing_out_ends_the_session_even_for_a_copy_of_the_cookie(
    browser: httpx.AsyncClient,
) -> None:
    await sign_in(browser)
    copy = browser.cookies.get(COOKIE)
    page = await browser.get("/admin/outbox")
    response = await browser.post("/admin/sign-out", data={"csrf": csrf_of(page)})
    assert response.status_code == 303
    assert "signed out" in (await browser.get(response.headers["location"])).text
    browser.cookies.clear()
    browser.cookies.set(COOKIE, copy, domain="testserver.local", path="/admin")
    again = await browser.get("/admin/outbox")
    assert again.status_code == 303
    assert again.headers["location"] == "/admin"


async def test_another_worker_refuses_a_signed_out_cookie_too(
    make_settings: Callable[..., Settings],
) -> None:
    # Each worker (or replica) has its own keeper; the ended id is shared through the store.
    app = create_app(settings=make_settings(admin_token=TOKEN, email_from="owner@example.com"))
    try:
        async with served(app) as client:
            await sign_in(client)
            copy = client.cookies.get(COOKIE)
            page = await client.get("/admin/outbox")
            await client.post("/admin/sign-out", data={"csrf": csrf_of(page)})
            app.ctx.admin_sessions = None  # what another worker knows: nothing in memory
            client.cookies.clear()
            client.cookies.set(COOKIE, copy, domain="testserver.local", path="/admin")
            again = await client.get("/admin/outbox")
    finally:
        Sanic._app_registry.pop(app.name, None)
    assert again.status_code == 303
    assert again.headers["location"] == "/admin"


async def test_a_forged_cookie_is_no_session(browser: httpx.AsyncClient) -> None:
    await sign_in(browser)
    value = browser.cookies.get(COOKIE)
    assert value is not None
    payload, _, signature = value.partition(".")
    browser.cookies.clear()
    browser.cookies.set(COOKIE, f"{payload}.{signature[:-2]}AA", path="/admin")
    assert (await browser.get("/admin/outbox")).status_code == 303


def test_a_session_expires_and_another_token_signs_nobody_in() -> None:
    clock = [1_000_000.0]
    keeper = SessionKeeper(SecretStr(TOKEN), secure=False, clock=lambda: clock[0])
    session = keeper.start(signed_in=True)
    value = keeper.value(session)
    assert keeper.parse(value) == session
    other = SessionKeeper(SecretStr(TOKEN + "-rotated"), secure=False, clock=lambda: clock[0])
    assert other.parse(value) is None
    assert not other.csrf_ok(session, keeper.csrf_token(session))
    assert not keeper.csrf_ok(session, "é" + keeper.csrf_token(session))
    clock[0] += LIFETIME_SECONDS - 1
    assert keeper.parse(value) == session
    clock[0] += 1
    assert keeper.parse(value) is None


async def test_the_pages_speak_dutch_and_answer_unknown_leads_with_a_page(
    browser: httpx.AsyncClient,
) -> None:
    dutch = await browser.get("/admin", headers={"Accept-Language": "nl"})
    assert '<html lang="nl">' in dutch.text
    assert "Inloggen" in dutch.text
    assert dutch.headers["content-language"] == "nl"
    assert (await browser.get("/admin/export.csv")).status_code == 303  # not signed in
    await sign_in(browser)
    missing = await browser.get("/admin/submissions/0b7e6c1c-0000-4000-8000-000000000000")
    assert missing.status_code == 404
    assert "This lead does not exist" in missing.text
    for path in ("/admin/suppressions?offset=²", "/admin?offset=²", "/admin?offset=-1"):
        assert (await browser.get(path)).status_code == 200, path
    confused = await browser.get("/admin?since=yesterday&q=x")
    assert confused.status_code == 200
    assert "left out" in confused.text
    assert 'value="x"' in confused.text  # the filters it did understand stay
    export = await browser.get("/admin/export.csv?q=nobody")
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")
    assert export.headers["cache-control"] == "no-store"
    assert export.content.startswith(b"\xef\xbb\xbfid,created_at,form")


async def test_the_inbox_pages_by_fifty_and_keeps_the_filter(
    make_settings: Callable[..., Settings],
) -> None:
    app = create_app(settings=make_settings(admin_token=TOKEN, email_from="owner@example.com"))
    start = datetime(2026, 3, 1, 9, tzinfo=UTC)
    try:
        async with served(app) as client:
            for n in range(52):
                lead = Submission(name=f"Lead {n:02}", email="p@example.org", message="Hi")
                await app.ctx.store.add_submission(lead, [], now=start + timedelta(minutes=n))
            await sign_in(client)
            first = await client.get("/admin?q=Lead&since=2026-03-01")
            assert first.text.count("<tr>") == 51  # the header and 50 leads
            assert "Lead 51" in first.text
            assert "Lead 01" not in first.text
            older = re.search(r'<a href="([^"]+)" rel="next">', first.text)
            assert older is not None
            assert html.unescape(older.group(1)) == "?q=Lead&since=2026-03-01&offset=50"
            second = await client.get(f"/admin{html.unescape(older.group(1))}")
            assert second.text.count("<tr>") == 3
            assert "Lead 00" in second.text
            assert 'rel="next"' not in second.text
            assert 'href="?q=Lead&amp;since=2026-03-01" rel="prev"' in second.text
    finally:
        Sanic._app_registry.pop(app.name, None)

"""POST /api/contact stores before it answers, and Idempotency-Key makes repeats safe."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from sanic import Sanic

from service.app import create_app
from service.config import Settings
from service.outbox import EmailState, open_store
from tests.api.conftest import deliver_outbox, read_mail


async def post(app: Sanic, body: dict[str, Any], key: str | None = None):
    headers = {"content-type": "application/json"}
    if key is not None:
        headers["idempotency-key"] = key
    _, response = await app.asgi_client.post(
        "/api/contact", content=json.dumps(body).encode(), headers=headers
    )
    return response


async def test_submission_and_both_emails_are_stored_before_the_answer(
    make_settings, valid_form: dict[str, Any]
) -> None:
    settings = make_settings(
        email_providers="resend",
        resend_api_key="re_test",
        resend_base_url="https://resend.test",
    )
    app = create_app(settings=settings)
    app.config.GRACEFUL_SHUTDOWN_TIMEOUT = 0.2
    provider_called = asyncio.Event()
    never = asyncio.Event()

    async def hang(request: httpx.Request) -> httpx.Response:
        provider_called.set()
        await never.wait()
        raise AssertionError("unreachable")

    with respx.mock(assert_all_called=False) as mock:
        mock.post("https://resend.test/emails").mock(side_effect=hang)
        response = await post(app, valid_form)

    # The provider never answered, yet the visitor has their answer and the lead is stored.
    assert response.status == 200
    async with open_store(settings.database_url) as store:
        submission = await store.get_submission(response.json["id"])
        assert submission is not None
        assert submission.message == valid_form["message"]
        emails = await store.list_emails()
    assert sorted(email.kind for email in emails) == ["confirmation", "notification"]
    assert all(email.state is not EmailState.SENT for email in emails)


async def test_a_repeated_idempotency_key_returns_the_first_answer_and_sends_nothing_new(
    app: Sanic, settings: Settings, valid_form: dict[str, Any], mail_dir: Path
) -> None:
    first = await post(app, valid_form, key="form-42")
    again = await post(app, valid_form, key="form-42")
    assert first.status == again.status == 200
    assert again.json == first.json
    await deliver_outbox(settings)
    assert len(read_mail(mail_dir)) == 2


async def test_the_same_key_with_another_body_is_a_409(
    app: Sanic, valid_form: dict[str, Any]
) -> None:
    assert (await post(app, valid_form, key="form-43")).status == 200
    conflict = await post(app, {**valid_form, "message": "something else"}, key="form-43")
    assert conflict.status == 409
    assert conflict.json["success"] is False


async def test_different_keys_store_separate_submissions(
    app: Sanic, valid_form: dict[str, Any]
) -> None:
    first = await post(app, valid_form, key="a")
    second = await post(app, valid_form, key="b")
    assert first.json["id"] != second.json["id"]


@pytest.mark.parametrize("key", ["", "x" * 256, "has space", "tab\there"])
async def test_a_malformed_idempotency_key_is_a_400(
    app: Sanic, valid_form: dict[str, Any], key: str
) -> None:
    response = await post(app, valid_form, key=key)
    assert response.status == 400
    assert "Idempotency-Key" in response.json["message"]


async def test_the_answer_stores_recipes_and_the_worker_renders_them(
    make_settings, valid_form: dict[str, Any], mail_dir: Path
) -> None:
    # Nothing is rendered on the answer path: each email waits as a recipe until claimed.
    settings = make_settings(delivery_worker=False, contact_recipients="sales@example.com")
    app = create_app(settings=settings)
    response = await post(app, valid_form)
    assert response.status == 200

    async with open_store(settings.database_url) as store:
        rows = await store._fetch("SELECT kind, body, recipe FROM emails ORDER BY seq")
    assert [(row["kind"], row["body"], row["recipe"] is not None) for row in rows] == [
        ("notification", None, True),
        ("confirmation", None, True),
    ]
    assert await deliver_outbox(settings) == 2
    by_recipient = {message["To"]: message for message in read_mail(mail_dir)}
    assert sorted(by_recipient) == sorted(["sales@example.com", valid_form["email"]])
    notification = by_recipient["sales@example.com"].get_body(("plain",)).get_content()
    assert valid_form["message"].splitlines()[0] in notification
    async with open_store(settings.database_url) as store:
        rows = await store._fetch("SELECT body, recipe FROM emails ORDER BY seq")
    assert all(row["body"] is not None and row["recipe"] is None for row in rows)

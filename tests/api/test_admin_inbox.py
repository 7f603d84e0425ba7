"""The inbox's JSON side: filters, the CSV export, spam marks and erasing a person."""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sanic import Sanic

from service.app import create_app
from service.config import Settings
from service.outbox import EmailState
from service.outbox.inbox import SPAM_SKIPPED
from tests.api.served import served
from tests.forms.examples import EXAMPLE

pytestmark = pytest.mark.asyncio

TOKEN = "admin-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ADA = {
    "name": "Ada Lovelace",
    "email": "ada@example.org",
    "position": "Designer",
    "portfolio": "https://ada.example/work",
    "consent": "on",
    "message": "I would love to join.\nSecond line.",
}
BOB = {
    "name": "Bob Builder",
    "email": "bob@example.net",
    "message": '=HYPERLINK("http://evil.example")',
    "phone": "+31 20 123",
}


@pytest.fixture
async def client(make_settings: Callable[..., Settings], tmp_path: Path) -> AsyncIterator[Any]:
    """The example forms, the admin API on, the worker paused (emails stay pending)."""
    (tmp_path / "forms.toml").write_text(EXAMPLE)
    settings = make_settings(
        email_from="owner@example.com",
        contact_recipients="owner@example.com",
        forms_file=str(tmp_path / "forms.toml"),
        admin_token=TOKEN,
        contact_rate_limit="off",
    )
    app = create_app(settings=settings)
    try:
        async with served(app) as http:
            await app.ctx.worker.stop(grace=0)
            http.app = app
            yield http
    finally:
        Sanic._app_registry.pop(app.name, None)


async def submit(client: httpx.AsyncClient, path: str, body: dict[str, str]) -> str:
    response = await client.post(path, json=body)
    assert response.status_code == 200, response.text
    return response.json()["id"]


async def listed(client: httpx.AsyncClient, **params: str) -> list[str]:
    response = await client.get("/api/admin/submissions", params=params, headers=AUTH)
    assert response.status_code == 200, response.text
    return [lead["id"] for lead in response.json()["submissions"]]


async def test_filters_search_form_state_and_days(client: Any) -> None:
    ada = await submit(client, "/api/forms/careers", ADA)
    bob = await submit(client, "/api/contact", BOB)

    assert await listed(client) == [bob, ada]
    assert await listed(client, q="LOVELACE") == [ada]
    assert await listed(client, q="designer") == [ada]  # a declared field
    assert await listed(client, q="+31 20") == [bob]
    assert await listed(client, q="100%") == []
    assert await listed(client, form="careers") == [ada]
    assert await listed(client, state="pending") == [bob, ada]
    assert await listed(client, state="delivered") == []
    today = (await client.get("/api/admin/submissions", headers=AUTH)).json()["submissions"][0][
        "created_at"
    ][:10]
    assert await listed(client, since=today, until=today) == [bob, ada]
    assert await listed(client, until="2000-01-01") == []
    # The last day there is: no day after it to end before.
    assert await listed(client, since="0001-01-01", until="9999-12-31") == [bob, ada]
    lead = (await client.get("/api/admin/submissions", headers=AUTH)).json()["submissions"][1]
    assert (lead["state"], lead["spam"]) == ("pending", False)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("offset", "0.0"),
        ("limit", "1e1"),
        ("since", "1700000000"),
        ("until", "2026-13-01"),
        ("state", "lost"),
        ("q", "a\x00b"),
        ("q", "x" * 201),
        ("query", "ada"),
    ],
)
async def test_a_bad_filter_is_a_400_naming_it(client: Any, name: str, value: str) -> None:
    for path in ("/api/admin/submissions", "/api/admin/submissions.csv"):
        if path.endswith(".csv") and name in ("offset", "limit"):
            continue
        response = await client.get(path, params={name: value}, headers=AUTH)
        assert response.status_code == 400
        assert [error["field"] for error in response.json()["errors"]] == [name]


async def test_the_csv_export_streams_every_field_neutralised(client: Any) -> None:
    ada = await submit(client, "/api/forms/careers", ADA)
    bob = await submit(client, "/api/contact", BOB)

    response = await client.get("/api/admin/submissions.csv", headers=AUTH)

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="submissions.csv"'
    assert response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert list(rows[0]) == [
        "id",
        "created_at",
        "form",
        "state",
        "name",
        "email",
        "company",
        "message",
        "locale",
        "phone",
        "position",
        "portfolio",
        "consent",
    ]
    first, second = rows
    assert (first["id"], second["id"]) == (bob, ada)
    assert first["message"] == '\'=HYPERLINK("http://evil.example")'
    assert first["phone"] == "'+31 20 123"
    assert first["position"] == ""
    assert second["message"] == ADA["message"]
    assert (second["position"], second["consent"], second["state"]) == (
        "Designer",
        "yes",
        "pending",
    )
    only = await client.get("/api/admin/submissions.csv", params={"form": "careers"}, headers=AUTH)
    assert [row["id"] for row in csv.DictReader(io.StringIO(only.text.lstrip("\ufeff")))] == [ada]


async def test_spam_marks_stop_the_confirmation_and_are_counted(client: Any) -> None:
    ada = await submit(client, "/api/forms/careers", ADA)
    store = client.app.ctx.store

    response = await client.post(f"/api/admin/submissions/{ada}/spam", headers=AUTH)

    assert response.status_code == 200
    assert response.json() == {"success": True, "id": ada, "spam": True}
    states = {email.kind: (email.state, email.last_error) for email in await store.emails_of([ada])}
    assert states == {
        "notification": (EmailState.PENDING, None),
        "confirmation": (EmailState.REJECTED, SPAM_SKIPPED),
    }
    assert await listed(client, state="spam") == [ada]
    metrics = (await client.get("/metrics")).text
    assert 'contact_mailer_spam_marks_total{form="careers",mark="spam"} 1.0' in metrics
    lifted = await client.post(f"/api/admin/submissions/{ada}/not-spam", headers=AUTH)
    assert lifted.json()["spam"] is False
    assert await listed(client, state="spam") == []
    missing = await client.post(
        "/api/admin/submissions/0b7e6c1c-0000-4000-8000-000000000000/spam", headers=AUTH
    )
    assert missing.status_code == 404


async def test_erasing_a_person_answers_counts_and_frees_their_confirmation(
    client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    store = client.app.ctx.store
    first = await submit(client, "/api/forms/careers", ADA)
    # CONFIRMATION_RATE_LIMIT is 1/day: the second submission gets no confirmation.
    second = await submit(client, "/api/forms/careers", {**ADA, "email": "ADA@example.org"})
    bob = await submit(client, "/api/contact", BOB)
    assert len(await store.emails_of([first])) == 2
    assert len(await store.emails_of([second])) == 1

    with caplog.at_level(logging.INFO, logger="service.erasure"):
        response = await client.delete(
            "/api/admin/people", params={"email": "ada@example.org"}, headers=AUTH
        )

    assert response.status_code == 200
    assert response.json() == {
        "success": True,
        "submissions": 2,
        "emails": 3,
        "events": 0,
        "idempotency_keys": 0,
        "confirmation_counters": 1,
    }
    assert await listed(client) == [bob]
    assert await listed(client, q="ada") == []
    assert await store.emails_of([first, second]) == []
    (line,) = [r.getMessage() for r in caplog.records if r.name == "service.erasure"]
    assert "a***@example.org" in line
    assert "2 submissions" in line
    assert "ada@example.org" not in caplog.text.lower()
    # The allowance was forgotten too: a new submission gets its confirmation again.
    again = await submit(client, "/api/forms/careers", ADA)
    assert len(await store.emails_of([again])) == 2
    bad = await client.delete("/api/admin/people", params={"email": "not-an-address"}, headers=AUTH)
    assert bad.status_code == 400

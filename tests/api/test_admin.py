"""``/api/admin``: off without ``ADMIN_TOKEN``; behind a bearer token; the outbox and the leads."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sanic import Sanic
from sanic_ext.extensions.openapi.builders import SpecificationBuilder
from sanic_testing.testing import SanicASGITestClient

from service.app import create_app
from service.config import Settings
from service.emails import Submission, compose_confirmation, compose_notification
from service.outbox import Delivery, EmailState, Store
from tests.api.served import served

TOKEN = "admin-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
VISITOR = "vera.visitor@example.org"
MESSAGE = "Please call me about the bakery website, body-marker-51c2"
REFUSAL = f"smtp: rejected [550]: email refused; RCPT TO answered 550 5.1.1 <{VISITOR}> unknown"

ENDPOINTS = [
    ("GET", "/api/admin/outbox"),
    ("GET", "/api/admin/submissions"),
    ("POST", "/api/admin/outbox/0b7e6c1c-0000-4000-8000-000000000000/retry"),
    ("GET", "/api/admin/submissions.csv"),
    ("POST", "/api/admin/submissions/0b7e6c1c-0000-4000-8000-000000000000/spam"),
    ("POST", "/api/admin/submissions/0b7e6c1c-0000-4000-8000-000000000000/not-spam"),
    ("DELETE", "/api/admin/people?email=vera.visitor@example.org"),
]


@dataclass
class Admin:
    """A served app with the admin API on, its client, and its open store."""

    app: Sanic
    client: httpx.AsyncClient

    @property
    def store(self) -> Store:
        return self.app.ctx.store

    async def get(self, path: str, **options: Any) -> httpx.Response:
        return await self.client.get(path, headers=AUTH, **options)


@pytest.fixture
def admin_settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(
        admin_token=TOKEN,
        email_from="owner@example.com",
        contact_recipients="owner@example.com",
    )


@pytest.fixture
async def admin(admin_settings: Settings) -> AsyncIterator[Admin]:
    app = create_app(settings=admin_settings)
    try:
        async with served(app) as client:
            # Paused, so that the emails tests store stay as they are put; see the retry test.
            await app.ctx.worker.stop(grace=0)
            yield Admin(app, client)
    finally:
        Sanic._app_registry.pop(app.name, None)


async def store_lead(
    admin: Admin,
    *,
    at: datetime,
    outcomes: tuple[EmailState, EmailState] = (EmailState.SENT, EmailState.SENT),
    name: str = "Vera Visitor",
    company: str = "Acme Bakeries",
) -> str:
    """A submission whose notification and confirmation ended in ``outcomes``; its id."""
    new = Submission(name=name, email=VISITOR, message=MESSAGE, company=company, locale="nl")
    submission = Submission(
        id=new.id, name=name, email=VISITOR, message=MESSAGE, created_at=at, locale="nl"
    )
    settings, renderer = admin.app.ctx.settings, admin.app.ctx.renderer
    emails = [
        compose_notification(submission, settings, renderer),
        compose_confirmation(submission, settings, renderer),
    ]
    await admin.store.add_submission(new, emails, now=at)
    for outcome in outcomes:
        (claim,) = await admin.store.claim_due("admin-test", 1, 60, now=at + timedelta(seconds=1))
        if outcome is EmailState.SENT:
            await admin.store.mark_sent(claim, provider="file", provider_message_id="m-1")
        elif outcome is EmailState.DEAD:
            await admin.store.mark_dead(claim, error="resend: unavailable [401]: bad key")
        else:
            await admin.store.mark_rejected(claim, error=REFUSAL)
    return new.id


def minutes_ago(minutes: int) -> datetime:
    return datetime.now(UTC) - timedelta(minutes=minutes)


# Off unless configured


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
async def test_without_a_token_setting_every_admin_path_is_404(
    client: SanicASGITestClient, method: str, path: str
) -> None:
    _, response = await getattr(client, method.lower())(path, headers=AUTH)
    assert response.status == 404
    assert response.json["success"] is False


async def test_without_a_token_setting_the_api_is_not_documented(
    client: SanicASGITestClient,
) -> None:
    # sanic-ext's builder is a process-wide singleton: an earlier app's paths would stay in it.
    SpecificationBuilder.reset()
    _, response = await client.get("/docs/openapi.json")
    document = response.json
    assert not [path for path in document["paths"] if path.startswith("/api/admin")]
    assert "securitySchemes" not in document.get("components", {})


# Authentication


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
@pytest.mark.parametrize(
    ("authorization", "status"),
    [
        (None, 401),
        ("Basic YWRtaW46YWRtaW4=", 401),
        ("Bearer ", 401),
        ("Bearer wrong-token-0123456789abcdef", 403),
        (f"Bearer {TOKEN[:-1]}", 403),
        (f"Bearer {TOKEN}x", 403),
        # A byte that is not UTF-8 (Sanic hands it over as a lone surrogate).
        (f"Bearer {TOKEN}\xe9".encode("latin-1"), 403),
    ],
)
async def test_a_missing_token_is_401_and_a_wrong_one_403(
    admin: Admin, method: str, path: str, authorization: str | bytes | None, status: int
) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}

    response = await admin.client.request(method, path, headers=headers)

    assert response.status_code == status
    assert response.json()["success"] is False
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Bearer")
    assert TOKEN not in response.text


async def test_the_right_token_in_any_case_of_bearer_is_accepted(admin: Admin) -> None:
    response = await admin.client.get(
        "/api/admin/outbox", headers={"Authorization": f"bearer {TOKEN}"}
    )
    assert response.status_code == 200


# GET /api/admin/outbox


async def test_outbox_has_counts_and_metadata_but_no_body_or_address(admin: Admin) -> None:
    first = await store_lead(admin, at=minutes_ago(10))
    second = await store_lead(
        admin, at=minutes_ago(5), outcomes=(EmailState.DEAD, EmailState.REJECTED)
    )

    response = await admin.get("/api/admin/outbox")

    assert response.status_code == 200
    page = response.json()
    assert page["counts"] == {
        "pending": 0,
        "sending": 0,
        "retrying": 0,
        "sent": 2,
        "rejected": 1,
        "dead": 1,
    }
    assert (page["depth"], page["oldest_unsent_seconds"], page["total"]) == (0, None, 4)
    assert (page["limit"], page["offset"], page["next_offset"]) == (50, 0, None)
    emails = page["emails"]
    assert [(e["submission_id"], e["kind"]) for e in emails] == [
        (second, "notification"),
        (second, "confirmation"),
        (first, "notification"),
        (first, "confirmation"),
    ]
    dead, rejected = emails[0], emails[1]
    assert dead["state"] == "dead"
    assert dead["last_error"] == "resend: unavailable [401]: bad key"
    assert dead["attempts"] == 1
    assert dead["sent_at"] is None
    assert rejected["last_error"] == REFUSAL.replace(VISITOR, "v***@example.org")
    sent = emails[2]
    assert (sent["state"], sent["provider"], sent["provider_message_id"]) == ("sent", "file", "m-1")
    assert sent["sent_at"] is not None
    assert set(sent) == {
        "id",
        "submission_id",
        "kind",
        "message_id",
        "state",
        "provider",
        "provider_message_id",
        "attempts",
        "last_error",
        "created_at",
        "queued_at",
        "updated_at",
        "next_attempt_at",
        "sent_at",
        "purged",
        "delivery",
        "events",
    }
    assert VISITOR not in response.text
    assert "owner@example.com" not in response.text
    assert "body-marker-51c2" not in response.text


async def test_outbox_filters_by_state_and_pages(admin: Admin) -> None:
    for minute in range(5):
        outcomes = (EmailState.SENT, EmailState.DEAD if minute % 2 else EmailState.SENT)
        await store_lead(admin, at=minutes_ago(30 - minute), outcomes=outcomes)

    first = (await admin.get("/api/admin/outbox", params={"limit": 4})).json()
    second = (await admin.get("/api/admin/outbox", params={"limit": 4, "offset": 4})).json()
    last = (await admin.get("/api/admin/outbox", params={"limit": 4, "offset": 8})).json()
    dead = (await admin.get("/api/admin/outbox", params={"state": "dead", "limit": 1})).json()

    assert [page["next_offset"] for page in (first, second, last)] == [4, 8, None]
    assert [len(page["emails"]) for page in (first, second, last)] == [4, 4, 2]
    ids = [e["id"] for page in (first, second, last) for e in page["emails"]]
    assert len(set(ids)) == 10
    assert first["total"] == 10
    assert (dead["total"], dead["next_offset"]) == (2, 1)
    assert [e["state"] for e in dead["emails"]] == ["dead"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=ten", "limit"),
        ("offset=-1", "offset"),
        ("offset=1.5", "offset"),
        ("offset=10000000000000000000000", "offset"),
        ("state=lost", "state"),
        ("state=PENDING", "state"),
        ("stat=dead", "stat"),
        ("limit=", "limit"),
        ("limit=1&limit=2", "limit"),
    ],
)
@pytest.mark.parametrize("path", ["/api/admin/outbox", "/api/admin/submissions"])
async def test_bad_query_values_are_400_naming_the_parameter(
    admin: Admin, path: str, query: str, field: str
) -> None:
    # Submissions have no state filter: there, state is an unknown parameter.
    response = await admin.get(f"{path}?{query}")
    assert response.status_code == 400
    body = response.json()
    assert body["success"] is False
    assert body["message"] == "Invalid query parameters."
    assert [error["field"] for error in body["errors"]] == [field]


# POST /api/admin/outbox/{id}/retry


async def test_retry_requeues_a_dead_email_and_wakes_the_worker(admin: Admin) -> None:
    await store_lead(admin, at=minutes_ago(5), outcomes=(EmailState.DEAD, EmailState.SENT))
    (dead,) = await admin.store.list_emails(state=EmailState.DEAD)
    worker = admin.app.ctx.worker
    claims: list[datetime] = []
    settled = asyncio.Event()
    deliveries: list[Delivery] = []
    delivered = asyncio.Event()

    def clock() -> datetime:
        # Without purging, the idle worker reads its clock once per loop: to claim.
        claims.append(datetime.now(UTC))
        if len(claims) == 2:
            settled.set()
        return claims[-1]

    def on_delivery(delivery: Delivery) -> None:
        deliveries.append(delivery)
        delivered.set()

    worker.clock, worker.retention, worker.on_delivery = clock, None, on_delivery
    # A poll an hour long: after its second claim (the first loop, then the wake
    # set here) found nothing due, only being woken again makes it look now.
    worker.poll_interval = 3600
    await worker.start()
    worker.notify()
    await asyncio.wait_for(settled.wait(), timeout=5)

    response = await admin.client.post(f"/api/admin/outbox/{dead.id}/retry", headers=AUTH)

    assert response.status_code == 200
    assert response.json() == {"success": True, "id": dead.id, "state": "pending"}
    await asyncio.wait_for(delivered.wait(), timeout=10)
    assert [(d.email_id, d.state, d.provider) for d in deliveries] == [
        (dead.id, EmailState.SENT, "file")
    ]
    again = await admin.client.post(f"/api/admin/outbox/{dead.id}/retry", headers=AUTH)
    assert again.status_code == 404


async def test_retry_requeues_a_rejected_email(admin: Admin) -> None:
    await store_lead(admin, at=minutes_ago(5), outcomes=(EmailState.SENT, EmailState.REJECTED))
    (rejected,) = await admin.store.list_emails(state=EmailState.REJECTED)

    response = await admin.client.post(f"/api/admin/outbox/{rejected.id}/retry", headers=AUTH)

    assert response.status_code == 200
    record = await admin.store.get_email(rejected.id)
    assert record is not None
    assert record.state is EmailState.PENDING


@pytest.mark.parametrize("which", ["unknown", "sent"])
async def test_retry_of_no_requeueable_email_is_404(admin: Admin, which: str) -> None:
    await store_lead(admin, at=minutes_ago(5))
    sent = (await admin.store.list_emails(state=EmailState.SENT))[0].id
    email_id = sent if which == "sent" else "no-such-email"

    response = await admin.client.post(f"/api/admin/outbox/{email_id}/retry", headers=AUTH)

    assert response.status_code == 404
    assert response.json() == {
        "success": False,
        "message": "No dead or rejected email has this id (purged emails cannot be re-queued).",
        "errors": [],
    }


# GET /api/admin/submissions


async def test_submissions_keep_every_lead_even_when_every_email_failed(admin: Admin) -> None:
    bounced = await store_lead(
        admin,
        at=minutes_ago(20),
        outcomes=(EmailState.DEAD, EmailState.REJECTED),
        name="Bruno Bounced",
        company="",
    )
    delivered = await store_lead(admin, at=minutes_ago(10), name="Dana Delivered")

    response = await admin.get("/api/admin/submissions")

    assert response.status_code == 200
    page = response.json()
    assert (page["limit"], page["offset"], page["next_offset"]) == (50, 0, None)
    newest, oldest = page["submissions"]
    assert (newest["id"], oldest["id"]) == (delivered, bounced)
    assert oldest == {
        "id": bounced,
        "created_at": oldest["created_at"],
        "form": "contact",
        "name": "Bruno Bounced",
        "email": VISITOR,
        "company": None,
        "message": MESSAGE,
        "fields": {},
        "consent": [],
        "locale": "nl",
        "purged": False,
        "spam": False,
        "state": "dead",
        "emails": [
            {
                "id": oldest["emails"][0]["id"],
                "kind": "notification",
                "state": "dead",
                "provider": None,
                "attempts": 1,
                "sent_at": None,
                "delivery": None,
                "events": [],
            },
            {
                "id": oldest["emails"][1]["id"],
                "kind": "confirmation",
                "state": "rejected",
                "provider": None,
                "attempts": 1,
                "sent_at": None,
                "delivery": None,
                "events": [],
            },
        ],
    }
    assert newest["company"] == "Acme Bakeries"
    assert [email["state"] for email in newest["emails"]] == ["sent", "sent"]
    assert datetime.fromisoformat(newest["created_at"]) > datetime.fromisoformat(
        oldest["created_at"]
    )


async def test_submissions_page(admin: Admin) -> None:
    ids = [await store_lead(admin, at=minutes_ago(30 - minute)) for minute in range(3)]

    first = (await admin.get("/api/admin/submissions", params={"limit": 2})).json()
    rest = (await admin.get("/api/admin/submissions", params={"limit": 2, "offset": 2})).json()

    assert [s["id"] for s in first["submissions"]] == [ids[2], ids[1]]
    assert first["next_offset"] == 2
    assert [s["id"] for s in rest["submissions"]] == [ids[0]]
    assert rest["next_offset"] is None
    assert all(len(s["emails"]) == 2 for s in first["submissions"] + rest["submissions"])


# OpenAPI


async def test_the_admin_api_is_documented_with_its_security_scheme(admin: Admin) -> None:
    document = (await admin.client.get("/docs/openapi.json")).json()

    assert document["components"]["securitySchemes"]["adminToken"]["type"] == "http"
    assert document["components"]["securitySchemes"]["adminToken"]["scheme"] == "bearer"
    operations = {
        ("get", "/api/admin/outbox"),
        ("post", "/api/admin/outbox/{email_id}/retry"),
        ("get", "/api/admin/submissions"),
        ("get", "/api/admin/submissions.csv"),
        ("post", "/api/admin/submissions/{submission_id}/spam"),
        ("post", "/api/admin/submissions/{submission_id}/not-spam"),
        ("delete", "/api/admin/people"),
    }
    for method, path in operations:
        operation = document["paths"][path][method]
        assert operation["security"] == [{"adminToken": []}]
        assert {"200", "401", "403"} <= set(operation["responses"])
        # Nested models are inlined: a "#/$defs" reference would not resolve here.
        assert "$defs" not in json.dumps(operation)
    assert document["security"] == []
    assert "security" not in document["paths"]["/api/contact"]["post"]

"""GET /api/health."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sanic import Sanic
from sanic_testing.testing import SanicASGITestClient

from service import __version__
from service.app import create_app
from service.config import Settings
from service.emails import EmailRenderer, compose_notification, sample_submission
from service.outbox import open_store
from service.submission import Submission
from tests.api.served import served
from tests.databases import DATABASE_KINDS, fresh_database


async def test_health_reports_version_chain_and_an_empty_outbox(
    client: SanicASGITestClient,
) -> None:
    _, response = await client.get("/api/health")
    assert response.status == 200
    body = response.json
    assert body["status"] == "ok"
    assert body["reasons"] == []
    assert body["version"] == __version__
    assert body["providers"] == ["file"]
    assert body["environment"] == "development"
    assert body["outbox"]["depth"] == 0
    assert body["outbox"]["oldest_unsent_seconds"] is None


async def test_health_is_degraded_but_200_when_mail_piles_up(
    app: Sanic, settings: Settings
) -> None:
    email = compose_notification(sample_submission(), settings, EmailRenderer())
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    async with open_store(settings.database_url) as store:
        await store.add_submission(
            Submission(name="A", email="a@example.org", message="m"), [email], now=an_hour_ago
        )

    async def pause_delivery(app: Sanic) -> None:
        await app.ctx.worker.stop(grace=0)

    app.register_listener(pause_delivery, "before_server_start")
    _, response = await app.asgi_client.get("/api/health")
    assert response.status == 200
    assert response.json["status"] == "degraded"
    assert response.json["reasons"] == ["the oldest unsent email has waited 60 minutes"]
    assert response.json["outbox"]["depth"] == 1
    assert response.json["outbox"]["oldest_unsent_seconds"] >= 3600


@pytest.fixture(params=DATABASE_KINDS)
async def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    async with fresh_database(request.param, tmp_path) as url:
        yield url


async def fill_the_disk(url: str, *, full: bool) -> None:
    """Make every new submission fail to insert as on a full disk (reads still work), or stop."""
    if url.startswith("sqlite:///"):
        with closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as db:
            db.execute(
                "CREATE TRIGGER disk_full BEFORE INSERT ON submissions "
                "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
                if full
                else "DROP TRIGGER disk_full"
            )
        return
    db = await asyncpg.connect(url)
    try:
        if full:
            await db.execute(
                "CREATE FUNCTION disk_full() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                "RAISE EXCEPTION 'could not extend file: No space left on device' "
                "USING ERRCODE = 'disk_full'; END $$; "
                "CREATE TRIGGER disk_full BEFORE INSERT ON submissions "
                "FOR EACH ROW EXECUTE FUNCTION disk_full()"
            )
        else:
            await db.execute("DROP TRIGGER disk_full ON submissions")
    finally:
        await db.close()


async def test_health_is_degraded_while_submissions_cannot_be_stored_and_recovers(
    make_settings: Callable[..., Settings], valid_form: dict[str, Any], store_url: str
) -> None:
    app = create_app(settings=make_settings(database_url=store_url))
    async with served(app) as client:
        await fill_the_disk(store_url, full=True)
        refused = await client.post("/api/contact", json=valid_form)
        assert refused.status_code == 503
        degraded = (await client.get("/api/health")).json()
        assert degraded["status"] == "degraded"
        [reason] = degraded["reasons"]
        assert reason.startswith("the last write to the outbox failed (")
        # The details go to the log, not to whoever asks for health.
        assert "No space" not in reason
        assert "disk is full" not in reason

        await fill_the_disk(store_url, full=False)
        assert (await client.post("/api/contact", json=valid_form)).status_code == 200
        recovered = (await client.get("/api/health")).json()
        assert (recovered["status"], recovered["reasons"]) == ("ok", [])

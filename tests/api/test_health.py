"""GET /api/health."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sanic import Sanic
from sanic_testing.testing import SanicASGITestClient

from service import __version__
from service.config import Settings
from service.emails import EmailRenderer, compose_notification, sample_submission
from service.outbox import open_store
from service.submission import Submission


async def test_health_reports_version_chain_and_an_empty_outbox(
    client: SanicASGITestClient,
) -> None:
    _, response = await client.get("/api/health")
    assert response.status == 200
    body = response.json
    assert body["status"] == "ok"
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
    assert response.json["outbox"]["depth"] == 1
    assert response.json["outbox"]["oldest_unsent_seconds"] >= 3600

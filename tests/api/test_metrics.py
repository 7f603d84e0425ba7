"""GET /metrics: on by default, off on request, behind an optional bearer token."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sanic import Sanic

from service.app import create_app
from service.config import Settings
from tests.api.conftest import drain_outbox

TOKEN = "metrics-token-0123456789abcdef"


@pytest.fixture
def build_app(make_settings: Callable[..., Settings]) -> Iterator[Callable[..., Sanic]]:
    """Builds apps from settings overrides and forgets them afterwards."""
    built: list[Sanic] = []

    def build(**overrides: Any) -> Sanic:
        app = create_app(settings=make_settings(**overrides))
        app.register_listener(drain_outbox, "before_server_stop")
        built.append(app)
        return app

    yield build
    for application in built:
        Sanic._app_registry.pop(application.name, None)


@pytest.fixture(autouse=True)
def single_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "")
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR")


def values(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_submissions_and_emails_are_counted(
    build_app: Callable[..., Sanic], valid_form: dict[str, Any]
) -> None:
    client = build_app().asgi_client
    await client.post("/api/contact", json=valid_form)
    await client.post("/api/contact", json={**valid_form, "email": "another@example.org"})
    await client.post("/api/contact", json={**valid_form, "email": "nope"})
    await client.get("/api/health")

    _, response = await client.get("/metrics")

    assert response.status == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    found = values(response.text)
    outcome = "contact_mailer_submissions_total"
    assert found[(outcome, frozenset({("form", "contact"), ("outcome", "accepted")}))] == 2.0
    assert found[(outcome, frozenset({("form", "contact"), ("outcome", "invalid")}))] == 1.0
    assert found[(outcome, frozenset({("form", "contact"), ("outcome", "spam")}))] == 0.0
    sent = frozenset({("provider", "file"), ("outcome", "sent")})
    assert found[("contact_mailer_emails_total", sent)] == 4.0  # two emails per submission
    assert found[("contact_mailer_send_seconds_count", sent)] == 4.0
    assert found[("contact_mailer_accept_seconds_count", frozenset())] == 2.0
    assert 0 < found[("contact_mailer_accept_seconds_sum", frozenset())] < 10


async def test_metrics_can_be_turned_off(build_app: Callable[..., Sanic]) -> None:
    _, response = await build_app(metrics_enabled=False).asgi_client.get("/metrics")
    assert response.status == 404


@pytest.mark.parametrize(
    ("authorization", "status"),
    [
        (None, 401),
        ("Basic bWU6cGFzcw==", 401),
        ("Bearer ", 401),
        ("Bearer wrong-token-0123456789abcdef", 403),
        (f"Bearer {TOKEN}x", 403),
        # A byte that is not UTF-8 (Sanic hands it over as a lone surrogate).
        (f"Bearer {TOKEN}\xe9".encode("latin-1"), 403),
        (b"Bearer \xff\xfe", 403),
        (f"Bearer {TOKEN}", 200),
        (f"bearer {TOKEN}", 200),
    ],
)
async def test_a_metrics_token_is_required_when_set(
    build_app: Callable[..., Sanic], authorization: str | bytes | None, status: int
) -> None:
    headers = {"authorization": authorization} if authorization is not None else {}
    _, response = await build_app(metrics_token=TOKEN).asgi_client.get("/metrics", headers=headers)
    assert response.status == status
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Bearer")
    if status != 200:
        assert response.json["success"] is False
        assert TOKEN not in response.text
    else:
        assert "contact_mailer_submissions_total" in response.text


async def test_each_app_has_its_own_registry(
    build_app: Callable[..., Sanic], valid_form: dict[str, Any]
) -> None:
    first = build_app()
    await first.asgi_client.post("/api/contact", json=valid_form)
    Sanic._app_registry.pop(first.name, None)
    _, response = await build_app().asgi_client.get("/metrics")
    found = values(response.text)
    accepted = frozenset({("form", "contact"), ("outcome", "accepted")})
    assert found[("contact_mailer_submissions_total", accepted)] == 0.0


async def test_outbox_gauges_are_read_from_the_store_at_each_scrape(
    app: Sanic, valid_form: dict[str, Any]
) -> None:

    async def pause_delivery(app: Sanic) -> None:
        await app.ctx.worker.stop(grace=0)

    # Keep the worker from sending, so the submission's two emails wait in the outbox.
    app.register_listener(pause_delivery, "before_server_start")
    await app.asgi_client.post("/api/contact", json=valid_form)
    _, response = await app.asgi_client.get("/metrics")

    found = values(response.text)
    assert found[("contact_mailer_outbox_emails", frozenset({("state", "pending")}))] == 2
    assert found[("contact_mailer_outbox_emails", frozenset({("state", "sent")}))] == 0
    assert found[("contact_mailer_outbox_oldest_pending_seconds", frozenset())] >= 0

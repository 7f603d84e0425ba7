"""``python -m service suppressions list|remove EMAIL``."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from service.cli import main
from service.config import load_settings
from service.emails import EmailRenderer, Submission, compose_confirmation
from service.outbox import open_store
from service.outbox.delivery import DeliveryEvent

VISITOR = "bounce.me@example.org"


@pytest.fixture
def database_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'outbox.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    return url


def seed_bounced_visitor(database_url: str) -> None:
    """A confirmation to ``VISITOR`` that Resend reported as a hard bounce."""

    async def seed() -> None:
        submission = Submission(name="B", email=VISITOR, message="m")
        email = compose_confirmation(submission, load_settings(), EmailRenderer())
        async with open_store(database_url) as store:
            await store.add_submission(submission, [email])
            (claim,) = await store.claim_due("cli-test", 1, 60)
            await store.mark_sent(claim, provider="resend", provider_message_id="re-1")
            await store.record_event(
                DeliveryEvent(
                    provider="resend",
                    event_id="msg_1",
                    event="bounced",
                    bounce="hard",
                    occurred_at=datetime.now(UTC),
                    provider_message_id="re-1",
                )
            )

    asyncio.run(seed())


def test_list_shows_masked_addresses_and_remove_forgets_one(database_url: str, capsys) -> None:
    seed_bounced_visitor(database_url)
    assert main(["suppressions", "list"]) == 0
    listed = capsys.readouterr().out
    assert "b***@example.org" in listed
    assert "bounced" in listed
    assert VISITOR not in listed
    assert main(["suppressions", "remove", VISITOR]) == 0
    assert "removed b***@example.org" in capsys.readouterr().out
    assert main(["suppressions", "remove", VISITOR]) == 1
    assert "not on the suppression list" in capsys.readouterr().out
    assert main(["suppressions", "list"]) == 0
    assert "example.org" not in capsys.readouterr().out

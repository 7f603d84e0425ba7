"""``python -m service erase EMAIL``: the store's rows and the Redis confirmation counters go."""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

import pytest

from service.abuse.confirmation import ConfirmationPolicy
from service.abuse.ratelimit import RateLimits
from service.cli import main
from service.config import load_settings
from service.emails import EmailRenderer, Submission, compose_confirmation
from service.outbox import open_store

VISITOR = "erase.me@example.org"
OTHER = "keep.me@example.org"


@pytest.fixture
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A SQLite outbox and Redis-kept rate limits under a prefix of this test's own."""
    redis_url = os.environ.get("TEST_REDIS_URL")
    if not redis_url:
        pytest.skip("TEST_REDIS_URL is not set")
    url = f"sqlite:///{tmp_path / 'outbox.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("RATE_LIMIT_STORAGE_URL", redis_url)
    monkeypatch.setenv("RATE_LIMIT_KEY_PREFIX", f"test-{uuid.uuid4().hex}")
    return url


async def confirmation_allowed(address: str) -> bool:
    """Ask the shared counters whether ``address`` may get a confirmation (counts one)."""
    settings = load_settings()
    limits = RateLimits.from_settings(settings)
    await limits.open()
    try:
        return await ConfirmationPolicy.from_settings(settings, limits).allows(address)
    finally:
        await limits.close()


async def seed(database_url: str) -> None:
    async with open_store(database_url) as store:
        for address in (VISITOR, OTHER):
            submission = Submission(name="E", email=address, message="call me")
            email = compose_confirmation(submission, load_settings(), EmailRenderer())
            await store.add_submission(submission, [email])


async def stored_addresses(database_url: str) -> list[str | None]:
    async with open_store(database_url) as store:
        return [record.email for record in await store.list_submissions()]


def test_erase_removes_the_rows_and_the_confirmation_allowance(
    environment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(seed(environment))
    assert asyncio.run(confirmation_allowed(VISITOR))
    assert not asyncio.run(confirmation_allowed(VISITOR))  # 1/day: used up

    assert main(["erase", VISITOR.upper()]) == 0

    out = capsys.readouterr().out
    assert out.startswith("erased e***@example.org: 1 submissions, 1 emails,")
    assert "1 confirmation counters" in out
    assert VISITOR not in out.lower()
    assert asyncio.run(stored_addresses(environment)) == [OTHER]
    assert asyncio.run(confirmation_allowed(VISITOR))
    assert main(["erase", VISITOR]) == 1
    assert "0 submissions" in capsys.readouterr().out

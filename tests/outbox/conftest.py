"""Fixtures for the outbox: a controllable clock, a store of each kind, emails, providers."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg
import pytest

from service.config import Settings
from service.message import Address, OutgoingEmail, make_message_id
from service.outbox import NewSubmission, Store, open_store
from service.providers import Provider, ProviderChain, SendResult
from service.providers.file import FileProvider

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")

VISITOR = "visitor.private@example.org"
SECRET_BODY = "please call me about the pricing of the enterprise plan"


class FakeClock:
    """A clock that moves only when a test says so."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def with_search_path(url: str, schema: str) -> str:
    """``url`` with asyncpg's server setting that keeps every table in ``schema``."""
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query), ("search_path", schema)]
    return urlunsplit(parts._replace(query=urlencode(query)))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 1, 1, 12, 0, tzinfo=UTC))


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty database: a SQLite file, or a PostgreSQL schema of its own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'db' / 'outbox.db'}"
        return
    if not TEST_DATABASE_URL:
        pytest.skip("TEST_DATABASE_URL is not set")
    # The test database is shared: each test gets, and then drops, its own schema.
    schema = f"outbox_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(TEST_DATABASE_URL)
    try:
        await admin.execute(f'CREATE SCHEMA "{schema}"')
        yield with_search_path(TEST_DATABASE_URL, schema)
    finally:
        await admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await admin.close()


@pytest.fixture
async def store(database_url: str, clock: FakeClock) -> AsyncIterator[Store]:
    opened = open_store(database_url, clock=clock)
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


def build_email(kind: str, **changes: Any) -> OutgoingEmail:
    """A rendered email of ``kind`` with a fresh Message-ID."""
    fields: dict[str, Any] = {
        "kind": kind,
        "sender": Address("Acme", addr_spec="contact@acme.example"),
        "to": (Address("Owner", addr_spec="owner@acme.example"),),
        "subject": f"{kind} subject",
        "text": SECRET_BODY,
        "html": f"<p>{SECRET_BODY}</p>",
        "message_id": make_message_id("acme.example"),
        "reply_to": Address("Visitor", addr_spec=VISITOR),
        "headers": {"Auto-Submitted": "auto-generated"},
        "date": datetime(2026, 1, 1, 12, 0, tzinfo=UTC),
    }
    fields.update(changes)
    return OutgoingEmail(**fields)


Submit = Callable[..., Awaitable[str]]


@pytest.fixture
def submit(store: Store) -> Submit:
    """Store a submission with a notification and a confirmation; returns its id."""

    async def add(*, emails: Iterable[OutgoingEmail] | None = None, **options: Any) -> str:
        submission = NewSubmission(
            name="Vera Visitor", email=VISITOR, message=SECRET_BODY, company="Acme"
        )
        batch = (
            list(emails)
            if emails is not None
            else [
                build_email("notification"),
                build_email("confirmation"),
            ]
        )
        result = await store.add_submission(submission, batch, **options)
        return result.submission_id

    return add


class ScriptedProvider(Provider):
    """A provider double: each send takes the next step of its script.

    A step is ``None`` (accept), an exception to raise, or an :class:`asyncio.Event`
    to wait for before accepting. Past the end of the script it accepts.
    """

    name = "scripted"

    def __init__(self, script: Iterable[BaseException | asyncio.Event | None] = ()) -> None:
        self.script = list(script)
        self.sent: list[str] = []
        self.started = asyncio.Event()

    @classmethod
    def from_settings(cls, settings: Settings, **shared: object) -> Self:
        return cls()

    async def deliver(self, email: OutgoingEmail) -> SendResult:
        self.started.set()
        step = self.script.pop(0) if self.script else None
        if isinstance(step, asyncio.Event):
            await step.wait()
        elif step is not None:
            raise step
        self.sent.append(email.message_id)
        return SendResult(provider=self.name, message_id=f"scripted-{len(self.sent)}")


@pytest.fixture
async def file_chain(tmp_path: Path) -> AsyncIterator[ProviderChain]:
    """The real chain around the real ``file`` provider, writing to ``tmp_path/mail``."""
    chain = ProviderChain([FileProvider(tmp_path / "mail")])
    await chain.open()
    try:
        yield chain
    finally:
        await chain.close()


@pytest.fixture
def scripted() -> type[ScriptedProvider]:
    """The :class:`ScriptedProvider` class, for tests to build with their own script."""
    return ScriptedProvider

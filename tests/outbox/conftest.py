"""Fixtures for the outbox: a controllable clock, a store of each kind, emails, providers,
and real ``python -m service`` processes."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import trustme
from outbox_doubles import (
    SECRET_BODY,
    VISITOR,
    FakeClock,
    Submit,
    build_email,
    with_search_path,
)

from service.message import OutgoingEmail
from service.outbox import Store, open_store
from service.providers import ProviderChain
from service.providers.file import FileProvider
from service.submission import Submission
from tests.process import Launch, ServiceProcess

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")


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


@pytest.fixture
def submit(store: Store) -> Submit:
    """Store a submission with a notification and a confirmation; returns its id."""

    async def add(*, emails: Iterable[OutgoingEmail] | None = None, **options: Any) -> str:
        submission = Submission(
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
def ca_file(tmp_path: Path, smtp_ca: trustme.CA) -> Path:
    """The test CA as a PEM file, for a subprocess's ``SSL_CERT_FILE``."""
    path = tmp_path / "test-ca.pem"
    smtp_ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture
def launch() -> Iterator[Launch]:
    """Start ``python -m service`` processes; every one is stopped (or killed) at teardown."""
    started: list[ServiceProcess] = []

    def start(cwd: Path, env: Mapping[str, str]) -> ServiceProcess:
        service = ServiceProcess(cwd, env)
        started.append(service)
        service.start()
        return service

    yield start
    for service in started:
        service.stop()

"""Fixtures for the outbox: a controllable clock, a store of each kind, emails, providers,
and real ``python -m service`` processes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import trustme
from outbox_doubles import (
    SECRET_BODY,
    VISITOR,
    FakeClock,
    Submit,
    build_email,
)

from service.message import OutgoingEmail
from service.outbox import Store, open_store
from service.providers import ProviderChain
from service.providers.file import FileProvider
from service.submission import Submission
from tests.databases import DATABASE_KINDS, fresh_database
from tests.process import Launch, ServiceProcess


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 1, 1, 12, 0, tzinfo=UTC))


@pytest.fixture(params=DATABASE_KINDS)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty database: a SQLite file, or a PostgreSQL schema of its own."""
    async with fresh_database(request.param, tmp_path) as url:
        yield url


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

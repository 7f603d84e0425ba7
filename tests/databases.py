"""A fresh outbox database for a test: a SQLite file, or a PostgreSQL schema of its own.

PostgreSQL tests need ``TEST_DATABASE_URL`` (they are skipped without it); the
test database is shared, so each test creates, and then drops, its own schema.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg
import pytest

__all__ = ["DATABASE_KINDS", "TEST_DATABASE_URL", "fresh_database", "with_search_path"]

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")

DATABASE_KINDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
"""Parameters for a fixture that runs a test once per kind of store."""


def with_search_path(url: str, schema: str) -> str:
    """``url`` with asyncpg's server setting that keeps every table in ``schema``."""
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query), ("search_path", schema)]
    return urlunsplit(parts._replace(query=urlencode(query)))


@asynccontextmanager
async def fresh_database(kind: str, folder: Path) -> AsyncIterator[str]:
    """The URL of an empty database of ``kind`` (``sqlite`` files go under ``folder``)."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'db' / 'outbox.db'}"
        return
    if not TEST_DATABASE_URL:
        pytest.skip("TEST_DATABASE_URL is not set")
    schema = f"outbox_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(TEST_DATABASE_URL)
    try:
        await admin.execute(f'CREATE SCHEMA "{schema}"')
        yield with_search_path(TEST_DATABASE_URL, schema)
    finally:
        await admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await admin.close()

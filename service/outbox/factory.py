"""``DATABASE_URL`` to a store: the one place that knows every dialect.

The dialect modules are imported only when chosen, so a SQLite outbox never
imports asyncpg.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from service.outbox.models import Clock, StoreError

if TYPE_CHECKING:
    from service.message import OutgoingEmail
    from service.outbox.store import Store

__all__ = ["open_store", "sqlite_path"]

SQLITE_PREFIX = "sqlite:///"
POSTGRES_PREFIXES = ("postgresql://", "postgres://")


def sqlite_path(database_url: str) -> Path:
    """The file a ``sqlite:///path`` URL names; relative paths are relative to the cwd."""
    raw = database_url.removeprefix(SQLITE_PREFIX)
    if not raw or raw.startswith(":memory:"):
        raise StoreError("DATABASE_URL: the outbox needs a file, e.g. sqlite:///var/outbox.db")
    return Path(raw)


def open_store(
    database_url: str,
    *,
    clock: Clock | None = None,
    samples: Mapping[str, OutgoingEmail] | None = None,
) -> Store:
    """The store ``database_url`` selects (``sqlite:///...`` or ``postgresql://...``); no I/O.

    ``samples``: an email of each kind rendered with sample data, which stored
    bodies are compressed against (see :mod:`service.outbox.packing`).
    """
    if database_url.startswith(SQLITE_PREFIX):
        from service.outbox.sqlite import SqliteStore

        return SqliteStore(sqlite_path(database_url), clock=clock, samples=samples)
    if database_url.startswith(POSTGRES_PREFIXES):
        from service.outbox.postgres import PostgresStore

        return PostgresStore(database_url, clock=clock, samples=samples)
    raise StoreError("DATABASE_URL: must start with sqlite:/// or postgresql://")

"""The shared outbox: PostgreSQL through asyncpg, for several replicas.

Workers claim with ``FOR UPDATE SKIP LOCKED``: concurrent claimers on any
replica lock disjoint rows without waiting for each other. Named locks
(migrations, one idempotency key) are transaction-scoped advisory locks, so
they are released on commit, rollback or a dropped connection alike.

Any ``postgresql://`` URL asyncpg accepts works; extra query parameters become
server settings, e.g. ``?search_path=outbox`` to keep the tables in a schema.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import asyncpg

from service.outbox.models import Clock, StoreError
from service.outbox.store import Store
from service.outbox.transaction import Row, Transaction

if TYPE_CHECKING:
    from service.message import OutgoingEmail

__all__ = ["PostgresStore"]

T = TypeVar("T")


class _PostgresTransaction:
    """Statements of one transaction on one pooled connection."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, *args: Any) -> int:
        status = await self._conn.execute(sql, *args)
        # The command tag ends with the row count ("UPDATE 3"); DDL tags have none.
        last = status.rsplit(" ", 1)[-1]
        return int(last) if last.isdigit() else 0

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        return [dict(record) for record in await self._conn.fetch(sql, *args)]


class PostgresStore(Store):
    """The outbox in PostgreSQL (``postgresql://user:pass@host/db``)."""

    ts_type = "TIMESTAMPTZ"
    json_type = "JSONB"
    blob_type = "BYTEA"
    claim_lock = "FOR UPDATE SKIP LOCKED"
    ilike = "ILIKE"
    json_text = "{column}::text"

    def __init__(
        self,
        dsn: str,
        *,
        clock: Clock | None = None,
        samples: Mapping[str, OutgoingEmail] | None = None,
        min_connections: int = 1,
        max_connections: int = 10,
    ) -> None:
        super().__init__(clock=clock, samples=samples)
        self.dsn = dsn
        self.min_connections = min_connections
        self.max_connections = max_connections
        self._pool: asyncpg.Pool | None = None

    async def _connect(self) -> None:
        if self._pool is not None:
            return
        try:
            self._pool = await asyncpg.create_pool(
                self.dsn, min_size=self.min_connections, max_size=self.max_connections
            )
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as err:
            # The error text never includes the password, the DSN might.
            raise StoreError(f"DATABASE_URL: cannot connect to PostgreSQL: {err}") from err

    async def _disconnect(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    async def _run(self, body: Callable[[Transaction], Awaitable[T]], *, write: bool) -> T:
        if self._pool is None:
            raise StoreError("the outbox store is not open")
        async with self._pool.acquire() as conn, conn.transaction(readonly=not write):
            return await body(_PostgresTransaction(conn))

    async def _lock(self, tx: Transaction, name: str) -> None:
        await tx.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", name)

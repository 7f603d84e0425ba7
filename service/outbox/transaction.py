"""What a store's operations are written against: one open transaction of a dialect.

Every outbox operation is a *body*, an async function of a :class:`Transaction`,
so that a dialect can run a whole transaction in one go (SQLite, on its thread)
and the hot writes can share a commit (:mod:`service.outbox.group`). Statements
use ``$1`` placeholders; the SQLite dialect rewrites them to ``?1``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

__all__ = ["Body", "Row", "Transaction"]

Row = Mapping[str, Any]
"""One result row, by column name."""


class Transaction(Protocol):
    """One open transaction of a dialect."""

    async def execute(self, sql: str, *args: Any) -> int:
        """Run a statement; returns the number of rows it changed."""

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        """Run a query; returns its rows as mappings."""


Body = Callable[[Transaction], Awaitable[Any]]
"""One operation: runs its statements in the transaction it is given, returns its result."""

"""Ended admin sessions, so that a signed-out cookie is refused by every worker and replica.

An admin session is a signed cookie (:mod:`service.api.admin.session`): nothing
is stored while it lasts. Signing out (or in again) records its id here, as a
SHA-256 hash, until it would have expired anyway; rows past that are deleted
as new ones arrive. Mixed into :class:`~service.outbox.store.Store` like
:class:`~service.outbox.delivery.DeliveryRecords`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from service.outbox.transaction import Row, Transaction

__all__ = ["EndedSessions"]


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class EndedSessions:
    """Records and looks up ended admin sessions; relies on the store's ``_run``, ``_fetch``."""

    clock: Callable[[], datetime]
    _run: Callable[..., Awaitable[Any]]
    _fetch: Callable[..., Awaitable[list[Row]]]

    async def end_session(self, session_id: str, until: datetime) -> None:
        """Refuse ``session_id`` from now until ``until`` (when its cookie expires anyway)."""
        now = self.clock()

        async def end(tx: Transaction) -> None:
            await tx.execute("DELETE FROM admin_sessions_ended WHERE until <= $1", now)
            await tx.execute(
                "INSERT INTO admin_sessions_ended (id_hash, until) VALUES ($1, $2)"
                " ON CONFLICT (id_hash) DO NOTHING",
                _hash(session_id),
                until,
            )

        await self._run(end, write=True)

    async def session_ended(self, session_id: str) -> bool:
        """True when ``session_id`` was ended (signed out) and has not yet expired."""
        rows = await self._fetch(
            "SELECT 1 FROM admin_sessions_ended WHERE id_hash = $1 AND until > $2",
            _hash(session_id),
            self.clock(),
        )
        return bool(rows)

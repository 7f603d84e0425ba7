"""The embedded outbox: one SQLite file, safe for several processes on one machine.

Uses the standard library's :mod:`sqlite3` on one dedicated thread per store,
so the event loop never blocks on disk. A whole transaction (BEGIN, its
statements, COMMIT) runs in one call on that thread: one hop from the event
loop per transaction rather than per statement, and transactions of this
process cannot interleave on the one connection. The file is in WAL mode (readers do not
block the writer) with ``synchronous=FULL``: every commit is on disk before the
API answers, because the row is the only copy of the lead. Write transactions
start with ``BEGIN IMMEDIATE``, which takes the file's write lock up front:
two processes claiming at once are serialised by SQLite itself, and a
transaction never has to upgrade a read lock (the classic deadlock).

Before that, a write transaction takes an exclusive ``flock`` on ``<file>-lock``.
SQLite makes a process that finds the write lock taken poll it, sleeping up to
100 ms between tries, and with group commit another process holds it most of
the time under load: with ``WORKERS=2`` a submission could wait over a second.
A waiting writer polls the ``flock`` every millisecond at most, so it takes over
almost at once. The wait is bounded by the busy timeout, as SQLite's own is: a
holder that is alive but stopped (SIGSTOP, a frozen container) must not hang
every store call of the other processes; their writes fail with
:class:`~service.outbox.models.StoreError` instead (a visitor gets a 503 and
retries, the worker claims again later). SQLite's own lock still guarantees
correctness (a process that does not take the ``flock``, such as the
``sqlite3`` shell, is merely waited for the slow way).
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import re
import sqlite3
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import lru_cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from service.outbox.models import Clock, StoreError
from service.outbox.store import Store
from service.outbox.transaction import Row, Transaction

if TYPE_CHECKING:
    from service.message import OutgoingEmail

__all__ = ["SqliteStore"]

T = TypeVar("T")

_PLACEHOLDER = re.compile(r"\$(\d+)")
# How long a writer sleeps between looks at a busy writers' lock.
_FIRST_PAUSE = 0.0001
_LONGEST_PAUSE = 0.001


def _param(value: Any) -> Any:
    # Times are stored as Unix seconds (REAL): they compare and sort as numbers
    # and read as datetime(x, 'unixepoch') in the sqlite3 shell.
    return value.timestamp() if isinstance(value, datetime) else value


class _SqliteTransaction:
    """Statements of one transaction, run at once on the store's thread.

    The methods are coroutines only to share the dialect-neutral bodies of
    :class:`~service.outbox.store.Store`; they never suspend (see :func:`_complete`).
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, *args: Any) -> int:
        return self._conn.execute(_translate(sql), [_param(arg) for arg in args]).rowcount

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        cursor = self._conn.execute(_translate(sql), [_param(arg) for arg in args])
        return [dict(row) for row in cursor.fetchall()]


@lru_cache(maxsize=256)
def _translate(sql: str) -> str:
    return _PLACEHOLDER.sub(r"?\1", sql)


def _complete(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never suspends to its end, without an event loop.

    A transaction's body awaits only :class:`_SqliteTransaction` methods, which
    do their work and return, so the first ``send`` runs it to completion.
    """
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    coroutine.close()
    raise RuntimeError("a SQLite transaction body awaited something other than its transaction")


def _in_transaction(
    body: Callable[[Transaction], Awaitable[T]], begin: str, conn: sqlite3.Connection
) -> T:
    """Run ``body`` between ``begin`` and COMMIT, or roll back; on the store's thread."""
    conn.execute(begin)
    try:
        result = _complete(body(_SqliteTransaction(conn)))
        conn.execute("COMMIT")
    except BaseException:
        # After a failed COMMIT there may be nothing left to roll back.
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return result


def _lock_writers(lock: int, timeout: float) -> None:
    """Take the writers' ``flock``, waiting at most ``timeout`` seconds for it.

    ``flock`` itself cannot time out, so a busy lock is polled, first every
    0.1 ms and then every 1 ms: a commit holds it for a few milliseconds.
    """
    deadline = time.monotonic() + timeout
    pause = _FIRST_PAUSE
    while True:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise StoreError(
                    f"another process has held the outbox's write lock for {timeout:g} s"
                ) from None
        time.sleep(pause)
        pause = min(pause * 2, _LONGEST_PAUSE)


def _write_transaction(
    body: Callable[[Transaction], Awaitable[T]],
    lock: int,
    timeout: float,
    conn: sqlite3.Connection,
) -> T:
    """:func:`_in_transaction` with BEGIN IMMEDIATE, holding the writers' ``flock``."""
    _lock_writers(lock, timeout)
    try:
        return _in_transaction(body, "BEGIN IMMEDIATE", conn)
    finally:
        fcntl.flock(lock, fcntl.LOCK_UN)


class SqliteStore(Store):
    """The outbox in a SQLite file (``sqlite:///path``; the directory is created)."""

    ts_type = "REAL"
    json_type = "TEXT"
    blob_type = "BLOB"
    # Without statistics the planner prefers the state index and sorts every due row.
    claim_index = "INDEXED BY emails_due"
    # An erasure overwrites the pages it frees (the setting stays on for this connection).
    erase_prelude = ("PRAGMA secure_delete = ON",)
    # The inbox's search folds case with Python's casefold, registered on each connection.
    fold = "casefold({})"

    def __init__(
        self,
        path: Path,
        *,
        clock: Clock | None = None,
        samples: Mapping[str, OutgoingEmail] | None = None,
        busy_timeout: float = 10.0,
    ) -> None:
        super().__init__(clock=clock, samples=samples)
        self.path = path
        self.busy_timeout = busy_timeout
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None
        self._lock_fd: int | None = None

    async def _connect(self) -> None:
        if self._executor is not None:
            return
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox-sqlite")
        try:
            await asyncio.get_running_loop().run_in_executor(executor, self._open_connection)
        except BaseException:
            executor.shutdown(wait=False)
            raise
        self._executor = executor

    def _open_connection(self) -> None:
        path = self.path.resolve()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(path, timeout=self.busy_timeout, isolation_level=None)
        except (OSError, sqlite3.Error) as err:
            raise StoreError(f"DATABASE_URL: cannot open {path}: {err}") from err
        try:
            conn.row_factory = sqlite3.Row
            conn.create_function("casefold", 1, _casefold, deterministic=True)
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            self._enable_wal(conn)
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            lock = os.open(f"{path}-lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except (OSError, sqlite3.Error) as err:
            # "file is not a database", a lock file it may not create: name the setting.
            conn.close()
            raise StoreError(f"DATABASE_URL: cannot use {path}: {err}") from err
        except BaseException:
            conn.close()
            raise
        self._conn, self._lock_fd = conn, lock

    def _enable_wal(self, conn: sqlite3.Connection) -> None:
        # Switching a new file to WAL needs an exclusive lock, and SQLite does
        # not always run the busy handler for it: processes starting together
        # can see "database is locked" here, so retry until the deadline.
        deadline = time.monotonic() + self.busy_timeout
        while True:
            try:
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            except sqlite3.OperationalError as err:
                if "locked" not in str(err) or time.monotonic() > deadline:
                    raise StoreError(f"DATABASE_URL: cannot enable WAL: {err}") from err
                time.sleep(0.01)
                continue
            if mode.lower() != "wal":
                raise StoreError(f"DATABASE_URL: {self.path} does not support WAL mode")
            return

    async def _disconnect(self) -> None:
        executor, self._executor = self._executor, None
        if executor is None:
            return
        # Queued behind every transaction already submitted: they finish first.
        await asyncio.get_running_loop().run_in_executor(executor, self._close_connection)
        executor.shutdown(wait=True)

    def _close_connection(self) -> None:
        conn, self._conn = self._conn, None
        lock, self._lock_fd = self._lock_fd, None
        if conn is not None:
            conn.close()
        if lock is not None:
            os.close(lock)

    async def _call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        executor, conn = self._executor, self._conn
        if executor is None or conn is None:
            raise StoreError("the outbox store is not open")
        return await asyncio.get_running_loop().run_in_executor(executor, fn, conn)

    async def _run(self, body: Callable[[Transaction], Awaitable[T]], *, write: bool) -> T:
        if not write:
            return await self._call(partial(_in_transaction, body, "BEGIN"))
        lock = self._lock_fd
        if lock is None:
            raise StoreError("the outbox store is not open")
        return await self._call(partial(_write_transaction, body, lock, self.busy_timeout))


def _casefold(value: object) -> object:
    """SQL ``casefold(x)``: Unicode case folding ("Élise" and "élise" match), NULL stays NULL."""
    return value.casefold() if isinstance(value, str) else value

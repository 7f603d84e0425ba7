"""A small pool of logged-in SMTP connections, shared by one worker's sends.

Logging in costs a TCP and TLS handshake plus AUTH, and Gmail answers a storm
of logins with ``454 4.7.0 Too many login attempts``; so a worker keeps up to
``size`` connections open and hands them out one send at a time.

* At most ``size`` connections exist; a send waits for a free one.
* Connections are opened one at a time. When opening fails, the sends that were
  already waiting fail with :class:`OpenFailed` instead of each trying again:
  one bad password costs one login, one dead server one timeout.
* A connection that saw any error is discarded, never handed out again; one the
  server has closed is dropped when next taken.
* Connections idle for ``idle_seconds`` are closed with ``QUIT``, and so is
  every idle connection at :meth:`SmtpPool.close`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable

from aiosmtplib import SMTP, SMTPException

__all__ = ["Connection", "Lease", "OpenFailed", "PoolClosed", "SmtpPool"]


class OpenFailed(Exception):
    """Opening a connection failed while this send waited; the cause is that failure."""


class PoolClosed(Exception):
    """The pool was closed (the worker is shutting down); nothing more is sent."""


class Connection:
    """An open :class:`aiosmtplib.SMTP` session and the transport it was opened on."""

    def __init__(self, smtp: SMTP) -> None:
        self.smtp = smtp
        # Kept because aiosmtplib forgets the transport when it closes after an error.
        self._transport = smtp.transport
        self.since = 0.0

    def hang_up(self) -> None:
        """Drop the connection now.

        Aborting, not closing: a TLS close waits for the server's close_notify
        (up to 30 s, or never from a stalled server), and the socket must not
        outlive the connection.
        """
        if self._transport is not None:
            self._transport.abort()
        self.smtp.close()


class Lease:
    """One send's use of a pooled connection.

    ``reused`` is true when the connection already carried an earlier message,
    so the server may have closed it since.
    """

    def __init__(
        self, pool: SmtpPool, connection: Connection, *, reused: bool, failures_seen: int
    ) -> None:
        self._pool = pool
        self._failures_seen = failures_seen
        self.connection = connection
        self.reused = reused

    @property
    def smtp(self) -> SMTP:
        """The session to send on."""
        return self.connection.smtp

    async def reconnect(self) -> None:
        """Replace a connection the server dropped with a freshly opened one."""
        self.connection.hang_up()
        self.connection = await self._pool._open(self._failures_seen)
        self.reused = False


class SmtpPool:
    """Hands out logged-in :class:`aiosmtplib.SMTP` sessions made by ``connect``."""

    def __init__(
        self,
        connect: Callable[[], Awaitable[Connection]],
        *,
        size: int,
        idle_seconds: float,
        quit_timeout: float,
    ) -> None:
        self._connect = connect
        self._idle_seconds = idle_seconds
        self._quit_timeout = quit_timeout
        self._slots = asyncio.Semaphore(size)
        self._open_lock = asyncio.Lock()
        self._idle: deque[Connection] = deque()
        self._quitting: set[asyncio.Task[None]] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._failures = 0
        self._last_failure: Exception | None = None
        self._closed = False
        self.opened = 0

    @property
    def idle(self) -> int:
        """How many connections are open and waiting for a message."""
        return len(self._idle)

    @contextlib.asynccontextmanager
    async def lease(self) -> AsyncIterator[Lease]:
        """Borrow a connection for one send; it returns to the pool unless an error escaped."""
        failures_seen = self._failures
        async with self._slots:
            if self._closed:
                raise PoolClosed("the SMTP connection pool is closed")
            connection = self._take_idle()
            reused = connection is not None
            if connection is None:
                connection = await self._open(failures_seen)
            lease = Lease(self, connection, reused=reused, failures_seen=failures_seen)
            try:
                yield lease
            except BaseException:
                lease.connection.hang_up()
                raise
            self._give_back(lease.connection)

    async def close(self) -> None:
        """Say ``QUIT`` on every idle connection; connections in use are dropped when returned."""
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self._idle:
            self._quit_soon(self._idle.popleft())
        if self._quitting:
            await asyncio.gather(*self._quitting)

    async def _open(self, failures_seen: int) -> Connection:
        async with self._open_lock:
            if self._last_failure is not None and self._failures != failures_seen:
                raise OpenFailed("opening a connection failed while this send waited") from (
                    self._last_failure
                )
            try:
                connection = await self._connect()
            except Exception as err:
                self._failures += 1
                self._last_failure = err
                raise
            self._last_failure = None
            self.opened += 1
            return connection

    def _take_idle(self) -> Connection | None:
        # Most recently used first: it is the least likely to have been dropped,
        # and the others are left to reach the idle limit when traffic is light.
        while self._idle:
            connection = self._idle.pop()
            if connection.smtp.is_connected:
                return connection
            connection.hang_up()
        return None

    def _give_back(self, connection: Connection) -> None:
        if self._closed or not connection.smtp.is_connected:
            connection.hang_up()
            return
        loop = asyncio.get_running_loop()
        connection.since = loop.time()
        self._idle.append(connection)
        self._schedule_expiry(loop)

    def _schedule_expiry(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._timer is None and self._idle:
            when = self._idle[0].since + self._idle_seconds
            self._timer = loop.call_at(when, self._expire)

    def _expire(self) -> None:
        self._timer = None
        loop = asyncio.get_running_loop()
        deadline = loop.time() - self._idle_seconds
        while self._idle and self._idle[0].since <= deadline:
            self._quit_soon(self._idle.popleft())
        self._schedule_expiry(loop)

    def _quit_soon(self, connection: Connection) -> None:
        task = asyncio.get_running_loop().create_task(self._quit(connection))
        self._quitting.add(task)
        task.add_done_callback(self._quitting.discard)

    async def _quit(self, connection: Connection) -> None:
        try:
            await connection.smtp.quit(timeout=self._quit_timeout)
        except (SMTPException, OSError):
            # QUIT is a courtesy; the connection is dropped below either way.
            pass
        finally:
            connection.hang_up()

"""Group commit: concurrent write transactions of one process share one commit.

Every acknowledged submission must be on disk before the API answers, and a
commit is an fsync (SQLite's ``synchronous=FULL``, PostgreSQL's WAL flush), a
few milliseconds that no amount of CPU shortens. So writes that arrive while a
commit is under way wait for the next one and then commit together: under load
one fsync covers dozens of submissions, claims and outcomes; alone, a write
commits at once, as before.

A write (a *body*: an async function of an open transaction) that fails (an
:class:`~service.outbox.models.IdempotencyConflict`, a constraint) is rolled back
alone and only its caller sees the error. A batch first runs its bodies one after
another with nothing between them (:func:`run_all`): two statements fewer per body,
and on SQLite each statement is a hand-over of the GIL between the event loop and
the store's thread. If a body fails, that transaction is rolled back and the batch
runs again with each body in a savepoint of its own (:func:`run_in_savepoints`);
a body may therefore run twice, which suits what bodies are (statements of one
transaction, nothing outside it). Every caller is answered after the COMMIT; if
the transaction itself fails, every write of the batch fails with that error and
nothing of it is stored.

A write that nobody is waiting on in a hurry (the delivery worker's outcome of
an email already sent) may be *deferred*: it starts no commit of its own, but
rides along with the next write that does, or is committed ``defer_seconds``
after it was queued at the latest. Under load, outcomes then share the commits
of claims and rendered bodies instead of paying a transaction each.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from service.outbox.transaction import Body, Transaction

__all__ = ["BodyFailed", "GroupCommit", "Outcome", "RunBatch", "run_all", "run_in_savepoints"]

RunBatch = Callable[[Sequence[Body]], Awaitable[list["Outcome"]]]
"""Runs bodies in one write transaction (:func:`run_in_savepoints`) and commits it."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one body of a batch returned, or the exception it raised."""

    value: Any = None
    error: Exception | None = None


class BodyFailed(Exception):
    """A body of a batch run by :func:`run_all` raised: the transaction must be rolled back."""


async def run_all(tx: Transaction, bodies: Sequence[Body]) -> list[Outcome]:
    """Run ``bodies`` one after another in ``tx``; :class:`BodyFailed` at the first that raises.

    The raised exception is the ``BodyFailed``'s cause. The caller rolls the
    transaction back and runs the batch again with :func:`run_in_savepoints`.
    """
    outcomes = []
    for body in bodies:
        try:
            outcomes.append(Outcome(value=await body(tx)))
        except Exception as err:
            raise BodyFailed from err
    return outcomes


async def run_in_savepoints(tx: Transaction, bodies: Sequence[Body]) -> list[Outcome]:
    """Run ``bodies`` one after another in ``tx``, each in a savepoint of its own.

    A body's exception rolls back that body's statements only and becomes its
    outcome. A failure to roll back (the transaction itself is broken) escapes:
    then the whole transaction must be rolled back.
    """
    if len(bodies) == 1:
        # Alone in its transaction, a body needs no savepoint: the rollback of
        # the transaction undoes it, and the exception reaches its one caller.
        return [Outcome(value=await bodies[0](tx))]
    outcomes = []
    for body in bodies:
        await tx.execute("SAVEPOINT item")
        try:
            value = await body(tx)
        except Exception as err:
            await tx.execute("ROLLBACK TO SAVEPOINT item")
            outcomes.append(Outcome(error=err))
        else:
            outcomes.append(Outcome(value=value))
        await tx.execute("RELEASE SAVEPOINT item")
    return outcomes


class GroupCommit:
    """Gathers the writes of one store into as few transactions as the disk allows.

    :meth:`run` queues a body; one flusher task at a time takes everything
    queued (up to ``max_batch`` bodies) and hands it to ``run_batch``, and
    again while a write that is not deferred is queued. Writes are not delayed
    to fill a batch, except deferred ones (see the module doc), which wait at
    most ``defer_seconds``. ``batches`` and ``writes`` count what was committed
    (or tried), for tests and metrics.
    """

    def __init__(
        self, run_batch: RunBatch, *, max_batch: int = 128, defer_seconds: float = 0.05
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._run_batch = run_batch
        self.max_batch = max_batch
        self.defer_seconds = defer_seconds
        self.batches = 0
        self.writes = 0
        # (body, its caller's future, whether it may wait for another write's commit)
        self._queue: list[tuple[Body, asyncio.Future[Any], bool]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._deadline: asyncio.TimerHandle | None = None
        self._forced = False
        self.deferred = 0
        """Deferred writes queued, not yet taken into a batch."""

    async def run(self, body: Body, *, defer: bool = False) -> Any:
        """Run ``body`` in the next batch; its result once that batch is committed.

        With ``defer``, the batch may be a later one (at most ``defer_seconds``
        later): the write waits for another to share its commit.
        A caller cancelled while its body waits in the queue leaves nothing
        behind; once its batch has started, the body may still be committed.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.append((body, future, defer))
        if not defer:
            self._start(loop)
        else:
            self.deferred += 1
            if self._deadline is None:
                self._deadline = loop.call_later(self.defer_seconds, self.flush)
        return await future

    def flush(self) -> None:
        """Commit every queued write now, deferred ones too."""
        self._cancel_deadline()
        if self._queue:
            self._forced = True
            self._start(asyncio.get_running_loop())

    async def drain(self) -> None:
        """Wait until every queued write, deferred or not, has been committed or failed."""
        while self._queue or (self._flusher is not None and not self._flusher.done()):
            self.flush()
            if self._flusher is not None:
                await asyncio.wait({self._flusher})

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._flusher is None or self._flusher.done():
            self._flusher = loop.create_task(self._flush(), name="outbox-group-commit")

    def _cancel_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _due(self) -> bool:
        """Whether the queue holds a write that must not wait (or a flush was asked for)."""
        return self._forced or any(not deferred for _, _, deferred in self._queue)

    async def _flush(self) -> None:
        while self._queue and self._due():
            taken, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
            # A flush asked for covers what is queued past this batch too.
            self._forced = self._forced and bool(self._queue)
            self.deferred = sum(deferred for _, _, deferred in self._queue)
            if not self.deferred:
                self._cancel_deadline()
            batch = [(body, future) for body, future, _ in taken if not future.done()]
            if not batch:
                continue
            self.batches += 1
            self.writes += len(batch)
            try:
                outcomes = await self._run_batch([body for body, _ in batch])
            except Exception as err:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(err)
                continue
            except BaseException:
                # Cancelled (the loop is going away): nobody may wait forever.
                for _, future in batch:
                    future.cancel()
                for _, future, _ in self._queue:
                    future.cancel()
                self._queue = []
                self.deferred = 0
                self._cancel_deadline()
                raise
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if future.done():
                    continue
                if outcome.error is not None:
                    future.set_exception(outcome.error)
                else:
                    future.set_result(outcome.value)

"""The delivery worker: claims due emails from the outbox and sends them.

One worker runs per server process. It wakes when told new work was stored
(:meth:`DeliveryWorker.notify`), when one of its sends finishes (the next email
of that submission may now be due) and otherwise every ``poll_interval``
seconds, which is how it finds work stored by other processes and retries that
have come due. Up to ``concurrency`` sends run at once, each under a lease.
A claim is a write transaction (an fsync), so while sends are under way the
worker claims again only once half its slots are free (an attempt whose send
has ended counts as free): one claim then leases several emails instead of one
per finished send, and shares the commit of the outcomes that freed the slots.

An outcome is recorded as soon as the send ends, but while other attempts are
still under way it may share the commit of a later write (a deferred write,
:mod:`service.outbox.group`): it is committed with the outcome that makes
``concurrency // 2`` of them wait, with that of the last attempt under way,
with the next claim or rendered body, or within ``GroupCommit.defer_seconds``.
Its slot stays taken until then, so the email stays leased; a crash before
that sends it again, as a crash during the send always did.

Each send is bounded by ``send_timeout`` (by default 80 % of the lease) so a
live worker never holds an email past its lease: another worker takes an email
over only when its holder really died. Any failure, expected or not, leaves the
email queued for a later attempt; nothing the worker meets stops its loop.

A confirmation whose address was put on the suppression list after it was
stored (an earlier confirmation bounced) is not sent: it ends ``rejected`` with
:data:`~service.outbox.sends.SUPPRESSED_ERROR`, and ``Delivery.suppressed`` says
so to ``on_delivery``.

Each attempt (render, checks, send, the outcome's record) is run by
:class:`~service.outbox.sends.Sends`; outcomes (:class:`Delivery`) and their
log lines live in :mod:`service.outbox.outcomes`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Self

from service.outbox.models import ClaimedEmail, Clock
from service.outbox.outcomes import Delivery
from service.outbox.sends import Sender, Sends

if TYPE_CHECKING:
    from service.config import Settings
    from service.outbox.store import Store

__all__ = ["Delivery", "DeliveryWorker", "Sender", "default_worker_id"]

logger = logging.getLogger("service.outbox")


def default_worker_id() -> str:
    """``host:pid:random``: unique per worker, and says where a lease holder ran."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class DeliveryWorker:
    """Delivers the outbox through a provider chain until stopped.

    ``max_age`` is how long an email is retried before it is ``dead``
    (``OUTBOX_MAX_AGE_HOURS``). With ``retention`` (``OUTBOX_RETENTION_DAYS``)
    the worker also purges older personal data every ``purge_interval``
    seconds, starting at once. ``clock`` defaults to the store's, and ``rng``
    drives the retry jitter. ``on_delivery`` is called with every
    :class:`Delivery`, recorded or not (metrics, tests). ``render``
    (:class:`~service.outbox.rendering.ClaimRenderer`) renders an email stored
    as a recipe before its attempt; without it such an email fails its attempts.
    """

    def __init__(
        self,
        store: Store,
        chain: Sender,
        *,
        worker_id: str | None = None,
        lease_seconds: float = 60.0,
        send_timeout: float | None = None,
        max_age: timedelta = timedelta(hours=72),
        poll_interval: float = 1.0,
        retention: timedelta | None = None,
        purge_interval: float = 3600.0,
        concurrency: int = 8,
        clock: Clock | None = None,
        rng: Callable[[], float] = random.random,
        on_delivery: Callable[[Delivery], None] | None = None,
        render: Callable[[ClaimedEmail], Awaitable[ClaimedEmail]] | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.store = store
        self.worker_id = worker_id or default_worker_id()
        self.lease_seconds = lease_seconds
        self.poll_interval = poll_interval
        self.retention = retention
        self.purge_interval = purge_interval
        self._next_purge = 0.0
        self.concurrency = concurrency
        self._refill = max(1, concurrency // 2)
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._in_flight: set[asyncio.Task[Delivery]] = set()
        self.sends = Sends(
            store,
            chain,
            send_timeout=send_timeout if send_timeout is not None else lease_seconds * 0.8,
            max_age=max_age,
            clock=clock or store.clock,
            rng=rng,
            refill=self._refill,
            wake=self.notify,
            on_delivery=on_delivery,
            render=render,
        )

    @classmethod
    def from_settings(
        cls, store: Store, chain: Sender, settings: Settings, **options: object
    ) -> Self:
        """A worker with lease, give-up age and concurrency from settings; ``options`` override."""
        knobs: dict[str, object] = {
            "lease_seconds": settings.outbox_lease_seconds,
            "max_age": timedelta(hours=settings.outbox_max_age_hours),
            "retention": timedelta(days=settings.outbox_retention_days),
            "concurrency": settings.outbox_concurrency,
        }
        knobs.update(options)
        return cls(store, chain, **knobs)  # type: ignore[arg-type]

    @property
    def clock(self) -> Clock:
        """The time the worker claims, purges and records by."""
        return self.sends.clock

    @clock.setter
    def clock(self, clock: Clock) -> None:
        self.sends.clock = clock

    @property
    def on_delivery(self) -> Callable[[Delivery], None] | None:
        """Called with every :class:`Delivery`, recorded or not."""
        return self.sends.on_delivery

    @on_delivery.setter
    def on_delivery(self, on_delivery: Callable[[Delivery], None] | None) -> None:
        self.sends.on_delivery = on_delivery

    @property
    def send_timeout(self) -> float:
        """How long one send may take (by default 80 % of the lease)."""
        return self.sends.send_timeout

    @property
    def max_age(self) -> timedelta:
        """How long an email is retried before it is ``dead``."""
        return self.sends.max_age

    @property
    def running(self) -> bool:
        """True between :meth:`start` and the end of :meth:`stop`."""
        return self._loop_task is not None and not self._loop_task.done()

    @property
    def in_flight(self) -> int:
        """Sends under way right now."""
        return len(self._in_flight)

    def notify(self) -> None:
        """New work was stored: look now rather than at the next poll."""
        self._wake.set()

    async def start(self) -> None:
        """Start the delivery loop in the background."""
        if self.running:
            return
        self.sends.stopping = False
        self._loop_task = asyncio.create_task(self._run(), name=f"outbox-worker-{self.worker_id}")

    async def stop(self, grace: float = 10.0) -> None:
        """Stop claiming, give in-flight sends ``grace`` seconds, re-queue the rest.

        Sends still running at the deadline are cancelled and their emails
        released as due now, so a restarted or another worker sends them at
        once; whatever was never claimed simply stays queued.
        """
        self.sends.stopping = True
        self._wake.set()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, grace)
        task, self._loop_task = self._loop_task, None
        if task is not None:
            await asyncio.wait({task}, timeout=max(0.0, deadline - loop.time()))
            if not task.done():
                task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        if self._in_flight:
            _, late = await asyncio.wait(
                set(self._in_flight), timeout=max(0.0, deadline - loop.time())
            )
            for send in late:
                send.cancel()
            await asyncio.gather(*late, return_exceptions=True)

    async def run_once(self) -> list[Delivery]:
        """Claim one batch of due emails and deliver it completely (tests, CLI)."""
        claims = await self._claim(self.concurrency)
        return list(await asyncio.gather(*(self.sends.attempt(claim) for claim in claims)))

    async def _run(self) -> None:
        while not self.sends.stopping:
            await self._purge_when_due()
            # An attempt waiting for its outcome's commit sends nothing more: its
            # slot counts as free, so the claim can share that commit (_record).
            free = self.concurrency - len(self._in_flight) + self.sends.recording
            if free >= self._refill or (free > 0 and not self._in_flight):
                for claim in await self._claim(free):
                    send = asyncio.create_task(self.sends.attempt(claim))
                    self._in_flight.add(send)
                    send.add_done_callback(self._finished)
            if self.sends.stopping:
                break
            try:
                async with asyncio.timeout(self.poll_interval):
                    await self._wake.wait()
            except TimeoutError:
                pass
            # Cleared before the next claim, so work announced from here on is
            # either seen by that claim or wakes the following wait.
            self._wake.clear()

    async def _purge_when_due(self) -> None:
        if self.retention is None:
            return
        loop = asyncio.get_running_loop()
        if loop.time() < self._next_purge:
            return
        self._next_purge = loop.time() + self.purge_interval
        try:
            purged = await self.store.purge(retention=self.retention, now=self.clock())
        except Exception as err:
            logger.warning("outbox: purge failed (%s); will try again", type(err).__name__)
            return
        if purged.emails or purged.submissions:
            logger.info(
                "outbox: purged personal data of %d emails and %d submissions",
                purged.emails,
                purged.submissions,
            )

    def _finished(self, send: asyncio.Task[Delivery]) -> None:
        self._in_flight.discard(send)
        self._wake.set()

    async def _claim(self, limit: int) -> list[ClaimedEmail]:
        try:
            return await self.store.claim_due(
                self.worker_id, limit, self.lease_seconds, now=self.clock()
            )
        except Exception as err:
            logger.warning("outbox: claiming failed (%s); will try again", type(err).__name__)
            return []

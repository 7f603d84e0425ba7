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
:data:`SUPPRESSED_ERROR`, and ``Delivery.suppressed`` says so to ``on_delivery``.

Outcomes (:class:`Delivery`) and their log lines live in :mod:`service.outbox.outcomes`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING, Protocol, Self

from service.outbox.backoff import next_attempt_at
from service.outbox.inbox import SPAM_SKIPPED
from service.outbox.models import ClaimedEmail, Clock, EmailState, Rendered
from service.outbox.outcomes import Delivery, error_summary, log_outcome, retry_hint
from service.providers.errors import ChainExhausted, MessageRejected, SendError

if TYPE_CHECKING:
    from service.config import Settings
    from service.message import OutgoingEmail
    from service.outbox.store import Store
    from service.providers.base import SendResult

__all__ = ["Delivery", "DeliveryWorker", "Sender", "default_worker_id"]

logger = logging.getLogger("service.outbox")

SHUTDOWN_ERROR = "interrupted by shutdown before the provider answered"
SUPPRESSED_ERROR = (
    "not sent: the visitor's address is on the suppression list"
    " (it bounced or reported spam after this submission was stored)"
)


class Sender(Protocol):
    """What the worker sends through: a :class:`~service.providers.ProviderChain`, or a provider."""

    async def send(self, email: OutgoingEmail) -> SendResult:
        """Send one email or raise :class:`~service.providers.errors.SendError`."""


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
        self.chain = chain
        self.worker_id = worker_id or default_worker_id()
        self.lease_seconds = lease_seconds
        self.send_timeout = send_timeout if send_timeout is not None else lease_seconds * 0.8
        self.max_age = max_age
        self.poll_interval = poll_interval
        self.retention = retention
        self.purge_interval = purge_interval
        self._next_purge = 0.0
        self.concurrency = concurrency
        self._refill = max(1, concurrency // 2)
        self.clock = clock or store.clock
        self.rng = rng
        self.on_delivery = on_delivery
        self.render = render
        self._wake = asyncio.Event()
        self._stopping = False
        self._loop_task: asyncio.Task[None] | None = None
        self._in_flight: set[asyncio.Task[Delivery]] = set()
        # Attempts under way (run_once's too), and those of them waiting for their outcome's commit.
        self._attempting = 0
        self._recording = 0

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
        self._stopping = False
        self._loop_task = asyncio.create_task(self._run(), name=f"outbox-worker-{self.worker_id}")

    async def stop(self, grace: float = 10.0) -> None:
        """Stop claiming, give in-flight sends ``grace`` seconds, re-queue the rest.

        Sends still running at the deadline are cancelled and their emails
        released as due now, so a restarted or another worker sends them at
        once; whatever was never claimed simply stays queued.
        """
        self._stopping = True
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
        return list(await asyncio.gather(*(self._attempt(claim) for claim in claims)))

    async def _run(self) -> None:
        while not self._stopping:
            await self._purge_when_due()
            # An attempt waiting for its outcome's commit sends nothing more: its
            # slot counts as free, so the claim can share that commit (_record).
            free = self.concurrency - len(self._in_flight) + self._recording
            if free >= self._refill or (free > 0 and not self._in_flight):
                for claim in await self._claim(free):
                    send = asyncio.create_task(self._attempt(claim))
                    self._in_flight.add(send)
                    send.add_done_callback(self._finished)
            if self._stopping:
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

    async def _attempt(self, claim: ClaimedEmail) -> Delivery:
        """One attempt at ``claim``, counted while under way (see :meth:`_may_defer`)."""
        self._attempting += 1
        try:
            return await self._render_and_deliver(claim)
        finally:
            self._attempting -= 1

    async def _render_and_deliver(self, claim: ClaimedEmail) -> Delivery:
        """Render an email stored as a recipe (``render``), then deliver it.

        A failure to render is recorded like a failed send: retried, then dead.
        A confirmation of a submission marked as spam is skipped before rendering.
        """
        if claim.spam and claim.kind == "confirmation":
            return await self._reject(claim, SPAM_SKIPPED, "marked as spam")
        if claim.unrendered is not None and self.render is not None:
            try:
                claim = await self.render(claim)
            except asyncio.CancelledError:
                await self._release(claim)
                raise
            except Exception as err:
                kind = getattr(err, "kind", type(err).__name__)
                return await self._record_failure(claim, str(err), f"render failed: {kind}", None)
        return await self._deliver(claim)

    async def _deliver(self, claim: ClaimedEmail) -> Delivery:
        try:
            email = claim.to_email()
            if claim.kind == "confirmation" and await self._suppressed(claim, email):
                return await self._reject(
                    claim, SUPPRESSED_ERROR, "address suppressed", suppressed=True
                )
            async with asyncio.timeout(self.send_timeout):
                result = await self.chain.send(email)
        except asyncio.CancelledError:
            await self._release(claim)
            raise
        except SendError as err:
            if isinstance(err, MessageRejected) or (
                isinstance(err, ChainExhausted) and err.rejected
            ):
                return await self._reject(claim, str(err), error_summary(err))
            return await self._record_failure(claim, str(err), error_summary(err), retry_hint(err))
        except TimeoutError:
            reason = f"no answer within {self.send_timeout:g}s"
            return await self._record_failure(claim, reason, reason, None)
        except Exception as err:
            # A bug or a stored payload we cannot read: retry later, never crash the loop.
            reason = f"unexpected {type(err).__name__}"
            return await self._record_failure(claim, reason, reason, None)
        return await self._record_sent(claim, result)

    async def _record_sent(self, claim: ClaimedEmail, result: SendResult) -> Delivery:
        delivery = Delivery.of(
            claim,
            EmailState.SENT,
            provider=result.provider,
            provider_attempt=result.attempt,
            send_seconds=result.seconds,
        )
        return await self._record(
            delivery,
            partial(
                self.store.mark_sent,
                claim,
                provider=result.provider,
                provider_message_id=result.message_id,
                now=self.clock(),
            ),
            "",
        )

    async def _suppressed(self, claim: ClaimedEmail, email: OutgoingEmail) -> bool:
        """Whether a confirmation's recipient bounced or complained since it was stored.

        Checked at send time too, not only when the submission was stored: the
        bounce of an earlier confirmation (or an operator) may have listed the
        address while this one waited. One primary-key lookup per confirmation,
        made by the write that stored the body just rendered (``Rendered.suppressed``)
        or, for an email rendered before, here.
        """
        looked_up = claim.stored.suppressed if isinstance(claim.stored, Rendered) else None
        if looked_up is not None:
            return looked_up
        for recipient in email.to:
            if await self.store.is_suppressed(recipient.addr_spec):
                return True
        return False

    async def _reject(
        self, claim: ClaimedEmail, error: str, loggable: str, *, suppressed: bool = False
    ) -> Delivery:
        """A final ``rejected``: refused by the provider, suppressed or spam (retry is manual)."""
        return await self._record(
            Delivery.of(claim, EmailState.REJECTED, error=error, suppressed=suppressed),
            partial(self.store.mark_rejected, claim, error=error, now=self.clock()),
            loggable,
        )

    async def _record_failure(
        self, claim: ClaimedEmail, error: str, loggable: str, hint: float | None
    ) -> Delivery:
        now = self.clock()
        retry_at = next_attempt_at(
            claim.attempts,
            queued_at=claim.queued_at,
            now=now,
            max_age=self.max_age,
            rng=self.rng,
            hint=hint,
        )
        delivery = Delivery.of(
            claim,
            EmailState.DEAD if retry_at is None else EmailState.RETRYING,
            error=error,
            next_attempt_at=retry_at,
        )
        if retry_at is None:
            recording = partial(self.store.mark_dead, claim, error=error, now=now)
        else:
            recording = partial(
                self.store.mark_retry, claim, error=error, next_attempt_at=retry_at, now=now
            )
        return await self._record(delivery, recording, loggable)

    async def _release(self, claim: ClaimedEmail) -> None:
        now = self.clock()
        try:
            await self.store.mark_retry(claim, error=SHUTDOWN_ERROR, next_attempt_at=now, now=now)
        except Exception as err:
            logger.warning(
                "outbox: could not release email=%s (%s); its lease will expire",
                claim.id,
                type(err).__name__,
            )

    def _may_defer(self) -> bool:
        """Whether the outcome being recorded may wait to share a later commit (module doc).

        Not when it would make half the slots' outcomes wait, nor when every attempt
        under way is waiting for its outcome: its commit then takes the others along.
        """
        return (
            not self._stopping
            and self.store.group.deferred + 1 < self._refill
            and self._recording < self._attempting
        )

    async def _record(
        self, delivery: Delivery, recording: Callable[..., Awaitable[bool]], loggable: str
    ) -> Delivery:
        """Store the outcome (``recording``, a ``mark_*`` of the store), log it, report it."""
        self._recording += 1
        defer = self._may_defer()
        if not defer:
            # The loop claims for the slots this commit frees before the commit
            # starts, so the claim goes into the same transaction.
            self._wake.set()
        try:
            recorded = await recording(defer=defer)
        except Exception as err:
            recorded = False
            logger.error(
                "outbox: could not record %s for email=%s (%s); it will be sent again",
                delivery.state,
                delivery.email_id,
                type(err).__name__,
            )
        else:
            log_outcome(delivery, loggable, recorded=recorded)
        finally:
            self._recording -= 1
        if not recorded:
            delivery = replace(delivery, recorded=False)
        if self.on_delivery is not None:
            self.on_delivery(delivery)
        return delivery

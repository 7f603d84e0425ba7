"""One send of each claimed email: render it, check it, send it, record what happened.

:class:`~service.outbox.worker.DeliveryWorker` decides when to claim and how
many sends run at once; :class:`Sends` runs each: renders an email stored as a
recipe, skips a confirmation of spam or to a suppressed address, sends through
the chain within ``send_timeout``, and records the outcome (sent, retrying,
rejected or dead) with its log line and ``on_delivery``. Any failure, expected
or not, leaves the email queued for a later attempt.

An outcome may be *deferred* to share a later commit (:mod:`service.outbox.group`)
while other sends are under way: not when it would make ``refill`` outcomes wait,
nor when every send under way is waiting for its outcome, nor while stopping.
The caller's ``wake`` is called before an outcome's commit starts, so that the
next claim shares that commit.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING, Protocol

from service.outbox.backoff import next_attempt_at
from service.outbox.inbox import SPAM_SKIPPED
from service.outbox.models import ClaimedEmail, Clock, EmailState, Rendered
from service.outbox.outcomes import Delivery, error_summary, log_outcome, retry_hint
from service.providers.errors import ChainExhausted, MessageRejected, SendError

if TYPE_CHECKING:
    from service.message import OutgoingEmail
    from service.outbox.store import Store
    from service.providers.base import SendResult

__all__ = ["SHUTDOWN_ERROR", "SUPPRESSED_ERROR", "Sender", "Sends"]

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


class Sends:
    """Runs one attempt per claimed email and records its outcome (see the module doc)."""

    def __init__(
        self,
        store: Store,
        chain: Sender,
        *,
        send_timeout: float,
        max_age: timedelta,
        clock: Clock,
        rng: Callable[[], float],
        refill: int,
        wake: Callable[[], None],
        on_delivery: Callable[[Delivery], None] | None = None,
        render: Callable[[ClaimedEmail], Awaitable[ClaimedEmail]] | None = None,
    ) -> None:
        self.store = store
        self.chain = chain
        self.send_timeout = send_timeout
        self.max_age = max_age
        self.clock = clock
        self.rng = rng
        self.refill = refill
        self.wake = wake
        self.on_delivery = on_delivery
        self.render = render
        self.stopping = False
        #: Attempts under way, and those of them waiting for their outcome's commit.
        self.attempting = 0
        self.recording = 0

    async def attempt(self, claim: ClaimedEmail) -> Delivery:
        """One attempt at ``claim``, counted while under way (see :meth:`_may_defer`)."""
        self.attempting += 1
        try:
            return await self._render_and_deliver(claim)
        finally:
            self.attempting -= 1

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
                await self.release(claim)
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
            await self.release(claim)
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

    async def release(self, claim: ClaimedEmail) -> None:
        """Put ``claim`` back as due now (its send was cut short by a shutdown)."""
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
            not self.stopping
            and self.store.group.deferred + 1 < self.refill
            and self.recording < self.attempting
        )

    async def _record(
        self, delivery: Delivery, recording: Callable[..., Awaitable[bool]], loggable: str
    ) -> Delivery:
        """Store the outcome (``recording``, a ``mark_*`` of the store), log it, report it."""
        self.recording += 1
        defer = self._may_defer()
        if not defer:
            # The loop claims for the slots this commit frees before the commit
            # starts, so the claim goes into the same transaction.
            self.wake()
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
            self.recording -= 1
        if not recorded:
            delivery = replace(delivery, recorded=False)
        if self.on_delivery is not None:
            self.on_delivery(delivery)
        return delivery

"""Erasing a person on request (GDPR article 17): one call for the API, the pages and the CLI.

:func:`erase_person` deletes what the outbox holds about an address
(:meth:`~service.outbox.inbox.InboxRecords.erase_person`) and, when given the
confirmation policy, the confirmation allowance counted for it. It logs that
an erasure happened and how much, with the address masked; what remains are
counts.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from service.logs import mask_email

if TYPE_CHECKING:
    from service.abuse.confirmation import ConfirmationPolicy
    from service.outbox import Store

__all__ = ["ErasureReport", "erase_person"]

logger = logging.getLogger("service.erasure")


@dataclass(frozen=True, slots=True)
class ErasureReport:
    """How much was erased about one address (the address itself is not kept)."""

    submissions: int
    emails: int
    events: int
    idempotency_keys: int
    confirmation_counters: int

    def as_dict(self) -> dict[str, int]:
        """The counts by name, for a JSON answer."""
        return asdict(self)


async def erase_person(
    store: Store, address: str, *, confirmation: ConfirmationPolicy | None = None
) -> ErasureReport:
    """Erase everything stored about ``address``, irreversibly; answers the counts."""
    erased = await store.erase_person(address)
    counters = await confirmation.forget(address) if confirmation is not None else 0
    report = ErasureReport(
        submissions=erased.submissions,
        emails=erased.emails,
        events=erased.events,
        idempotency_keys=erased.idempotency_keys,
        confirmation_counters=counters,
    )
    logger.info(
        "erasure: %s: %d submissions, %d emails, %d events, %d idempotency keys,"
        " %d confirmation counters",
        mask_email(address.strip().lower()),
        *report.as_dict().values(),
    )
    return report

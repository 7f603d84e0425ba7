"""``python -m service erase EMAIL``: erase everything stored about a person (GDPR article 17).

The same erasure as ``DELETE /api/admin/people`` (:mod:`service.erasure`):
their submissions, emails, delivery events and idempotency records, and, when
the rate limits live in Redis (``RATE_LIMIT_STORAGE_URL``), their
confirmation counters. Counters kept in memory belong to the server's
processes, out of this one's reach; they lapse with their window. Prints the
counts, with the address masked; exit 1 when nothing was stored about it.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from service.abuse.confirmation import ConfirmationPolicy
from service.abuse.ratelimit import RateLimits
from service.cli.outbox import runner
from service.erasure import erase_person
from service.logs import mask_email

if TYPE_CHECKING:
    from service.config import Settings
    from service.outbox import Store

__all__ = ["add_parser"]


def add_parser(commands: Any) -> None:
    """Register ``erase EMAIL``."""
    parser = commands.add_parser("erase", help="erase everything stored about EMAIL (irreversible)")
    parser.add_argument("email")
    parser.set_defaults(run=runner(_erase))


async def _erase(store: Store, settings: Settings, args: argparse.Namespace) -> int:
    limits = RateLimits.from_settings(settings)
    confirmation = None
    if limits.shared:
        await limits.open()
        confirmation = ConfirmationPolicy.from_settings(settings, limits)
    try:
        report = await erase_person(store, args.email, confirmation=confirmation)
    finally:
        await limits.close()
    print(
        f"erased {mask_email(args.email.strip().lower())}: {report.submissions} submissions,"
        f" {report.emails} emails, {report.events} delivery events,"
        f" {report.idempotency_keys} idempotency keys,"
        f" {report.confirmation_counters} confirmation counters"
    )
    return 0 if report.submissions else 1

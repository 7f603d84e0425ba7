"""``python -m service outbox ...``: look into the outbox and act on it.

Plain text for people, exit codes for scripts: 0 success; 1 when there is
something to look at (``stats``: mail piling up or dead emails; ``retry``:
nothing matched).
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from service.api.health import DEGRADED_AFTER_SECONDS
from service.outbox import EmailState, Store, open_store

if TYPE_CHECKING:
    from service.config import Settings

__all__ = ["add_parser", "runner"]

Command = Callable[[Store, "Settings", argparse.Namespace], Awaitable[int]]


def add_parser(commands: Any) -> None:
    """Register ``outbox`` and its subcommands."""
    parser = commands.add_parser("outbox", help="inspect and operate the outbox")
    sub = parser.add_subparsers(dest="outbox_command", metavar="SUBCOMMAND", required=True)

    stats = sub.add_parser("stats", help="counts by state and the oldest unsent email's age")
    stats.set_defaults(run=runner(_stats))

    listing = sub.add_parser("list", help="recent emails, newest first")
    listing.add_argument("--state", choices=[str(state) for state in EmailState])
    listing.add_argument("--limit", type=int, default=50)
    listing.set_defaults(run=runner(_list))

    retry = sub.add_parser("retry", help="re-queue a dead or rejected email now")
    target = retry.add_mutually_exclusive_group(required=True)
    target.add_argument("id", nargs="?", help="the email's id (see `outbox list`)")
    target.add_argument("--dead", action="store_true", help="every dead and rejected email")
    retry.set_defaults(run=runner(_retry))

    purge = sub.add_parser("purge", help="apply the retention period now")
    purge.set_defaults(run=runner(_purge))


def runner(command: Command) -> Callable[[Settings, argparse.Namespace], int]:
    """A command's ``run``: ``command`` with the outbox store open, in a fresh event loop."""

    def run(settings: Settings, args: argparse.Namespace) -> int:
        async def with_store() -> int:
            async with open_store(settings.database_url) as store:
                return await command(store, settings, args)

        return asyncio.run(with_store())

    return run


async def _stats(store: Store, settings: Settings, args: argparse.Namespace) -> int:
    stats = await store.stats()
    for state in EmailState:
        print(f"{state:<9} {stats.counts.get(state, 0)}")
    oldest = stats.oldest_unsent_age
    print(f"oldest unsent: {'-' if oldest is None else f'{oldest:.0f} s'}")
    piling_up = oldest is not None and oldest > DEGRADED_AFTER_SECONDS
    return 1 if piling_up or stats.counts.get(EmailState.DEAD, 0) else 0


async def _list(store: Store, settings: Settings, args: argparse.Namespace) -> int:
    state = EmailState(args.state) if args.state else None
    emails = await store.list_emails(state=state, limit=args.limit)
    print(f"{'id':<36}  {'kind':<12}  {'state':<8}  {'tries':>5}  {'provider':<8}  last error")
    for email in emails:
        print(
            f"{email.id:<36}  {email.kind:<12}  {email.state:<8}  {email.attempts:>5}  "
            f"{email.provider or '-':<8}  {email.last_error or ''}"
        )
    return 0


async def _retry(store: Store, settings: Settings, args: argparse.Namespace) -> int:
    if args.dead:
        count = await store.requeue_dead()
        print(f"re-queued {count} email(s)")
        return 0 if count else 1
    if await store.requeue(args.id):
        print(f"re-queued {args.id}")
        return 0
    print(f"no dead or rejected email with id {args.id} (purged emails cannot be re-queued)")
    return 1


async def _purge(store: Store, settings: Settings, args: argparse.Namespace) -> int:
    result = await store.purge(retention=timedelta(days=settings.outbox_retention_days))
    print(
        f"purged personal data of {result.emails} email(s) and {result.submissions} "
        f"submission(s); {result.idempotency_keys} idempotency key(s) expired"
    )
    return 0

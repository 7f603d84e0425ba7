"""``python -m service suppressions list|remove EMAIL``: the suppression list.

Addresses that hard-bounced or complained get no confirmation (see
:mod:`service.outbox.delivery`). ``list`` prints them masked, newest first;
``remove`` forgets one (exit 1 when it was not listed).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from service.cli.outbox import runner
from service.logs import mask_email

if TYPE_CHECKING:
    from service.config import Settings
    from service.outbox import Store

__all__ = ["add_parser"]


def add_parser(commands: Any) -> None:
    """Register ``suppressions`` and its subcommands."""
    parser = commands.add_parser("suppressions", help="addresses that get no confirmation")
    sub = parser.add_subparsers(dest="suppressions_command", metavar="SUBCOMMAND", required=True)
    listing = sub.add_parser("list", help="suppressed addresses (masked), newest first")
    listing.add_argument("--limit", type=int, default=100)
    listing.set_defaults(run=runner(_list))
    remove = sub.add_parser("remove", help="send confirmations to EMAIL again")
    remove.add_argument("email")
    remove.set_defaults(run=runner(_remove))


async def _list(store: Store, settings: Settings, args: argparse.Namespace) -> int:
    entries = await store.list_suppressions(limit=args.limit)
    print(f"{'address':<32}  {'reason':<10}  {'provider':<8}  since")
    for entry in entries:
        print(
            f"{entry.masked:<32}  {entry.reason:<10}  {entry.provider or '-':<8}  "
            f"{entry.created_at:%Y-%m-%d %H:%M} UTC"
        )
    return 0


async def _remove(store: Store, settings: Settings, args: argparse.Namespace) -> int:
    if await store.remove_suppression(args.email):
        print(f"removed {mask_email(args.email)}: confirmations go to it again")
        return 0
    print(f"{mask_email(args.email)} is not on the suppression list")
    return 1

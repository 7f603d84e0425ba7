"""``python -m service send-test --to ADDRESS [--provider NAME]``: send one real email.

The email is the preview's sample notification (the sample submission, the
operator's templates and branding), addressed to ``ADDRESS`` only. Without
``--provider`` it goes through the configured chain, retries and failover
included, exactly as the outbox would send it; with ``--provider`` through
that one provider alone, which may be any registered provider whose
credentials are set (so a provider can be tried before it joins the chain).

Prints the provider that accepted it and its message id (exit 0), or each
provider's error (exit 1). A bad ``ADDRESS`` is a usage error (exit 2).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import re
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter, ValidationError

from service.cli.common import PROVIDER_NAMES, fail_line, ok_line, selected_providers
from service.emails import EmailRenderer, compose_notification, sample_submission
from service.message import Address
from service.providers.chain import ProviderChain
from service.providers.errors import ChainExhausted, SendError
from service.providers.http import make_http_client
from service.providers.registry import build_providers
from service.validation import EmailAddress

if TYPE_CHECKING:
    from service.config import Settings
    from service.message import OutgoingEmail
    from service.providers.base import Provider, SendResult

__all__ = ["add_parser", "recipient", "run", "sample_email_to"]

_ADDRESS = TypeAdapter(EmailAddress)
# A display name, a list or a group would be accepted by the parser and then
# reduced to one address; refuse them instead, so what is sent is what was typed.
_NOT_ONE_ADDRESS = re.compile(r"[\s,;<>()\"]")


def recipient(value: str) -> str:
    """``--to``: one bare address on one line, or an argparse error (exit 2)."""
    if _NOT_ONE_ADDRESS.search(value):
        raise argparse.ArgumentTypeError(
            "give one bare address on one line, like someone@example.org"
        )
    try:
        return _ADDRESS.validate_python(value)
    except ValidationError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a valid email address") from None


def add_parser(commands: Any) -> None:
    """Register the ``send-test`` command."""
    parser = commands.add_parser(
        "send-test", help="send the sample notification to ADDRESS and print its message id"
    )
    parser.add_argument("--to", required=True, type=recipient, metavar="ADDRESS")
    parser.add_argument(
        "--provider",
        choices=PROVIDER_NAMES,
        help="send through this provider only (default: the chain; its credentials must be set)",
    )
    parser.set_defaults(run=run)


def sample_email_to(settings: Settings, to: str) -> OutgoingEmail:
    """The sample notification, rendered as the preview shows it, addressed to ``to`` only."""
    renderer = EmailRenderer.from_settings(settings)
    email = compose_notification(sample_submission(), settings, renderer)
    return dataclasses.replace(email, to=(Address(addr_spec=to),))


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Send the test email; print who accepted it, or why nobody did."""
    names = selected_providers(settings, [args.provider] if args.provider else None)
    email = sample_email_to(settings, args.to)
    try:
        result = asyncio.run(_send(settings, names, email))
    except ChainExhausted as error:
        for failure in error.errors:
            print(fail_line(failure.provider, failure))
        return 1
    except SendError as error:
        print(fail_line(error.provider, error))
        return 1
    print(ok_line(result.provider, f"message id {result.message_id or '(none given)'}"))
    return 0


async def _send(settings: Settings, names: list[str], email: OutgoingEmail) -> SendResult:
    """Through a chain of ``names``: one provider still gets its retries on transient errors."""
    async with make_http_client(settings) as client:
        providers = build_providers(settings, names, http_client=client)
        chain = ProviderChain.from_settings(settings, providers)
        try:
            for provider in providers:
                await _open(provider)
            return await chain.send(email)
        finally:
            await chain.close()


async def _open(provider: Provider) -> None:
    try:
        await provider.open()
    except Exception as err:
        # Read like a failed send (a folder that cannot be made, a broken trust store).
        raise provider.translate(err) from err

"""``python -m service check``: is the configuration valid, and would each provider send?

The settings, forms and templates are loaded and rendered first (a problem there is
one line and exit 2). Then every provider of the chain (or each ``--provider``)
is opened and :meth:`~service.providers.base.Provider.check`-ed at once:
SMTP logs in and says NOOP, the HTTP APIs answer an authenticated read-only
call, ``file`` writes into its folder. Nothing is sent. One line per
provider; exit 0 only when every one passed, else 1.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import TYPE_CHECKING, Any

from service.cli.common import PROVIDER_NAMES, fail_line, ok_line, selected_providers
from service.emails import EmailRenderer, check_templates
from service.forms import load_forms
from service.providers.errors import SendError
from service.providers.http import make_http_client
from service.providers.registry import build_providers

if TYPE_CHECKING:
    from service.config import Settings
    from service.providers.base import Provider

__all__ = ["add_parser", "check_providers", "run"]


def add_parser(commands: Any) -> None:
    """Register the ``check`` command."""
    parser = commands.add_parser(
        "check", help="validate the configuration and test each provider without sending"
    )
    parser.add_argument(
        "--provider",
        action="append",
        choices=PROVIDER_NAMES,
        help="check this provider instead of the chain (repeatable; its credentials must be set)",
    )
    parser.set_defaults(run=run)


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Check the forms and templates, then each provider; print one line each."""
    samples = [form.sample() for form in load_forms(settings).values()]
    check_templates(settings, EmailRenderer.from_settings(settings), samples)
    names = selected_providers(settings, args.provider)
    results = asyncio.run(check_providers(settings, names))
    for name, outcome in results:
        print(ok_line(name, outcome) if isinstance(outcome, str) else fail_line(name, outcome))
    return 0 if all(isinstance(outcome, str) for _, outcome in results) else 1


async def check_providers(
    settings: Settings, names: list[str]
) -> list[tuple[str, str | SendError]]:
    """Each provider's name with what its check proved, or the error it failed with."""
    async with make_http_client(settings) as client:
        providers = build_providers(settings, names, http_client=client)
        outcomes = await asyncio.gather(*(_check(provider) for provider in providers))
    return list(zip(names, outcomes, strict=True))


async def _check(provider: Provider) -> str | SendError:
    try:
        await provider.open()
        return await provider.check()
    except SendError as error:
        return error
    except Exception as error:
        # open() is not a template method; its failure still reads as a send's would.
        return provider.translate(error)
    finally:
        await provider.close()

"""``python -m service [serve]``: serve HTTP on ``HOST``:``PORT`` with ``WORKERS`` processes.

What can be checked without the workers is checked first, so that a mistake is
one line and exit 2 before any worker starts: the templates, the providers'
settings (built, not opened), the database URL, the metrics folder, and the
address to listen on (bound here, then handed to Sanic). What only a worker
can find (the database itself) ends the same way through
:mod:`service.startup`.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import gc
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sanic import Sanic
from sanic.server.socket import bind_socket

from service.app import check_forms, create_app
from service.cli.manager import use_mended_manager
from service.config import ConfigError
from service.deadline import DeadlineProtocol
from service.emails import EmailRenderer
from service.forms import load_forms
from service.metrics import MULTIPROC_VARIABLE, prepare_multiprocess_dir, use_multiprocess_values
from service.outbox import open_store
from service.providers.http import make_http_client
from service.providers.registry import build_providers
from service.startup import StartupFailures

if TYPE_CHECKING:
    from service.config import Settings
    from service.forms import Forms

__all__ = ["METRICS_DIR", "add_parser", "run"]

METRICS_DIR = Path("var/prometheus")


def add_parser(commands: Any) -> None:
    """Register the ``serve`` command."""
    parser = commands.add_parser("serve", help="serve HTTP (the default)")
    parser.set_defaults(run=run)


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Check what can be checked, then serve until stopped."""
    del args
    forms, renderer = check_before_workers(settings)
    listener = listen(settings)
    # Workers are forked from this process, which has imported everything and
    # opened nothing: a worker starts without importing the service again (with
    # "spawn", Sanic's default, the worker and the manager's helper process each
    # imported it anew, about 0.7 s of CPU apiece; most of a cold start).
    Sanic.start_method = "fork"
    app = create_app(settings=settings, forms=forms, renderer=renderer)
    failures = StartupFailures()
    failures.share_with(app)
    app.prepare(
        sock=listener,
        workers=settings.workers,
        protocol=DeadlineProtocol,
        debug=False,
        access_log=True,
        motd=False,
    )
    # What the workers inherit (modules, settings, compiled templates) lives as
    # long as they do: frozen, their collections never walk it (nor touch its
    # pages, which the fork shares). `python -m service` ran with collections
    # off until here (service/__main__.py).
    gc.freeze()
    gc.enable()
    use_mended_manager()
    Sanic.serve(primary=app)
    failures.raise_first()
    return 0


def check_before_workers(settings: Settings) -> tuple[Forms, EmailRenderer]:
    """Raise the first problem that needs no worker to find, in one line naming the setting.

    Returns the forms and the renderer it checked, for the app to serve with.
    """
    # A bad forms file or a broken template stops startup here, not in every worker.
    forms = load_forms(settings)
    renderer = EmailRenderer.from_settings(settings)
    check_forms(settings, renderer, forms)
    # No I/O: an unusable URL (sqlite:/// without a file) is refused here.
    open_store(settings.database_url)
    # Built, not opened: settings that cannot work together (SMTP_SECURITY=none
    # with a password or a remote host) are refused by the providers themselves.
    asyncio.run(_build_providers(settings))
    if settings.metrics_enabled:
        try:
            # Before any worker exists: they inherit the variable and find an empty folder.
            prepare_multiprocess_dir(settings.workers, METRICS_DIR)
        except OSError as err:
            raise ConfigError(f"{MULTIPROC_VARIABLE}: {err}") from err
        use_multiprocess_values()
    return forms, renderer


async def _build_providers(settings: Settings) -> None:
    async with make_http_client(settings) as client:
        build_providers(settings, http_client=client)


def listen(settings: Settings) -> socket.socket:
    """The listening socket on ``HOST``:``PORT``, as Sanic would bind it; one line if it cannot."""
    try:
        return bind_socket(settings.host, settings.port)
    except OSError as err:
        reason = err.strerror or str(err)
        if err.errno in (errno.EADDRINUSE, errno.EACCES):
            raise ConfigError(f"PORT: cannot listen on port {settings.port}: {reason}") from None
        raise ConfigError(f"HOST: cannot listen on {settings.host!r}: {reason}") from None

"""``python -m service [serve]``: serve HTTP on ``HOST``:``PORT`` with ``WORKERS`` processes."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from sanic import Sanic
from sanic.worker.loader import AppLoader

from service.app import create_app
from service.emails import EmailRenderer, check_templates

if TYPE_CHECKING:
    from service.config import Settings

__all__ = ["add_parser", "run"]


def add_parser(commands: Any) -> None:
    """Register the ``serve`` command."""
    parser = commands.add_parser("serve", help="serve HTTP (the default)")
    parser.set_defaults(run=run)


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Check the templates, then serve until stopped."""
    del args
    # A broken template stops startup here, in one line, not in every worker.
    check_templates(settings, EmailRenderer())
    loader = AppLoader(factory=create_app)
    app = loader.load()
    app.prepare(
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        debug=False,
        access_log=True,
        motd=False,
    )
    Sanic.serve(primary=app, app_loader=loader)
    return 0

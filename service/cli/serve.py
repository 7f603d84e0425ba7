"""``python -m service [serve]``: serve HTTP on ``HOST``:``PORT`` with ``WORKERS`` processes."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sanic import Sanic

from service.app import create_app
from service.config import ConfigError
from service.emails import check_templates
from service.metrics import MULTIPROC_VARIABLE, prepare_multiprocess_dir, use_multiprocess_values

if TYPE_CHECKING:
    from service.config import Settings

__all__ = ["METRICS_DIR", "add_parser", "run"]

METRICS_DIR = Path("var/prometheus")


def add_parser(commands: Any) -> None:
    """Register the ``serve`` command."""
    parser = commands.add_parser("serve", help="serve HTTP (the default)")
    parser.set_defaults(run=run)


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Build the app, check the templates, then serve until stopped."""
    del args
    if settings.metrics_enabled:
        try:
            # Before any worker exists: they inherit the variable and find an empty folder.
            prepare_multiprocess_dir(settings.workers, METRICS_DIR)
        except OSError as err:
            raise ConfigError(f"{MULTIPROC_VARIABLE}: {err}") from err
        use_multiprocess_values()
    # Workers are forked from this process, which has imported everything and
    # opened nothing: a worker starts without importing the service again (with
    # "spawn", Sanic's default, the worker and the manager's helper process each
    # imported it anew, about 0.7 s of CPU apiece; most of a cold start).
    Sanic.start_method = "fork"
    app = create_app(settings=settings)
    # A broken template stops startup here, in one line, not in every worker;
    # the workers inherit the compiled templates.
    check_templates(settings, app.ctx.renderer)
    app.prepare(
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        debug=False,
        access_log=True,
        motd=False,
    )
    Sanic.serve(primary=app)
    return 0

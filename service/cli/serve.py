"""``python -m service [serve]``: serve HTTP on ``HOST``:``PORT`` with ``WORKERS`` processes."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sanic import Sanic
from sanic.worker.loader import AppLoader

from service.app import create_app
from service.config import ConfigError
from service.emails import EmailRenderer, check_templates
from service.forms import load_forms
from service.metrics import MULTIPROC_VARIABLE, prepare_multiprocess_dir

if TYPE_CHECKING:
    from service.config import Settings

__all__ = ["METRICS_DIR", "add_parser", "run"]

METRICS_DIR = Path("var/prometheus")


def add_parser(commands: Any) -> None:
    """Register the ``serve`` command."""
    parser = commands.add_parser("serve", help="serve HTTP (the default)")
    parser.set_defaults(run=run)


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Check the forms and the templates, then serve until stopped."""
    del args
    # A bad forms file or a broken template stops startup here, in one line, not in every worker.
    forms = load_forms(settings)
    samples = [form.sample() for form in forms.values()]
    check_templates(settings, EmailRenderer.from_settings(settings), samples)
    if settings.metrics_enabled:
        try:
            # Before any worker exists: they inherit the variable and find an empty folder.
            prepare_multiprocess_dir(settings.workers, METRICS_DIR)
        except OSError as err:
            raise ConfigError(f"{MULTIPROC_VARIABLE}: {err}") from err
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

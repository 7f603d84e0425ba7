"""``python -m service``: serve the app on ``HOST``:``PORT`` with ``WORKERS`` processes.

Configuration and templates are checked here first, so a mistake stops
startup with one line naming the variable or template, not a traceback.
"""

from __future__ import annotations

import sys

from sanic import Sanic
from sanic.worker.loader import AppLoader

from service.app import create_app
from service.config import ConfigError, load_settings
from service.emails import EmailRenderer, TemplateError, check_templates

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Check the configuration, then serve until stopped. Returns the exit code."""
    del argv
    try:
        settings = load_settings()
        check_templates(settings, EmailRenderer.from_settings(settings))
    except (ConfigError, TemplateError) as err:
        print(f"service: cannot start: {err}", file=sys.stderr)
        return 2

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


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""``python -m service [COMMAND]``: serve (the default), deliver, check, send a test, outbox, erase.

Every command reads the same settings as the server; a configuration error
prints one line and exits 2.
"""

from __future__ import annotations

import argparse
import gc
import sys
from collections.abc import Sequence

from service.cli import check, erase, outbox, send_test, serve, suppressions, worker
from service.config import ConfigError, load_settings
from service.emails import TemplateError
from service.outbox import StoreError

__all__ = ["EXIT_CONFIG", "build_parser", "main"]

EXIT_CONFIG = 2


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every command."""
    parser = argparse.ArgumentParser(
        prog="python -m service",
        description="Contact-form mail service. Without a command, serves HTTP.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve.add_parser(commands)
    worker.add_parser(commands)
    check.add_parser(commands)
    send_test.add_parser(commands)
    outbox.add_parser(commands)
    suppressions.add_parser(commands)
    erase.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command in ``argv`` (default: serve) and return the exit code."""
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as err:
        print(f"service: cannot start: {err}", file=sys.stderr)
        return EXIT_CONFIG
    run = getattr(args, "run", serve.run)
    if run is not serve.run:
        # `python -m service` imports with collections off; serving turns them on
        # when it forks its workers, every other command now.
        gc.enable()
    try:
        return run(settings, args)
    except (ConfigError, TemplateError, StoreError) as err:
        print(f"service: cannot start: {err}", file=sys.stderr)
        return EXIT_CONFIG

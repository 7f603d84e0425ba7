"""A worker that cannot start stops the whole server with one line and exit 2, as the CLI does.

Some problems only a worker finds, when it opens what it serves with: an
unreachable database, a file that is not one, a folder it may not write. Left
to Sanic, the exception becomes a traceback and the manager SIGKILLs its own
process group, main process included (exit 137). Instead the CLI hands every
worker the sending end of a pipe (:class:`StartupFailures`, in ``shared_ctx``);
a worker that meets a :data:`STARTUP_ERRORS` error sends its one-line reason,
tells the manager it is ready, asks it to stop every worker gracefully and
exits (:func:`stop_server`). Once Sanic returns, the main process raises the
first reason as a :class:`~service.config.ConfigError`: one line, exit 2.

Without the pipe (under an ASGI server, in tests, in the single-process
``python -m service worker``) the error is raised as it is, and
:func:`quiet_startup_errors` keeps Sanic from logging it as a traceback first.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
from typing import TYPE_CHECKING, NoReturn

from service.config import ConfigError
from service.emails import TemplateError
from service.outbox import StoreError

if TYPE_CHECKING:
    from sanic import Sanic

__all__ = ["STARTUP_ERRORS", "StartupFailures", "quiet_startup_errors", "stop_server"]

STARTUP_ERRORS: tuple[type[Exception], ...] = (ConfigError, StoreError, TemplateError)
"""Errors whose message names the setting at fault: reported in one line, without a traceback."""

_SHARED_NAME = "startup_failures"


class StartupFailures:
    """The pipe a worker reports its startup error through; made in the main process."""

    def __init__(self) -> None:
        self._reader, self._writer = multiprocessing.Pipe(duplex=False)

    def share_with(self, app: Sanic) -> None:
        """Hand the sending end to every worker of ``app`` (before ``Sanic.serve``)."""
        setattr(app.shared_ctx, _SHARED_NAME, self._writer)

    def raise_first(self) -> None:
        """After ``Sanic.serve``: raise :class:`ConfigError` with the first reason, if any."""
        if self._reader.poll():
            raise ConfigError(self._reader.recv())


def stop_server(app: Sanic, error: Exception) -> NoReturn:
    """Report ``error`` to the main process and stop every worker; re-raise it when alone."""
    reporter = getattr(app.shared_ctx, _SHARED_NAME, None)
    if reporter is None:
        raise error
    reporter.send(str(error))
    # The manager stops the workers (with SIGINT) as soon as it reads the request
    # below: this one is leaving anyway, and must not be interrupted on its way out.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # The manager stops the workers only once each has said it is ready.
    app.ack()
    app.m.terminate()
    raise SystemExit(0)


class _StartupErrorFilter(logging.Filter):
    """Drops a log record whose exception is a startup error: the CLI prints it in one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], STARTUP_ERRORS))


def quiet_startup_errors() -> None:
    """Keep Sanic's "Experienced exception while trying to serve" traceback out of stderr.

    For a server in one process: its startup error reaches the CLI, which prints
    the one line; Sanic would log it with a traceback on the way.
    """
    logging.getLogger("sanic.error").addFilter(_StartupErrorFilter())

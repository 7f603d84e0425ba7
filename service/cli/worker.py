"""``python -m service worker``: deliver the outbox, and answer nothing but health probes.

The same delivery worker that ``python -m service`` runs beside the API, in a
process of its own (one process; run more of them, on PostgreSQL, to deliver
faster). Its HTTP surface on ``HOST``:``PORT`` is ``/api/health`` for a
liveness or readiness probe, and ``/metrics`` (unless ``METRICS_ENABLED=false``),
where the delivery counters are. Pair it with web processes started with
``DELIVERY_WORKER=off``.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from sanic import Sanic

from service.app import create_worker_app
from service.startup import quiet_startup_errors

if TYPE_CHECKING:
    from service.config import Settings

__all__ = ["add_parser", "run"]


def add_parser(commands: Any) -> None:
    """Register the ``worker`` command."""
    parser = commands.add_parser(
        "worker", help="deliver the outbox only; HTTP serves /api/health and /metrics"
    )
    parser.set_defaults(run=run)


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Deliver until stopped (SIGINT or SIGTERM: in-flight sends get the grace period)."""
    del args
    app = create_worker_app(settings=settings)
    app.prepare(
        host=settings.host,
        port=settings.port,
        single_process=True,
        debug=False,
        access_log=True,
        motd=False,
    )
    quiet_startup_errors()
    Sanic.serve_single(primary=app)
    return 0

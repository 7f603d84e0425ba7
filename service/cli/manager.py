"""Sanic's worker manager, mended: a stop signal while it waits for the workers to start.

Sanic 25.12's ``WorkerManager.wait_for_ack`` waits for every worker's "ready"
and re-sends any other monitor message to itself, then polls again. A SIGTERM
or SIGINT in that window (about 0.1 s after the first answer, when a platform
stops a service it has just started) posts the shutdown message, which the
loop then reads back and re-sends forever at full CPU, while the workers it
waits for have already been told to stop: the process never ends until it is
killed (sanic-org/sanic#2997; here, 10 starts out of 10 stopped right after
the first ``200`` hung). :class:`WorkerManager` stops waiting once shutting
down and hands the messages it held back to the monitor loop, which then
shuts down as it does after a normal start.
"""

from __future__ import annotations

import time
from typing import Any

import sanic.mixins.startup
from sanic.log import error_logger
from sanic.worker import manager

__all__ = ["WorkerManager", "use_mended_manager"]

_WAIT = 0.1


class WorkerManager(manager.WorkerManager):
    """Sanic's manager with a ``wait_for_ack`` that ends when the manager shuts down."""

    def wait_for_ack(self) -> None:
        """Wait until every worker is ready, the manager shuts down, or the time is up."""
        held: list[Any] = []
        deadline = time.monotonic() + self.THRESHOLD / 10
        try:
            while not self._all_workers_ack() and not self._shutting_down:
                if self.monitor_subscriber.poll(_WAIT):
                    message = self.monitor_subscriber.recv()
                    if message == "__TERMINATE_EARLY__":
                        self._give_up("A worker process ended before it had started.")
                        return
                    held.append(message)
                if time.monotonic() > deadline:
                    self._give_up("Not every worker started in time.")
                    return
        finally:
            # The monitor loop reads them next: a shutdown message ends it.
            for message in held:
                self.monitor_publisher.send(message)

    def _give_up(self, reason: str) -> None:
        error_logger.error("%s Shutting down.", reason)
        self.kill()


def use_mended_manager() -> None:
    """Make ``Sanic.serve`` build :class:`WorkerManager` (for this process, before it serves)."""
    sanic.mixins.startup.WorkerManager = WorkerManager  # type: ignore[misc]

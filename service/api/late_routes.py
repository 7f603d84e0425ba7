"""Build Sanic's signal router once for the routes sanic-ext adds at startup, not once each.

sanic-ext adds a ``HEAD`` route beside every ``GET`` route and an ``OPTIONS``
route (CORS preflights) to every path in a ``before_server_start`` listener.
Sanic has started by then, so each ``add_route`` goes through
``Sanic.amend()``, which takes the signal router apart and builds it again
(generating and compiling its matching code) for that one route: about 30
builds, which were 0.4 s of the 0.6 s of CPU a worker spent before its first
answer (sanic-org/sanic#3087). Nothing dispatches a signal while sanic-ext's
listeners run, so the router is taken apart once before them and built once
after them; ``amend()`` leaves an unbuilt router alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sanic_ext.config import PRIORITY

if TYPE_CHECKING:
    from sanic import Sanic

__all__ = ["build_signals_once"]


def build_signals_once(app: Sanic) -> None:
    """Register the two listeners around sanic-ext's (higher priorities run first)."""
    taken_apart = False

    def take_apart(app: Sanic) -> None:
        nonlocal taken_apart
        taken_apart = app.signal_router.finalized
        if taken_apart:
            app.signal_router.reset()

    def build(app: Sanic) -> None:
        # sanic-ext's last listener runs at PRIORITY - 1.
        if taken_apart and not app.signal_router.finalized:
            app.signalize(bool(app.config.TOUCHUP))

    app.register_listener(take_apart, "before_server_start", priority=PRIORITY + 1)
    app.register_listener(build, "before_server_start", priority=PRIORITY - 2)

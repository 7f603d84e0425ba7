"""``GET /api/health``: is the service up, is mail going out, what is it configured to do."""

from __future__ import annotations

import time

from sanic import Blueprint, HTTPResponse, Request, json
from sanic_ext import openapi

from service import __version__

__all__ = ["DEGRADED_AFTER_SECONDS", "OutboxWrites", "bp"]

bp = Blueprint("health", url_prefix="/api")

DEGRADED_AFTER_SECONDS = 15 * 60
"""An email unsent for this long means mail is piling up: the status is ``degraded``."""


class OutboxWrites:
    """Whether this worker's last attempt to store a submission failed (``app.ctx.outbox_writes``).

    A full disk or a lost database leaves reads working, so the outbox counts
    look healthy while every submission is refused: health reports the failed
    write until a write succeeds again. The reason names the kind of error
    only; the details are in the log.
    """

    def __init__(self) -> None:
        self.problem: str | None = None
        self._since = 0.0

    def failed(self, error: Exception) -> None:
        """Note a write that raised ``error``."""
        if self.problem is None:
            self._since = time.monotonic()
        self.problem = f"the last write to the outbox failed ({type(error).__name__})"

    def succeeded(self) -> None:
        """Note a write that was stored: the problem, if any, is over."""
        self.problem = None

    def reason(self) -> str | None:
        """The problem and for how long writes have been failing, or ``None``."""
        if self.problem is None:
            return None
        return f"{self.problem}; failing for {time.monotonic() - self._since:.0f} s"


@bp.get("/health")
@openapi.definition(
    summary="Service health",
    description=(
        "Contacts no provider; reads the outbox counts. `status` is `degraded` (still 200), "
        "with each cause in `reasons`, when the last write to the outbox failed, the oldest "
        "unsent email has waited over 15 minutes or providers are cooling down."
    ),
    tag="operations",
)
async def health(request: Request) -> HTTPResponse:
    """Version, environment, provider chain and outbox depth; never a secret."""
    ctx = request.app.ctx
    stats = await ctx.store.stats()
    oldest = stats.oldest_unsent_age
    cooling = ctx.chain.cooldowns
    reasons = []
    if (failing := ctx.outbox_writes.reason()) is not None:
        reasons.append(failing)
    if oldest is not None and oldest > DEGRADED_AFTER_SECONDS:
        reasons.append(f"the oldest unsent email has waited {oldest / 60:.0f} minutes")
    if cooling:
        reasons.append(f"providers cooling down: {', '.join(sorted(cooling))}")
    return json(
        {
            "status": "degraded" if reasons else "ok",
            "reasons": reasons,
            "version": __version__,
            "environment": ctx.settings.app_env,
            "providers": ctx.chain.names,
            "cooling_down": {name: round(left, 1) for name, left in cooling.items()},
            "outbox": {
                "depth": stats.depth,
                "states": {str(state): count for state, count in stats.counts.items()},
                "oldest_unsent_seconds": round(oldest, 1) if oldest is not None else None,
            },
        }
    )

"""``GET /api/health``: is the service up, is mail going out, what is it configured to do."""

from __future__ import annotations

from sanic import Blueprint, HTTPResponse, Request, json
from sanic_ext import openapi

from service import __version__

__all__ = ["DEGRADED_AFTER_SECONDS", "bp"]

bp = Blueprint("health", url_prefix="/api")

DEGRADED_AFTER_SECONDS = 15 * 60
"""An email unsent for this long means mail is piling up: the status is ``degraded``."""


@bp.get("/health")
@openapi.definition(
    summary="Service health",
    description=(
        "Contacts no provider; reads the outbox counts. `status` is `degraded` (still 200) "
        "when the oldest unsent email has waited over 15 minutes or providers are cooling down."
    ),
    tag="operations",
)
async def health(request: Request) -> HTTPResponse:
    """Version, environment, provider chain and outbox depth; never a secret."""
    ctx = request.app.ctx
    stats = await ctx.store.stats()
    oldest = stats.oldest_unsent_age
    cooling = ctx.chain.cooldowns
    piling_up = oldest is not None and oldest > DEGRADED_AFTER_SECONDS
    return json(
        {
            "status": "degraded" if piling_up or cooling else "ok",
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

"""``GET /api/health``: is the service up, and what is it configured to do."""

from __future__ import annotations

from sanic import Blueprint, HTTPResponse, Request, json
from sanic_ext import openapi

from service import __version__

__all__ = ["bp"]

bp = Blueprint("health", url_prefix="/api")


@bp.get("/health")
@openapi.definition(
    summary="Service health",
    description="Answers without contacting any provider; safe to call often.",
    tag="operations",
)
async def health(request: Request) -> HTTPResponse:
    """The service's version, environment and provider chain; never a secret."""
    settings = request.app.ctx.settings
    return json(
        {
            "status": "ok",
            "version": __version__,
            "environment": settings.app_env,
            "providers": request.app.ctx.chain.names,
        }
    )

"""``GET /metrics``: Prometheus metrics (on unless ``METRICS_ENABLED=false``)."""

from __future__ import annotations

from sanic import Blueprint, HTTPResponse, Request, raw
from sanic_ext import openapi

from service.api.auth import check_bearer
from service.metrics import CONTENT_TYPE

__all__ = ["bp"]

bp = Blueprint("metrics")


@bp.get("/metrics")
@openapi.definition(
    summary="Prometheus metrics",
    description="Text exposition format. With `METRICS_TOKEN` set, send it as a bearer token.",
    tag="operations",
)
async def metrics(request: Request) -> HTTPResponse:
    """Every metric of the service, across worker processes."""
    denied = check_bearer(request, request.app.ctx.settings.metrics_token)
    if denied is not None:
        return denied
    return raw(await request.app.ctx.metrics.render(), content_type=CONTENT_TYPE)

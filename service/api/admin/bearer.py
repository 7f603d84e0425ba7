"""The guard of every ``/api/admin`` JSON route: the ``ADMIN_TOKEN`` bearer token."""

from __future__ import annotations

from sanic import HTTPResponse, Request
from sanic.exceptions import NotFound

from service.api.auth import check_bearer

__all__ = ["require_admin_token"]


async def require_admin_token(request: Request) -> HTTPResponse | None:
    """Every admin route: 401 without the bearer token, 403 with a wrong one."""
    token = request.app.ctx.settings.admin_token
    if token is None:
        # Fail closed should the blueprint ever be registered without a token.
        raise NotFound("Not found.")
    return check_bearer(request, token)

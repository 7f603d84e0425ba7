"""``/api/admin/suppressions``: addresses that get no confirmation any more.

A hard bounce or a spam complaint on a visitor's confirmation (reported by a
provider webhook) puts the address here; a later submission from it still
reaches the owner, with a note, but gets no confirmation. The list keeps a
hash and a masked form only, so it survives the retention purge.

* ``GET /api/admin/suppressions``: newest first, masked (``?limit=&offset=``).
* ``DELETE /api/admin/suppressions?email=...``: forget one address (it was
  fixed, or the complaint was a mistake): confirmations go to it again.

Same bearer token as the rest of ``/api/admin`` (registered with it).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, EmailStr
from sanic import Blueprint, HTTPResponse, Request, json
from sanic_ext import openapi

from service.api.admin.bearer import require_admin_token
from service.api.admin.openapi_docs import (
    AUTH_ERRORS,
    PAGE_PARAMETERS,
    SECURITY_SCHEME,
    error,
    json_schema,
)
from service.api.admin.queries import PageQuery, json_query, next_offset
from service.api.errors import error_response
from service.logs import mask_email

__all__ = ["bp"]

bp = Blueprint("suppressions", url_prefix="/api/admin")
bp.on_request(require_admin_token)


class SuppressionSummary(BaseModel):
    """One suppressed address, masked; never the address itself."""

    address: str
    reason: str
    provider: str | None
    detail: str | None
    created_at: datetime


class SuppressionsPage(BaseModel):
    """A page of suppressed addresses, newest first."""

    limit: int
    offset: int
    next_offset: int | None
    suppressions: list[SuppressionSummary]


class RemoveQuery(BaseModel):
    """``?email=``: the address to forget."""

    email: EmailStr


@bp.get("/suppressions")
@openapi.definition(
    summary="Suppressed visitor addresses",
    description="Addresses that hard-bounced or complained: no confirmation goes to them.",
    tag="admin",
    secured=SECURITY_SCHEME,
    parameter=list(PAGE_PARAMETERS),
    response=[
        openapi.definitions.Response(json_schema(SuppressionsPage), status=200),
        error(400, "A query parameter is invalid"),
        *AUTH_ERRORS,
    ],
)
async def suppressions(request: Request) -> HTTPResponse:
    """A page of the suppression list."""
    query = json_query(request, PageQuery)
    if isinstance(query, HTTPResponse):
        return query
    records = await request.app.ctx.store.list_suppressions(
        limit=query.limit + 1, offset=query.offset
    )
    page = SuppressionsPage(
        limit=query.limit,
        offset=query.offset,
        next_offset=next_offset(query, len(records)),
        suppressions=[
            SuppressionSummary(
                address=record.masked,
                reason=record.reason,
                provider=record.provider,
                detail=record.detail,
                created_at=record.created_at,
            )
            for record in records[: query.limit]
        ],
    )
    return json(page.model_dump(mode="json"))


@bp.delete("/suppressions")
@openapi.definition(
    summary="Remove an address from the suppression list",
    description="Confirmations go to the address again.",
    tag="admin",
    secured=SECURITY_SCHEME,
    parameter=openapi.definitions.Parameter(
        "email", str, required=True, description="The address to forget."
    ),
    response=[
        error(400, "`email` is missing or not an address"),
        *AUTH_ERRORS,
        error(404, "The address is not on the list"),
    ],
)
async def remove(request: Request) -> HTTPResponse:
    """Forget one address."""
    query = json_query(request, RemoveQuery)
    if isinstance(query, HTTPResponse):
        return query
    address = str(query.email)
    if not await request.app.ctx.store.remove_suppression(address):
        return error_response(request, 404, "This address is not on the suppression list.")
    return json({"success": True, "removed": mask_email(address)})

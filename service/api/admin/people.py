"""``DELETE /api/admin/people?email=...``: erase a person on request (GDPR article 17).

Everything stored about the address goes, irreversibly (:mod:`service.erasure`):
its submissions, their emails' bodies and addresses, delivery events,
idempotency records and the confirmation allowance counted for it. The
answer is counts; the log says an erasure happened, with the address masked.
Same bearer token as the rest of ``/api/admin``.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, EmailStr
from sanic import Blueprint, HTTPResponse, Request, json
from sanic_ext import openapi

from service.api.admin.bearer import require_admin_token
from service.api.admin.openapi_docs import AUTH_ERRORS, SECURITY_SCHEME, error, json_schema
from service.api.admin.queries import json_query
from service.api.admin.schemas import ErasureResponse
from service.erasure import erase_person

__all__ = ["bp"]

bp = Blueprint("admin_people", url_prefix="/api/admin")
bp.on_request(require_admin_token)


class PersonQuery(BaseModel):
    """``?email=``: whose data to erase."""

    model_config = ConfigDict(extra="forbid")

    email: EmailStr


@bp.delete("/people")
@openapi.definition(
    summary="Erase everything stored about a person",
    description=(
        "Deletes the submissions from this address, their emails (bodies, addresses, "
        "errors), delivery events and idempotency records, and its confirmation "
        "rate-limit counters. Irreversible; answers the counts (all 0 when nothing "
        "was stored)."
    ),
    tag="admin",
    secured=SECURITY_SCHEME,
    parameter=openapi.definitions.Parameter(
        "email", openapi.String(format="email"), required=True, description="The address."
    ),
    response=[
        openapi.definitions.Response(json_schema(ErasureResponse), status=200),
        error(400, "`email` is missing or not an address"),
        *AUTH_ERRORS,
    ],
)
async def erase(request: Request) -> HTTPResponse:
    """Erase one person's data and answer how much went."""
    query = json_query(request, PersonQuery)
    if isinstance(query, HTTPResponse):
        return query
    ctx = request.app.ctx
    report = await erase_person(ctx.store, str(query.email), confirmation=ctx.defences.confirmation)
    return json(ErasureResponse(**report.as_dict()).model_dump(mode="json"))

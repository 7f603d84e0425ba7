"""What every admin operation's OpenAPI entry repeats: the bearer scheme, errors, paging.

Response schemas come from the pydantic models, with nested models inlined
(see :func:`json_schema`).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from sanic_ext import openapi

from service.api.admin.queries import FORM_PATTERN, MAX_LIMIT, MAX_OFFSET, TEXT_PATTERN
from service.api.schemas import ErrorResponse
from service.outbox.inbox import INBOX_STATES

__all__ = [
    "AUTH_ERRORS",
    "FILTER_PARAMETERS",
    "PAGE_PARAMETERS",
    "SECURITY_SCHEME",
    "describe_security",
    "error",
    "json_schema",
]

SECURITY_SCHEME = "adminToken"


def describe_security(app: Any) -> None:
    """Declare the bearer scheme the admin operations name in the OpenAPI document."""
    app.ext.openapi.add_security_scheme(
        SECURITY_SCHEME,
        "http",
        scheme="bearer",
        description="`ADMIN_TOKEN`, sent as `Authorization: Bearer <token>`.",
    )


def json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """``model``'s JSON Schema with nested models inlined.

    Pydantic puts them under ``$defs`` with ``#/$defs/...`` references, which
    an OpenAPI document resolves from its own root, where they are not.
    """
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            reference = node.get("$ref", "")
            if reference.startswith("#/$defs/"):
                return inline(definitions[reference.removeprefix("#/$defs/")])
            return {key: inline(value) for key, value in node.items()}
        if isinstance(node, list):
            return [inline(item) for item in node]
        return node

    return {"application/json": inline(schema)}


def error(status: int, description: str) -> openapi.definitions.Response:
    """An error answer (the service's JSON error body) with ``status``."""
    return openapi.definitions.Response(
        json_schema(ErrorResponse), status=status, description=description
    )


AUTH_ERRORS = (
    error(401, "No bearer token"),
    error(403, "Wrong bearer token"),
)
PAGE_PARAMETERS = (
    openapi.definitions.Parameter(
        "limit",
        openapi.Integer(minimum=1, maximum=MAX_LIMIT, default=50),
        description="Page size.",
    ),
    openapi.definitions.Parameter(
        "offset",
        openapi.Integer(minimum=0, maximum=MAX_OFFSET, default=0),
        description="How many to skip; use the previous page's `next_offset`.",
    ),
)
FILTER_PARAMETERS = (
    openapi.definitions.Parameter(
        "form",
        openapi.String(pattern=FORM_PATTERN),
        description="Only submissions of this form.",
    ),
    openapi.definitions.Parameter(
        "q",
        openapi.String(maxLength=200, pattern=TEXT_PATTERN),
        description=(
            "Text to find in the name, email, company, message or the form's fields "
            "(case-insensitive, a plain substring)."
        ),
    ),
    openapi.definitions.Parameter(
        "since",
        openapi.Date(),
        description="Only submissions from this day on (UTC, `YYYY-MM-DD`).",
    ),
    openapi.definitions.Parameter(
        "until",
        openapi.Date(),
        description="Only submissions up to and including this day (UTC, `YYYY-MM-DD`).",
    ),
    openapi.definitions.Parameter(
        "state",
        openapi.String(enum=list(INBOX_STATES)),
        description=(
            "Only submissions with this delivery badge: spam (marked), dead (an email dead or "
            "rejected), bounced (reported by a provider), pending (still to send), delivered."
        ),
    ),
)

"""The admin listings' query strings: paging and filters, parsed once for the API and the pages.

:func:`parse_args` turns a request's query string into one of the models
(raising pydantic's ``ValidationError``); :func:`json_query` answers the
JSON API's 400 instead. A mistyped parameter is refused, never ignored.
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sanic import HTTPResponse, Request

from service.api.errors import error_response
from service.api.schemas import field_errors
from service.outbox import EmailState

__all__ = [
    "MAX_LIMIT",
    "MAX_OFFSET",
    "OutboxQuery",
    "PageQuery",
    "SubmissionsQuery",
    "json_query",
    "next_offset",
    "parse_args",
]

MAX_LIMIT = 200
# Beyond any real outbox, and within a 64-bit integer for every database.
MAX_OFFSET = 1_000_000_000


class PageQuery(BaseModel):
    """``?limit=&offset=``: which page of a newest-first listing."""

    # A mistyped parameter (``?stat=dead``) must not silently list everything.
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=50, ge=1, le=MAX_LIMIT)
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET)


class SubmissionsQuery(PageQuery):
    """``?form=&limit=&offset=``: a page of submissions, optionally of one form only."""

    form: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")


class OutboxQuery(PageQuery):
    """``?state=&limit=&offset=``: a page of emails, optionally in one state only."""

    state: EmailState | None = None


Query = TypeVar("Query", bound=BaseModel)


def parse_args(request: Request, model: type[Query]) -> Query:
    """The query string as ``model``; raises ``ValidationError`` naming each bad parameter."""
    # Blank values (``?state=``) are kept, and refused like any other bad value; a
    # repeated parameter stays a list, which no field accepts.
    args = request.get_args(keep_blank_values=True)
    fields = {key: values[0] if len(values) == 1 else values for key, values in args.items()}
    return model.model_validate(fields)


def json_query(request: Request, model: type[Query]) -> Query | HTTPResponse:
    """The query string as ``model``, or the JSON 400 answer naming each bad parameter."""
    try:
        return parse_args(request, model)
    except ValidationError as err:
        return error_response(request, 400, "Invalid query parameters.", field_errors(err))


def next_offset(query: PageQuery, fetched: int) -> int | None:
    """The next page's offset when ``fetched`` (a page plus one asked for) shows one exists."""
    # One row more than a page was asked for: its presence says there is a next page.
    return query.offset + query.limit if fetched > query.limit else None

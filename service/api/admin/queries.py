"""The admin listings' query strings: paging and filters, parsed once for the API and the pages.

:func:`parse_args` turns a request's query string into one of the models
(raising pydantic's ``ValidationError``); :func:`json_query` answers the
JSON API's 400 instead. A mistyped parameter is refused, never ignored.

Numbers are plain decimal digits and dates ``YYYY-MM-DD``: pydantic alone
would take ``0.0`` or a Unix timestamp, which no client means.
:meth:`SubmissionFilters.to_filter` gives the store's
:class:`~service.outbox.inbox.SubmissionFilter` (``until`` is the last day
included); the CSV export takes the same filters without the paging.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from sanic import HTTPResponse, Request

from service.api.errors import error_response
from service.api.schemas import field_errors
from service.outbox import EmailState
from service.outbox.inbox import SubmissionFilter

__all__ = [
    "FORM_PATTERN",
    "MAX_LIMIT",
    "MAX_OFFSET",
    "TEXT_PATTERN",
    "OutboxQuery",
    "PageQuery",
    "SubmissionFilters",
    "SubmissionsQuery",
    "json_query",
    "next_offset",
    "parse_args",
]

MAX_LIMIT = 200
# Beyond any real outbox, and within a 64-bit integer for every database.
MAX_OFFSET = 1_000_000_000


_DIGITS = re.compile(r"[0-9]{1,12}")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _digits(value: Any) -> Any:
    if isinstance(value, str) and not _DIGITS.fullmatch(value):
        raise ValueError("must be a whole number written in digits")
    return value


def _day(value: Any) -> Any:
    if isinstance(value, str) and not _DAY.fullmatch(value):
        raise ValueError("must be a date written YYYY-MM-DD")
    return value


Digits = Annotated[int, BeforeValidator(_digits)]
Day = Annotated[date, BeforeValidator(_day)]
# Text a person types: no control characters (PostgreSQL refuses NUL in text).
TEXT_PATTERN = r"^[^\u0000-\u001f\u007f]*$"
FORM_PATTERN = r"^[a-z0-9][a-z0-9-]{0,39}$"
InboxState = Literal["delivered", "pending", "bounced", "dead", "spam"]


class PageQuery(BaseModel):
    """``?limit=&offset=``: which page of a newest-first listing."""

    # A mistyped parameter (``?stat=dead``) must not silently list everything.
    model_config = ConfigDict(extra="forbid")

    limit: Digits = Field(default=50, ge=1, le=MAX_LIMIT)
    offset: Digits = Field(default=0, ge=0, le=MAX_OFFSET)


class SubmissionFilters(BaseModel):
    """``?form=&q=&since=&until=&state=``: which submissions a listing or an export shows.

    ``q`` searches name, email, company, message and the form's fields;
    ``since`` and ``until`` are days (UTC), both included; ``state`` a delivery badge.
    """

    model_config = ConfigDict(extra="forbid")

    form: str | None = Field(default=None, pattern=FORM_PATTERN)
    q: str | None = Field(default=None, max_length=200, pattern=TEXT_PATTERN)
    since: Day | None = None
    until: Day | None = None
    state: InboxState | None = None

    def to_filter(self) -> SubmissionFilter:
        """The store's filter: ``until`` becomes the start of the next day, exclusive."""
        return SubmissionFilter(
            form=self.form,
            search=self.q.strip() if self.q and self.q.strip() else None,
            since=_midnight(self.since) if self.since else None,
            # The last day there is has no next one: no upper bound then.
            until=_midnight(self.until + timedelta(days=1))
            if self.until and self.until < date.max
            else None,
            state=self.state,
        )


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


class SubmissionsQuery(PageQuery, SubmissionFilters):
    """A page of submissions, filtered (:class:`SubmissionFilters`)."""


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

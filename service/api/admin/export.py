"""The submissions as CSV, streamed: used by ``GET /api/admin/submissions.csv`` and the inbox page.

* UTF-8 with a byte-order mark, so Excel reads the accents right.
* One column per declared field across every form (``FORMS_FILE``), after the
  common ones; a form without that field leaves its cell empty.
* A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
  return gets a ``'`` in front (CSV formula injection, OWASP): a spreadsheet
  then shows the text instead of running it.
* Rows are read from the store in batches and sent as they come
  (:meth:`~service.outbox.inbox.InboxRecords.iter_submissions`), so memory
  stays flat whatever the number of leads.

:func:`send_csv` is the whole answer for a request; :func:`csv_chunks` the
text, for callers that send it some other way.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from sanic import HTTPResponse, Request

if TYPE_CHECKING:
    from service.forms import Form
    from service.outbox.inbox import InboxEntry, SubmissionFilter

__all__ = [
    "BATCH",
    "COMMON_COLUMNS",
    "csv_chunks",
    "field_columns",
    "neutralise",
    "send_csv",
]

BATCH = 500
"""Submissions read per query and sent per chunk."""

BOM = "\ufeff"
COMMON_COLUMNS = (
    "id",
    "created_at",
    "form",
    "state",
    "name",
    "email",
    "company",
    "message",
    "locale",
)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> str:
    """``value`` as a CSV cell a spreadsheet will not run as a formula."""
    if value is None:
        return ""
    text = ("yes" if value else "no") if isinstance(value, bool) else str(value)
    return f"'{text}" if text.startswith(_FORMULA_STARTS) else text


def field_columns(forms: Iterable[Form]) -> list[str]:
    """The declared fields' names across ``forms``, each once, in the forms' order."""
    names: dict[str, None] = {}
    for form in forms:
        for spec in form.declared:
            names.setdefault(spec.name, None)
    return [name for name in names if name not in COMMON_COLUMNS]


def _row(entry: InboxEntry, fields: list[str]) -> list[str]:
    record = entry.submission
    common = {
        "id": record.id,
        "created_at": record.created_at.isoformat(),
        "form": record.form,
        "state": entry.state,
        "name": record.name,
        "email": record.email,
        "company": record.company,
        "message": record.message,
        "locale": record.locale,
    }
    values = record.fields or {}
    return [neutralise(common[column]) for column in COMMON_COLUMNS] + [
        neutralise(values.get(name)) for name in fields
    ]


def _lines(rows: Iterable[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue()


async def csv_chunks(
    batches: AsyncIterator[list[InboxEntry]], fields: list[str]
) -> AsyncIterator[str]:
    """The BOM and header row, then one chunk of CSV text per batch of submissions."""
    yield BOM + _lines([[neutralise(name) for name in (*COMMON_COLUMNS, *fields)]])
    async for batch in batches:
        yield _lines(_row(entry, fields) for entry in batch)


async def send_csv(
    request: Request, wanted: SubmissionFilter, *, filename: str = "submissions.csv"
) -> HTTPResponse:
    """Stream the submissions ``wanted`` selects as the answer to ``request``.

    Reads ``request.app.ctx.store`` and ``request.app.ctx.forms``; the answer
    is ``text/csv`` as an attachment, never cached.
    """
    forms: Mapping[str, Form] = request.app.ctx.forms
    fields = field_columns(forms.values())
    response = await request.respond(
        content_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )
    batches = request.app.ctx.store.iter_submissions(wanted, batch=BATCH)
    async for chunk in csv_chunks(batches, fields):
        await response.send(chunk.encode("utf-8"))
    await response.eof()
    return response

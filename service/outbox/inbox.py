"""The leads inbox's reads and writes: search, export, spam marks and erasure of a person.

Mixed into :class:`~service.outbox.store.Store` like
:class:`~service.outbox.delivery.DeliveryRecords`; the SQL runs on SQLite and
PostgreSQL alike (the dialect names its case-insensitive ``LIKE`` and how a
JSON column reads as text).

* :meth:`InboxRecords.search_submissions`: a page of :class:`InboxEntry`,
  newest first, matching a :class:`SubmissionFilter`.
* :meth:`InboxRecords.iter_submissions`: every match, in batches read one
  transaction each (keyset paging), so an export never holds the whole result.
* :meth:`InboxRecords.mark_spam`: records the mark on the submission; its
  unsent confirmation becomes ``rejected`` with :data:`SPAM_SKIPPED`, so the
  worker never sends it (and it cannot be re-queued while the mark stands).
* :meth:`InboxRecords.erase_person`: deletes every submission from an address
  with its emails (bodies and addresses), their events and idempotency records.

A submission's delivery *badge* (:data:`INBOX_STATES`) is computed in SQL,
strongest first: ``spam`` (marked), ``dead`` (an email dead or rejected),
``bounced`` (a provider reported a bounce or complaint), ``pending`` (an email
still to send), else ``delivered``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from service.outbox.rows import SUBMISSION_COLUMNS, submission_record

if TYPE_CHECKING:
    from service.outbox.models import SubmissionRecord
    from service.outbox.transaction import Row, Transaction

__all__ = [
    "INBOX_STATES",
    "SPAM_SKIPPED",
    "Erasure",
    "InboxEntry",
    "InboxRecords",
    "SubmissionFilter",
]

INBOX_STATES: tuple[str, ...] = ("delivered", "pending", "bounced", "dead", "spam")
"""A submission's delivery badges (see the module doc for how each is decided)."""

SPAM_SKIPPED = "Not sent: the submission was marked as spam."
"""The ``last_error`` of a confirmation the spam mark stopped."""

_BADGE = """CASE
  WHEN s.spam_at IS NOT NULL THEN 'spam'
  WHEN EXISTS (SELECT 1 FROM emails AS e WHERE e.submission_id = s.id
               AND e.state IN ('dead', 'rejected')) THEN 'dead'
  WHEN EXISTS (SELECT 1 FROM emails AS e WHERE e.submission_id = s.id
               AND e.delivery IN ('bounced', 'complained')) THEN 'bounced'
  WHEN EXISTS (SELECT 1 FROM emails AS e WHERE e.submission_id = s.id
               AND e.state IN ('pending', 'retrying', 'sending')) THEN 'pending'
  ELSE 'delivered' END"""

# The submission's columns (service.outbox.rows), qualified: the badge's subqueries read emails.
_COLUMNS = ", ".join(f"s.{column.strip()}" for column in SUBMISSION_COLUMNS.split(","))


@dataclass(frozen=True, slots=True)
class SubmissionFilter:
    """Which submissions a listing or an export shows; every part optional.

    ``search`` matches name, email, company, message and the form's fields,
    case-insensitively, as a plain substring (``%`` and ``_`` are literal).
    ``since`` is inclusive, ``until`` exclusive; ``state`` is one of
    :data:`INBOX_STATES`.
    """

    form: str | None = None
    search: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    state: str | None = None

    def __post_init__(self) -> None:
        if self.state is not None and self.state not in INBOX_STATES:
            raise ValueError(f"unknown inbox state {self.state!r}")


@dataclass(frozen=True, slots=True)
class InboxEntry:
    """One submission as the inbox lists it: the record and its delivery badge."""

    submission: SubmissionRecord
    state: str

    @property
    def first_line(self) -> str:
        """The message's first non-blank line ("" when purged or empty)."""
        for line in (self.submission.message or "").splitlines():
            if line.strip():
                return line.strip()
        return ""


@dataclass(frozen=True, slots=True)
class Erasure:
    """What :meth:`InboxRecords.erase_person` deleted: counts only."""

    submissions: int
    emails: int
    events: int
    idempotency_keys: int


def _like(text: str) -> str:
    """``text`` as a LIKE pattern matching it anywhere, its wildcards made literal."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class InboxRecords:
    """The inbox's queries, mixed into the store (uses its ``_run``, ``_fetch`` and ``clock``)."""

    #: The dialect's case-insensitive LIKE, what folds case on both sides of it (SQLite's
    #: LIKE folds ASCII only), and how its JSON column reads as text.
    ilike: ClassVar[str] = "LIKE"
    fold: ClassVar[str] = "{}"
    json_text: ClassVar[str] = "{column}"
    #: Statements run before an erasure's deletes (SQLite overwrites freed pages).
    erase_prelude: ClassVar[tuple[str, ...]] = ()

    clock: Callable[[], datetime]
    _run: Callable[..., Awaitable[Any]]
    _fetch: Callable[..., Awaitable[list[Row]]]

    def _where(self, wanted: SubmissionFilter, args: list[Any]) -> str:
        """The WHERE clause for ``wanted``, appending its values to ``args`` ($n numbering)."""
        clauses: list[str] = []

        def arg(value: Any) -> str:
            args.append(value)
            return f"${len(args)}"

        if wanted.form is not None:
            clauses.append(f"s.form = {arg(wanted.form)}")
        if wanted.since is not None:
            clauses.append(f"s.created_at >= {arg(wanted.since)}")
        if wanted.until is not None:
            clauses.append(f"s.created_at < {arg(wanted.until)}")
        if wanted.state is not None:
            clauses.append(f"({_BADGE}) = {arg(wanted.state)}")
        if wanted.search:
            pattern = arg(_like(wanted.search))
            columns = ["s.name", "s.email", "s.company", "s.message"]
            columns.append(self.json_text.format(column="s.fields"))
            folded = self.fold.format(pattern)
            matches = [f"{self.fold.format(c)} {self.ilike} {folded} ESCAPE '\\'" for c in columns]
            clauses.append("(" + " OR ".join(matches) + ")")
        return ("WHERE " + " AND ".join(clauses)) if clauses else ""

    async def search_submissions(
        self, wanted: SubmissionFilter, *, limit: int = 50, offset: int = 0
    ) -> list[InboxEntry]:
        """A page of the submissions ``wanted`` selects, newest first, with their badges."""
        args: list[Any] = []
        where = self._where(wanted, args)
        args += [limit, offset]
        rows = await self._fetch(
            f"SELECT {_COLUMNS}, {_BADGE} AS badge FROM submissions AS s {where}"  # noqa: S608 - placeholders only
            f" ORDER BY s.created_at DESC, s.id LIMIT ${len(args) - 1} OFFSET ${len(args)}",
            *args,
        )
        return [InboxEntry(submission_record(row), row["badge"]) for row in rows]

    async def iter_submissions(
        self, wanted: SubmissionFilter, *, batch: int = 500
    ) -> AsyncIterator[list[InboxEntry]]:
        """Every submission ``wanted`` selects, newest first, ``batch`` at a time.

        Keyset paging on (time, id): each batch is its own short read, so rows
        added meanwhile neither repeat nor shift the ones still to come.
        """
        after: tuple[datetime, str] | None = None
        while True:
            args: list[Any] = []
            where = self._where(wanted, args)
            if after is not None:
                args += [after[0], after[1]]
                keyset = (
                    f"(s.created_at < ${len(args) - 1}"
                    f" OR (s.created_at = ${len(args) - 1} AND s.id > ${len(args)}))"
                )
                where = f"{where} AND {keyset}" if where else f"WHERE {keyset}"
            args.append(batch)
            rows = await self._fetch(
                f"SELECT {_COLUMNS}, {_BADGE} AS badge FROM submissions AS s {where}"  # noqa: S608 - placeholders only
                f" ORDER BY s.created_at DESC, s.id LIMIT ${len(args)}",
                *args,
            )
            if not rows:
                return
            entries = [InboxEntry(submission_record(row), row["badge"]) for row in rows]
            yield entries
            if len(rows) < batch:
                return
            last = entries[-1].submission
            after = (last.created_at, last.id)

    async def mark_spam(self, submission_id: str, spam: bool = True) -> SubmissionRecord | None:
        """Mark (or unmark) a submission as spam; ``None`` when there is no such submission.

        Marking stops its unsent confirmation in the same transaction (``rejected``,
        :data:`SPAM_SKIPPED`); unmarking lets the operator re-queue it.
        """
        now = self.clock()

        async def mark(tx: Transaction) -> list[Row]:
            await tx.execute(
                "UPDATE submissions SET spam_at = $2 WHERE id = $1",
                submission_id,
                now if spam else None,
            )
            if spam:
                await tx.execute(
                    "UPDATE emails SET state = 'rejected', last_error = $2, updated_at = $3,"
                    " next_attempt_at = NULL, lease_until = NULL"
                    " WHERE submission_id = $1 AND kind = 'confirmation'"
                    " AND state IN ('pending', 'retrying')",
                    submission_id,
                    SPAM_SKIPPED,
                    now,
                )
            return await tx.fetch(
                f"SELECT {_COLUMNS} FROM submissions AS s WHERE s.id = $1",  # noqa: S608 - constant
                submission_id,
            )

        rows = await self._run(mark, write=True)
        return submission_record(rows[0]) if rows else None

    async def erase_person(self, address: str) -> Erasure:
        """Delete everything stored about ``address`` (compared case-insensitively).

        Its submissions, their emails (bodies, recipients, errors), the emails'
        delivery events and the idempotency records pointing at them, in one
        transaction. The suppression list (a hash and a masked form) is left:
        it is what keeps mail away from an address that complained.
        """
        key = address.strip().lower()

        async def erase(tx: Transaction) -> Erasure:
            for statement in self.erase_prelude:
                await tx.execute(statement)
            mine = "SELECT id FROM submissions WHERE lower(email) = $1"
            keys = await tx.execute(
                f"DELETE FROM idempotency_keys WHERE submission_id IN ({mine})",  # noqa: S608
                key,
            )
            events = await tx.execute(
                "DELETE FROM email_events WHERE email_id IN ("  # noqa: S608 - constant
                f" SELECT id FROM emails WHERE submission_id IN ({mine}))",
                key,
            )
            emails = await tx.execute(
                f"DELETE FROM emails WHERE submission_id IN ({mine})",  # noqa: S608
                key,
            )
            submissions = await tx.execute("DELETE FROM submissions WHERE lower(email) = $1", key)
            return Erasure(submissions, emails, events, keys)

        return await self._run(erase, write=True)

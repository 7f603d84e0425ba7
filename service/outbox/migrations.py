"""Numbered schema migrations, shared by SQLite and PostgreSQL.

Statements use three placeholders, ``{ts}``, ``{json}`` and ``{blob}``, that
each dialect fills with its column types (SQLite: ``REAL`` Unix seconds,
``TEXT`` and ``BLOB``; PostgreSQL: ``TIMESTAMPTZ``, ``JSONB`` and ``BYTEA``).
Add a migration by appending one with the next number; never edit one that has shipped.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MIGRATIONS", "SCHEMA_VERSION_TABLE", "Migration"]

SCHEMA_VERSION_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_version ("
    " version INTEGER PRIMARY KEY,"
    " name TEXT NOT NULL,"
    " applied_at {ts} NOT NULL)"
)


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema change, applied once, in order, inside a transaction."""

    version: int
    name: str
    statements: tuple[str, ...]

    def render(self, *, ts: str, json: str, blob: str) -> list[str]:
        """The statements with this dialect's column types."""
        return [statement.format(ts=ts, json=json, blob=blob) for statement in self.statements]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "submissions, emails and idempotency keys",
        (
            """
            CREATE TABLE submissions (
                id TEXT PRIMARY KEY,
                created_at {ts} NOT NULL,
                name TEXT,
                email TEXT,
                company TEXT,
                message TEXT,
                extra {json},
                purged_at {ts}
            )
            """,
            """
            CREATE TABLE emails (
                id TEXT PRIMARY KEY,
                submission_id TEXT NOT NULL REFERENCES submissions (id) ON DELETE CASCADE,
                kind TEXT NOT NULL,
                seq INTEGER NOT NULL,
                message_id TEXT NOT NULL,
                payload {json},
                state TEXT NOT NULL CHECK (state IN
                    ('pending', 'sending', 'retrying', 'sent', 'rejected', 'dead')),
                attempts INTEGER NOT NULL DEFAULT 0,
                next_attempt_at {ts},
                lease_until {ts},
                claimed_by TEXT,
                provider TEXT,
                provider_message_id TEXT,
                last_error TEXT,
                queued_at {ts} NOT NULL,
                created_at {ts} NOT NULL,
                updated_at {ts} NOT NULL,
                sent_at {ts},
                purged_at {ts},
                UNIQUE (submission_id, seq)
            )
            """,
            # The claim query scans only unsent rows; sent ones pile up forever.
            """
            CREATE INDEX emails_due ON emails (next_attempt_at)
                WHERE state IN ('pending', 'retrying', 'sending')
            """,
            "CREATE INDEX emails_state ON emails (state, created_at)",
            "CREATE INDEX emails_sent_at ON emails (sent_at) WHERE payload IS NOT NULL",
            "CREATE INDEX submissions_created_at ON submissions (created_at)",
            """
            CREATE TABLE idempotency_keys (
                key TEXT PRIMARY KEY,
                request_hash TEXT NOT NULL,
                submission_id TEXT NOT NULL REFERENCES submissions (id) ON DELETE CASCADE,
                response {json},
                created_at {ts} NOT NULL
            )
            """,
            "CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at)",
        ),
    ),
    Migration(
        2,
        "forms: a submission's form, its declared fields and its consent records",
        (
            # Rows stored before forms existed came through the one form there was.
            "ALTER TABLE submissions ADD COLUMN form TEXT NOT NULL DEFAULT 'contact'",
            # ``extra`` was kept for further form fields and never written: it is them.
            "ALTER TABLE submissions RENAME COLUMN extra TO fields",
            "ALTER TABLE submissions ADD COLUMN consent {json}",
            "CREATE INDEX submissions_form ON submissions (form, created_at)",
        ),
    ),
    # Delivery events from provider webhooks (service.outbox.delivery): each email's
    # ``delivery`` and its last events, deduplicated by (provider, event_id); the
    # suppression list keeps a hash and a masked address, so the purge leaves it.
    Migration(
        3,
        "delivery events and suppressions",
        (
            "ALTER TABLE emails ADD COLUMN delivery TEXT",
            """
            CREATE INDEX emails_provider_message ON emails (provider_message_id)
                WHERE provider_message_id IS NOT NULL
            """,
            "CREATE INDEX emails_message_id ON emails (message_id)",
            """
            CREATE TABLE email_events (
                provider TEXT NOT NULL,
                event_id TEXT NOT NULL,
                email_id TEXT NOT NULL REFERENCES emails (id) ON DELETE CASCADE,
                event TEXT NOT NULL,
                bounce TEXT,
                reason TEXT,
                occurred_at {ts} NOT NULL,
                received_at {ts} NOT NULL,
                PRIMARY KEY (provider, event_id)
            )
            """,
            "CREATE INDEX email_events_email ON email_events (email_id, received_at)",
            "CREATE INDEX email_events_received ON email_events (received_at)",
            """
            CREATE TABLE suppressions (
                address_hash TEXT PRIMARY KEY,
                masked TEXT NOT NULL,
                reason TEXT NOT NULL,
                provider TEXT,
                detail TEXT,
                created_at {ts} NOT NULL
            )
            """,
        ),
    ),
    # Bodies are compressed against a dictionary (service.outbox.packing): ``body``
    # replaces ``payload`` for new emails, ``payload`` stays readable for older
    # ones. "Not purged" is now ``purged_at IS NULL``, whichever column holds it.
    Migration(
        4,
        "compressed email bodies",
        (
            "ALTER TABLE emails ADD COLUMN body {blob}",
            "ALTER TABLE emails ADD COLUMN dictionary_id TEXT",
            """
            CREATE TABLE email_dictionaries (
                id TEXT PRIMARY KEY,
                data {blob} NOT NULL,
                created_at {ts} NOT NULL
            )
            """,
            "DROP INDEX emails_sent_at",
            "CREATE INDEX emails_unpurged ON emails (sent_at) WHERE purged_at IS NULL",
        ),
    ),
    Migration(
        5,
        "the visitor's language on each submission",
        # NULL for submissions stored before: their language was not recorded.
        ("ALTER TABLE submissions ADD COLUMN locale TEXT",),
    ),
    # The leads inbox (service.outbox.inbox): when an operator marked a submission as spam.
    Migration(
        6,
        "spam marks on submissions",
        ("ALTER TABLE submissions ADD COLUMN spam_at {ts}",),
    ),
    # Signed-out admin sessions (service.outbox.sessions), shared by every worker and replica.
    Migration(
        7,
        "ended admin sessions",
        (
            """
            CREATE TABLE admin_sessions_ended (
                id_hash TEXT PRIMARY KEY,
                until {ts} NOT NULL
            )
            """,
        ),
    ),
    # Emails stored to be rendered when a worker claims them (service.outbox.recipes):
    # ``recipe`` holds what must not change by then; the worker writes ``body`` and
    # empties ``recipe``. Emails stored before have a body and no recipe.
    Migration(
        8,
        "emails rendered when claimed",
        ("ALTER TABLE emails ADD COLUMN recipe {json}",),
    ),
)
"""Every migration, in version order."""

"""What the operator does to a lead, shared by the JSON API and the pages.

Each takes the app's context (``request.app.ctx``), so a page and an API
route do exactly the same thing. Erasing a person is :mod:`service.erasure`'s
(the command line does it too).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from service.outbox import SubmissionRecord

__all__ = ["mark_spam"]


async def mark_spam(ctx: Any, submission_id: str, *, spam: bool) -> SubmissionRecord | None:
    """Mark (or unmark) a submission as spam and count it; ``None`` if there is no such one.

    Marking stops its unsent confirmation (see :mod:`service.outbox.inbox`).
    """
    record = await ctx.store.mark_spam(submission_id, spam)
    if record is not None:
        ctx.metrics.spam_mark(record.form, spam=spam)
    return record

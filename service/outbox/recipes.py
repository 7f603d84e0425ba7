"""Emails stored to be rendered when a worker claims them: what is fixed at submission.

Rendering both emails of a submission (Jinja, gettext, Babel's dates, packing
20 kB of HTML) was about 60 % of the answer's CPU. So the API stores the
submission and, for each email, a *recipe*; the worker that claims the email
renders it (:mod:`service.outbox.rendering`) and stores the packed body, which
every later attempt, re-queue and resend sends as it is.

The recipe fixes what the time of rendering must not change: the Date (when
the submission was accepted), the form as it was (title, whether it asks for a
company, and who is notified: the form's recipients, else the settings' then),
the declared fields' labels and types in the form's order, whether the
visitor's address was suppressed, and the request's trace context. The
Message-ID has its own column, and whether a confirmation is sent is whether
its row exists. The visitor's own data stays in the submission's row only, the
one place that is purged and erased; the recipe holds the operator's
configuration and is emptied once the email is rendered.

A recipe is a few hundred bytes of JSON; it is the same for both emails of a
submission (the kind and Message-ID are columns).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from service.i18n import SOURCE_LOCALE
from service.submission import Answer, FormInfo, Submission

if TYPE_CHECKING:
    from service.outbox.models import SubmissionRecord

__all__ = [
    "RECIPE_VERSION",
    "EmailRecipe",
    "recipe_of",
    "submission_from",
    "suppressed",
    "trace_of",
]

RECIPE_VERSION = 1
"""Written into every recipe, so that a later layout can still read this one."""


@dataclass(frozen=True, slots=True)
class EmailRecipe:
    """One email of a submission, stored to be rendered when it is claimed.

    ``recipe`` is what :func:`recipe_of` made of the submission; ``message_id``
    is fixed now, so a duplicate delivery is recognisable whenever it is rendered.
    """

    kind: str
    message_id: str
    recipe: Mapping[str, Any] = field(default_factory=dict)
    #: Sent to the visitor (the confirmation): not stored when their address is suppressed.
    to_visitor: bool = False


def recipe_of(
    submission: Submission,
    *,
    recipients: tuple[str, ...],
    trace: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """What rendering ``submission``'s emails later needs beyond its stored row.

    ``recipients``: who the notification goes to, decided now (the form's, else
    the settings'); ``trace``: the request's W3C trace context, if traced.
    """
    form = submission.form
    return {
        "v": RECIPE_VERSION,
        "date": submission.created_at.isoformat(),
        "form": {
            "title": form.title,
            "company": form.company,
            "recipients": list(recipients),
        },
        "answers": [[answer.name, answer.label, answer.type] for answer in submission.answers],
        "visitor_suppressed": submission.visitor_suppressed,
        "trace": dict(trace or {}),
    }


def suppressed(recipe: Mapping[str, Any]) -> dict[str, Any]:
    """``recipe`` for a visitor whose address is on the suppression list (the owner is told)."""
    return {**recipe, "visitor_suppressed": True}


def submission_from(record: SubmissionRecord, recipe: Mapping[str, Any]) -> Submission:
    """The submission as the API accepted it: its stored row and its emails' recipe.

    Raises :class:`ValueError` when the row's personal data is gone (purged or
    erased) or the recipe is not one this version reads.
    """
    if recipe.get("v") != RECIPE_VERSION:
        raise ValueError(f"unknown recipe version {recipe.get('v')!r}")
    if record.name is None or record.email is None:
        raise ValueError("the submission's personal data was purged or erased")
    form = recipe["form"]
    values = record.fields or {}
    return Submission(
        id=record.id,
        name=record.name,
        email=record.email,
        message=record.message,
        # Stored as "" when not given.
        company=record.company or None,
        form=FormInfo(
            id=record.form,
            title=form["title"],
            recipients=tuple(form["recipients"]),
            company=form["company"],
        ),
        answers=tuple(
            Answer(name, label, kind, values[name])
            for name, label, kind in recipe["answers"]
            if name in values
        ),
        created_at=datetime.fromisoformat(recipe["date"]),
        visitor_suppressed=recipe["visitor_suppressed"],
        locale=record.locale or SOURCE_LOCALE,
    )


def trace_of(recipe: Mapping[str, Any]) -> dict[str, str]:
    """The trace context the recipe carries (empty when the request was not traced)."""
    return dict(recipe.get("trace") or {})

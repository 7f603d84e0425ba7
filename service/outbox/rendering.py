"""Render an email stored as a recipe when a worker claims it, and keep what was rendered.

The worker hands each claim stored as a recipe (:mod:`service.outbox.recipes`)
to :class:`ClaimRenderer` before sending it: the email is composed from the
stored submission and its recipe with this process's settings, templates and
renderer, the packed body is written back in place of the recipe (so the email
is rendered once: every later attempt, re-queue and resend sends it as it
is), and the attempt goes on with the email just rendered. For a confirmation,
the same write looks its recipient up in the suppression list, which the worker
checks before sending (:attr:`~service.outbox.models.Rendered.suppressed`).

A template that cannot be rendered raises :class:`RenderFailed`, which the
worker records like a failed send (retried, then ``dead``): the submission
and the email's recipe stay, so a fixed template and a re-queue send it.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING

from service.emails.compose import COMPOSERS
from service.outbox.models import Rendered
from service.outbox.recipes import submission_from, trace_of

if TYPE_CHECKING:
    from service.config import Settings
    from service.emails.renderer import EmailRenderer
    from service.message import OutgoingEmail
    from service.outbox.models import ClaimedEmail, Unrendered
    from service.outbox.store import Store

__all__ = ["ClaimRenderer", "RenderFailed"]

logger = logging.getLogger("service.outbox")


class RenderFailed(Exception):
    """An email could not be rendered from its recipe; the message says why (no personal data).

    ``kind`` names the exception for the logs, which get no template text.
    """

    def __init__(self, message: str, *, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


class ClaimRenderer:
    """Renders claimed emails stored as recipes, with one process's settings and templates."""

    def __init__(self, store: Store, settings: Settings, renderer: EmailRenderer) -> None:
        self.store = store
        self.settings = settings
        self.renderer = renderer

    async def __call__(self, claim: ClaimedEmail) -> ClaimedEmail:
        """``claim`` with its email rendered, the packed body stored for the next attempts."""
        if claim.unrendered is None:
            return claim
        email = self.compose(claim, claim.unrendered)
        try:
            kept = await self.store.keep_rendered(
                claim, email, check_suppressed=claim.kind == "confirmation"
            )
        except Exception as err:
            # The email is rendered: send it. A later attempt renders it again, alike.
            logger.warning(
                "outbox: could not store the rendered body of email=%s (%s); sending anyway",
                claim.id,
                type(err).__name__,
            )
            return replace(claim, stored=Rendered(email))
        if not kept.kept:
            logger.warning("outbox: lease lost before email=%s was rendered", claim.id)
        return replace(claim, stored=Rendered(email, suppressed=kept.suppressed))

    def compose(self, claim: ClaimedEmail, unrendered: Unrendered) -> OutgoingEmail:
        """The email the recipe describes, with the Message-ID and trace fixed at submission."""
        try:
            submission = submission_from(unrendered.submission, unrendered.recipe)
            compose = COMPOSERS[claim.kind]
            email = compose(submission, self.settings, self.renderer)
        except Exception as err:
            raise RenderFailed(
                f"could not render the {claim.kind}: {type(err).__name__}: {err}",
                kind=type(err).__name__,
            ) from err
        return replace(email, message_id=claim.message_id, trace=trace_of(unrendered.recipe))

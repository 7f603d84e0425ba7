"""Email rendering: MJML compiled once, Jinja per email, hand-written text parts."""

from __future__ import annotations

from service.emails.compose import (
    Submission,
    check_templates,
    compose_confirmation,
    compose_notification,
    sample_submission,
)
from service.emails.renderer import EmailRenderer, RenderedEmail, TemplateError

__all__ = [
    "EmailRenderer",
    "RenderedEmail",
    "Submission",
    "TemplateError",
    "check_templates",
    "compose_confirmation",
    "compose_notification",
    "sample_submission",
]

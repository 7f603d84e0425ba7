"""The one place where abuse events are counted.

Today an event is a log line at INFO; a metrics counter belongs in
:func:`count` too, so that every defence reports through the same call. Only
the event's name and a short reason are recorded: never the submission's
content, its address or a captcha token.
"""

from __future__ import annotations

import logging
from typing import Literal

__all__ = ["AbuseEvent", "count"]

logger = logging.getLogger("service.abuse")

AbuseEvent = Literal[
    "honeypot",
    "rate_limited",
    "captcha_rejected",
    "captcha_unavailable",
    "confirmation_skipped",
]


def count(event: AbuseEvent, reason: str = "") -> None:
    """Record one ``event``; ``reason`` is a fixed word or code, never user input."""
    if reason:
        logger.info("abuse: %s (%s)", event, reason)
    else:
        logger.info("abuse: %s", event)

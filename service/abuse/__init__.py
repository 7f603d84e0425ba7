"""Defences of the public contact form: honeypot, rate limits, captcha, confirmation policy.

The handler calls :func:`enforce_rate_limit` first and :func:`screen` once the
fields are valid; :func:`~service.abuse.events.count` is where every defence
reports what it caught.
"""

from __future__ import annotations

from service.abuse.captcha import CaptchaRejected
from service.abuse.ratelimit import RateLimited
from service.abuse.screen import Defences, Verdict, enforce_rate_limit, screen

__all__ = [
    "CaptchaRejected",
    "Defences",
    "RateLimited",
    "Verdict",
    "enforce_rate_limit",
    "screen",
]

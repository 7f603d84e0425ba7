"""The honeypot: a form field hidden from people, which only bots fill in."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["honeypot_tripped"]


def honeypot_tripped(fields: Mapping[str, Any], name: str) -> bool:
    """True when the hidden field ``name`` arrived with content.

    Absent, ``null``, ``false`` or blank is a person (a JSON client may send the
    empty field along); any text, number, list or object is a bot.
    """
    value = fields.get(name)
    if value is None or value is False:
        return False
    if isinstance(value, str):
        return bool(value.strip())
    return True

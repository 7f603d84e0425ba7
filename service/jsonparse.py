"""JSON from outside (request bodies, provider answers, later webhooks), parsed with a depth bound.

The standard library's parser recurses once per nesting level: a kilobyte of
``[`` raises :class:`RecursionError`, which no ``except ValueError`` catches,
so a visitor could turn any JSON endpoint into a 500 and a traceback. orjson
parses iteratively up to its own limit of 1024 levels and raises a
``ValueError`` beyond it; :func:`parse_json` then refuses anything deeper than
:data:`MAX_DEPTH`, so no later code that walks the value recursively can fail
on it either. orjson is also stricter than the standard library in ways that
only refuse what is not JSON (``NaN``, lone surrogates, invalid UTF-8).
"""

from __future__ import annotations

from typing import Any

import orjson

__all__ = ["MAX_DEPTH", "JsonError", "JsonTooDeep", "parse_json"]

MAX_DEPTH = 32
"""Arrays and objects nested deeper than this are refused; forms are flat, webhooks a few deep."""


class JsonError(ValueError):
    """The text is not JSON."""


class JsonTooDeep(JsonError):
    """The text is JSON nested deeper than allowed."""


def parse_json(data: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """The value ``data`` holds; raises :class:`JsonError` when it is malformed or too deep."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as err:
        # orjson's own bound (1024 levels); any other wording of it still reads as not JSON.
        if str(err).startswith("depth limit"):
            raise JsonTooDeep(f"nested more than {max_depth} levels deep") from None
        raise JsonError("not valid JSON") from None
    if _deeper_than(value, max_depth):
        raise JsonTooDeep(f"nested more than {max_depth} levels deep")
    return value


def _deeper_than(value: Any, limit: int) -> bool:
    """True when arrays and objects in ``value`` nest more than ``limit`` levels (no recursion)."""
    pending = [(value, 1)] if isinstance(value, dict | list) else []
    while pending:
        item, depth = pending.pop()
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        pending.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False

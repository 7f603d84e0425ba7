"""The provider column of ``check`` and ``send-test`` output, as the tests expect it."""

from __future__ import annotations

from service.providers.registry import PROVIDER_NAMES

__all__ = ["named"]

# The column is as wide as the longest provider name, plus one space, then one more.
_WIDTH = max(len(name) for name in PROVIDER_NAMES) + 1


def named(provider: str, rest: str) -> str:
    """``provider`` padded to the column, then ``rest`` (``"ok   ..."`` or ``"FAIL ..."``)."""
    return f"{provider:<{_WIDTH}} {rest}"

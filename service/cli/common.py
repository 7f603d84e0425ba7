"""What ``check`` and ``send-test`` share: which providers to use, and how a result reads."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from service.providers.registry import PROVIDER_NAMES

if TYPE_CHECKING:
    from service.config import Settings
    from service.providers.errors import SendError

__all__ = ["PROVIDER_NAMES", "fail_line", "ok_line", "selected_providers"]

# Wide enough for every provider name, so the columns line up.
_NAME_WIDTH = max(len(name) for name in PROVIDER_NAMES) + 1


def selected_providers(settings: Settings, names: Sequence[str] | None) -> list[str]:
    """``names`` in order without repeats, each with its credentials set; else the chain.

    Any registered provider may be named, not only those in ``EMAIL_PROVIDERS``:
    an operator tests a provider before putting it in the chain. Raises
    :class:`~service.config.ConfigError` naming the first missing credential.
    """
    if not names:
        return list(settings.providers)
    chosen = list(dict.fromkeys(names))
    for name in chosen:
        settings.require_credentials(name)
    return chosen


def ok_line(provider: str, detail: str) -> str:
    """``smtp      ok   login accepted by ...``"""
    return f"{provider:<{_NAME_WIDTH}} ok   {detail}"


def fail_line(provider: str, error: SendError) -> str:
    """``resend    FAIL unavailable [401]: ...``; the error's own text, which holds no secret."""
    return f"{provider:<{_NAME_WIDTH}} FAIL {str(error).removeprefix(f'{error.provider}: ')}"

"""What several setting groups share: comma lists, blank-is-unset, token length checks."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import SecretStr
from pydantic_settings import NoDecode

__all__ = ["CommaList", "blank_is_none", "check_length", "split_commas"]

# Read as "a, b,c" from the environment, not as JSON.
CommaList = Annotated[list[str], NoDecode]


def split_commas(value: Any) -> Any:
    """``"a, b,,c"`` as ``["a", "b", "c"]``; anything else (a list, ``None``) as it is."""
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


def blank_is_none(value: Any) -> Any:
    """An empty variable (``CAPTCHA_PROVIDER=``) means "not set", as in a shell."""
    if isinstance(value, str) and not value.strip():
        return None
    return value


def check_length(value: SecretStr | None, minimum: int) -> SecretStr | None:
    """``value`` when unset or at least ``minimum`` characters; else a ``ValueError``."""
    if value is not None and len(value.get_secret_value()) < minimum:
        raise ValueError(f"must be at least {minimum} characters")
    return value

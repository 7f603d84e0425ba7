"""Logging configuration: Sanic's own, extended to the ``service`` loggers."""

from __future__ import annotations

import re
from typing import Any

from sanic.log import LOGGING_CONFIG_DEFAULTS

__all__ = ["logging_config", "mask_address", "mask_addresses"]

_ADDRESS = re.compile(r"([^\s<>\"'@,;:()\[\]]+)@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")


def logging_config(level: str = "INFO") -> dict[str, Any]:
    """A ``dictConfig`` for Sanic that prints our ``service.*`` loggers like its own."""
    # Only the logger table is changed; the handlers hold streams, which cannot be copied.
    config = {**LOGGING_CONFIG_DEFAULTS, "loggers": dict(LOGGING_CONFIG_DEFAULTS["loggers"])}
    # Propagation stays on so that test tools listening on the root logger see our records;
    # in production the root logger has no handler, so nothing is printed twice.
    config["loggers"]["service"] = {"level": level, "handlers": ["console"], "propagate": True}
    return config


def mask_address(address: str) -> str:
    """``alice@example.org`` -> ``a***@example.org``: enough to recognise, not to harvest."""
    local, _, domain = address.rpartition("@")
    return f"{local[:1]}***@{domain}" if local else address


def mask_addresses(text: str) -> str:
    """Every email address in ``text``, masked with :func:`mask_address`."""
    return _ADDRESS.sub(lambda match: f"{match.group(1)[:1]}***@{match.group(2)}", text)

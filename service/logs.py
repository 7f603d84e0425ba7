"""Logging configuration: Sanic's own, extended to the ``service`` loggers."""

from __future__ import annotations

from typing import Any

from sanic.log import LOGGING_CONFIG_DEFAULTS

__all__ = ["logging_config"]


def logging_config(level: str = "INFO") -> dict[str, Any]:
    """A ``dictConfig`` for Sanic that prints our ``service.*`` loggers like its own."""
    # Only the logger table is changed; the handlers hold streams, which cannot be copied.
    config = {**LOGGING_CONFIG_DEFAULTS, "loggers": dict(LOGGING_CONFIG_DEFAULTS["loggers"])}
    # Propagation stays on so that test tools listening on the root logger see our records;
    # in production the root logger has no handler, so nothing is printed twice.
    config["loggers"]["service"] = {"level": level, "handlers": ["console"], "propagate": True}
    return config

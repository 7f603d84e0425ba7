"""The shared HTTP client for the HTTP API providers."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from service.config import Settings

__all__ = ["make_http_client"]


def make_http_client(settings: Settings) -> httpx.AsyncClient:
    """One client per worker, with explicit timeouts (``HTTP_TIMEOUT``)."""
    return httpx.AsyncClient(timeout=httpx.Timeout(settings.http_timeout))

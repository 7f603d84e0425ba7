"""The HTTP surface: one blueprint per concern."""

from __future__ import annotations

from service.api import contact, health, pages, preview
from service.api.errors import JsonErrorHandler

__all__ = ["BLUEPRINTS", "DEVELOPMENT_BLUEPRINTS", "JsonErrorHandler"]

BLUEPRINTS = (contact.bp, health.bp, pages.bp)

# Tools for template authors; they do not exist in production.
DEVELOPMENT_BLUEPRINTS = (preview.bp,)

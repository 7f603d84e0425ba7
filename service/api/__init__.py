"""The HTTP surface: one blueprint per concern."""

from __future__ import annotations

from service.api import contact, health, pages
from service.api.errors import JsonErrorHandler

__all__ = ["BLUEPRINTS", "JsonErrorHandler"]

BLUEPRINTS = (contact.bp, health.bp, pages.bp)

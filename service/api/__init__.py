"""The HTTP surface: one blueprint per concern."""

from __future__ import annotations

from service.api import contact, health, pages
from service.api.errors import JsonErrorHandler

__all__ = ["BLUEPRINTS", "JsonErrorHandler"]

# Every app serves these. The preview studio (service.api.preview, development
# only) and the admin API (with ADMIN_TOKEN) are added, and imported, by the factory.
BLUEPRINTS = (contact.bp, health.bp, pages.bp)

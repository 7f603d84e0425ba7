"""The HTTP surface: one blueprint per concern, put together by :func:`service.app.create_app`.

This package imports none of its modules itself: :mod:`service.forms` reads
the field rules in :mod:`service.api.schemas` without loading the endpoints
that use the forms.
"""

from __future__ import annotations

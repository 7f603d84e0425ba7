"""Contact-form mail service: validate a submission, store it, deliver two emails."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"

"""The settings, one small model per concern; :class:`service.config.Settings` joins them.

Each group holds its fields (one environment variable each, named after the
field), their defaults, documentation and checks; a check that spans groups
stays in ``Settings``. ``Settings`` inherits every group, so code reads
``settings.smtp_host``-style flat attributes whichever group declares them.
The README's configuration table has one part per group.

pydantic keeps one validator per name across a model's bases, so each group
names its validators after its own fields: a shared name would silently replace
another group's check (a test holds them apart).
"""

from __future__ import annotations

from service.settings.abuse import AbuseSettings
from service.settings.delivery import DeliverySettings, OutboxSettings, RetentionSettings
from service.settings.email import EmailSettings, LanguageSettings
from service.settings.operations import ObservabilitySettings, SecretSettings
from service.settings.server import AdminSettings, FormSettings, ServerSettings, WebhookSettings

__all__ = [
    "AbuseSettings",
    "AdminSettings",
    "DeliverySettings",
    "EmailSettings",
    "FormSettings",
    "LanguageSettings",
    "ObservabilitySettings",
    "OutboxSettings",
    "RetentionSettings",
    "SecretSettings",
    "ServerSettings",
    "WebhookSettings",
]

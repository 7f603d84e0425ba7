"""Getting an email out: the provider chain and its retries, the outbox, retention."""

from __future__ import annotations

from typing import Any, Self

from pydantic import BaseModel, Field, field_validator, model_validator

from service.providers.base import ProviderSettings
from service.providers.catalog import PROVIDERS, ProviderGroups
from service.settings.common import CommaList, split_commas
from service.settings_groups import SettingError

__all__ = ["DeliverySettings", "OutboxSettings", "RetentionSettings"]


class DeliverySettings(BaseModel):
    """The ordered provider chain, each provider's own group, retries and failover."""

    email_providers: CommaList = Field(default_factory=list)
    # One typed group each, as declared in service/providers/catalog/.
    provider_settings: ProviderGroups = Field(default_factory=ProviderGroups)  # type: ignore[valid-type]
    http_timeout: float = Field(default=10.0, gt=0, le=300)
    retry_attempts: int = Field(default=3, ge=1, le=20)
    retry_max_seconds: float = Field(default=20.0, gt=0, le=600)
    provider_cooldown_seconds: float = Field(default=60.0, ge=0, le=86400)

    @field_validator("email_providers", mode="before")
    @classmethod
    def _providers_comma_separated(cls, value: Any) -> Any:
        return split_commas(value)

    @field_validator("email_providers")
    @classmethod
    def _known_providers(cls, value: list[str]) -> list[str]:
        names = [name.lower() for name in value]
        unknown = [name for name in names if name not in PROVIDERS]
        if unknown:
            valid = ", ".join(PROVIDERS)
            raise ValueError(f"unknown provider {unknown[0]!r}; valid names: {valid}")
        if len(set(names)) != len(names):
            raise ValueError("a provider is listed twice")
        return names

    @model_validator(mode="after")
    def _credentials_present(self) -> Self:
        for name in self.providers:
            missing = self.missing_credential(name)
            if missing is not None:
                raise SettingError(missing, f"required by the {name!r} provider")
        return self

    @property
    def providers(self) -> list[str]:
        """The ordered provider chain; ``file`` when development leaves it empty."""
        return self.email_providers or ["file"]

    def provider_group(self, provider: str) -> ProviderSettings:
        """The settings group ``provider`` declared (``provider_settings.<name>``)."""
        return getattr(self.provider_settings, provider)

    def missing_credential(self, provider: str) -> str | None:
        """The variable of the first setting ``provider`` cannot work without that is unset."""
        return self.provider_group(provider).missing_credential()


class OutboxSettings(BaseModel):
    """Where accepted emails wait, and how workers take them out."""

    database_url: str = "sqlite:///var/outbox.db"
    outbox_lease_seconds: float = Field(default=60.0, ge=5, le=3600)
    outbox_concurrency: int = Field(default=16, ge=1, le=256)
    delivery_worker: bool = True

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        if not value.startswith(("sqlite:///", "postgresql://", "postgres://")):
            raise ValueError("must start with sqlite:/// or postgresql://")
        return value


class RetentionSettings(BaseModel):
    """How long an email is tried, and how long personal data is kept after."""

    outbox_max_age_hours: float = Field(default=72.0, gt=0)
    outbox_retention_days: float = Field(default=30.0, gt=0)

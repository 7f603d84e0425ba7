"""Running the service: logs, metrics and tracing, and where secrets come from."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AnyHttpUrl, BaseModel, SecretStr, field_validator

from service.settings.common import check_length

__all__ = ["MIN_TOKEN_LENGTH", "ObservabilitySettings", "SecretSettings"]

# A bearer token shorter than this is guessable; `openssl rand -hex 16` makes a good one.
MIN_TOKEN_LENGTH = 16


class ObservabilitySettings(BaseModel):
    """Logs, Prometheus metrics and OpenTelemetry spans.

    ``LOG_FORMAT`` unset follows ``APP_ENV``, another group: ``Settings`` fills it in.
    """

    log_format: Literal["text", "json"] | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    metrics_enabled: bool = True
    metrics_token: SecretStr | None = None
    otel_exporter_otlp_endpoint: AnyHttpUrl | None = None
    otel_exporter_otlp_protocol: Literal["http/protobuf", "grpc"] = "http/protobuf"
    applicationinsights_connection_string: SecretStr | None = None

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_case_level(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("metrics_token")
    @classmethod
    def _metrics_token_long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        return check_length(value, MIN_TOKEN_LENGTH)

    @property
    def tracing_enabled(self) -> bool:
        """True when spans have somewhere to go: an OTLP endpoint or Application Insights."""
        return bool(self.otel_exporter_otlp_endpoint or self.applicationinsights_connection_string)


class SecretSettings(BaseModel):
    """Where secrets come from besides the environment: an Azure Key Vault.

    (``<NAME>_FILE`` needs no setting: :mod:`service.secret_sources` reads it.)
    """

    azure_key_vault_url: AnyHttpUrl | None = None

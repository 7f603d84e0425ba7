"""The ``acs`` provider's declaration; implemented by :mod:`service.providers.acs`.

Two ways in: ``ACS_CONNECTION_STRING`` (``endpoint=https://...;accesskey=...``,
as the Azure portal shows it under "Keys"), which signs each request with the
access key; or ``ACS_ENDPOINT`` alone, which gets a Microsoft Entra token from
the managed identity (azure-identity's ``DefaultAzureCredential``, the same
identity story as Key Vault). ``ACS_ENDPOINT`` also overrides the connection
string's endpoint, so tests can point the provider at a local server.
"""

from __future__ import annotations

import base64
import binascii
from typing import NamedTuple
from urllib.parse import urlsplit

from pydantic import AnyHttpUrl, SecretStr, field_validator

from service.providers.base import ProviderSettings

__all__ = ["AcsSettings", "ConnectionString", "parse_connection_string"]


class ConnectionString(NamedTuple):
    """The parts of an ACS connection string that are used."""

    endpoint: str
    access_key: str


def parse_connection_string(value: str) -> ConnectionString:
    """``endpoint=https://...;accesskey=...`` (any order, keys in any case), checked.

    Raises :class:`ValueError` without quoting the value (it holds the key).
    """
    parts: dict[str, str] = {}
    for item in value.strip().split(";"):
        if item.strip():
            key, sep, part = item.partition("=")
            if not sep:
                raise ValueError("must be endpoint=https://...;accesskey=... (a ';' list)")
            parts[key.strip().lower()] = part.strip()
    endpoint, access_key = parts.get("endpoint", ""), parts.get("accesskey", "")
    url = urlsplit(endpoint)
    if url.scheme not in ("https", "http") or not url.netloc:
        raise ValueError("has no endpoint=https://<resource>.communication.azure.com")
    try:
        if not base64.b64decode(access_key, validate=True):
            raise ValueError
    except (binascii.Error, ValueError):
        raise ValueError("has no accesskey=<base64 key> (copy it from the portal's Keys)") from None
    return ConnectionString(f"{url.scheme}://{url.netloc}", access_key)


class AcsSettings(ProviderSettings):
    """``ACS_CONNECTION_STRING`` or ``ACS_ENDPOINT`` (managed identity); ``ACS_WEBHOOK_TOKEN``."""

    name = "acs"
    implementation = "service.providers.acs:AcsProvider"
    webhook = "service.providers.acs_webhook:AcsWebhook"
    webhook_secret = "webhook_token"  # noqa: S105 - the field's name

    connection_string: SecretStr | None = None
    #: ``ACS_WEBHOOK_TOKEN``: the ``token`` query argument of the Event Grid subscription's URL.
    webhook_token: SecretStr | None = None
    endpoint: AnyHttpUrl | None = None

    @field_validator("endpoint", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("connection_string")
    @classmethod
    def _connection_string(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value().strip():
            parse_connection_string(value.get_secret_value())
        return value

    def missing_credential(self) -> str | None:
        # Either one: the access key, or the endpoint for a managed identity.
        if self.endpoint is None and not self.secret("connection_string").strip():
            return self.variable("connection_string")
        return None

    def parsed(self) -> ConnectionString | None:
        """The connection string's endpoint and access key, or ``None`` without one."""
        value = self.secret("connection_string")
        return parse_connection_string(value) if value.strip() else None

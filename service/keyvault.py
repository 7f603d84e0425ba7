"""Secrets from Azure Key Vault, read once at startup when ``AZURE_KEY_VAULT_URL`` is set.

Each secret setting is looked up under its name in upper case with ``-`` for
``_`` (``EMAIL_PASSWORD`` is the vault secret ``EMAIL-PASSWORD``), since vault
names allow only letters, digits and dashes. A secret the vault does not hold
falls back to the environment; any other failure (the vault unreachable, the
identity not allowed to read it) stops startup. The identity is azure-identity's
``DefaultAzureCredential``: a managed identity on Azure, ``az login`` on a laptop.

This module imports azure (the ``azure`` extra); it is imported only when the
variable is set.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from service.secret_sources import SecretSourceError

__all__ = ["SecretReader", "read_vault_secrets", "vault_secret_name"]

VARIABLE = "AZURE_KEY_VAULT_URL"

# Startup should fail in seconds, not after azure-core's default ten retries.
STARTUP_RETRIES = 2


class SecretReader(Protocol):
    """What is used of azure-keyvault-secrets' ``SecretClient``."""

    def get_secret(self, name: str) -> Any:
        """The latest version of secret ``name``, with its ``value``."""
        ...


def vault_secret_name(field: str) -> str:
    """The vault secret holding setting ``field``: ``email_password`` -> ``EMAIL-PASSWORD``."""
    return field.upper().replace("_", "-")


def _one_line(err: BaseException) -> str:
    # azure-identity explains a failed credential chain over many lines; the first says what failed.
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return lines[0][:300] if lines else type(err).__name__


def read_vault_secrets(
    url: str, fields: Sequence[str], *, client: SecretReader | None = None
) -> dict[str, str]:
    """The values the vault at ``url`` holds for ``fields``, by field name.

    ``client`` replaces the ``SecretClient`` built with ``DefaultAzureCredential``.
    Raises :class:`SecretSourceError` naming ``AZURE_KEY_VAULT_URL`` when the
    azure extra is missing or the vault cannot be read.
    """
    try:
        from azure.core.exceptions import AzureError, ResourceNotFoundError
    except ImportError as err:
        raise SecretSourceError(
            f"{VARIABLE}: needs the azure extra: pip install 'contact-mailer[azure]'"
        ) from err

    def read(reader: SecretReader) -> dict[str, str]:
        values: dict[str, str] = {}
        for field in fields:
            name = vault_secret_name(field)
            try:
                secret = reader.get_secret(name)
            except ResourceNotFoundError:
                continue
            except (AzureError, ValueError) as err:
                raise SecretSourceError(
                    f"{VARIABLE}: cannot read secret {name} from {url}: {_one_line(err)}"
                ) from err
            if secret.value is not None:
                values[field] = secret.value
        return values

    if client is not None:
        return read(client)

    from azure.identity import DefaultAzureCredential
    from azure.keyvault.secrets import SecretClient

    with (
        DefaultAzureCredential() as credential,
        SecretClient(url, credential, retry_total=STARTUP_RETRIES) as secret_client,
    ):
        return read(secret_client)

"""Secrets from Azure Key Vault: the real SDK client, with a stand-in for the vault's REST API.

The ``SecretClient`` under test is azure-keyvault-secrets' own, sending through
azure-core's ``RequestsTransport`` and a real ``requests.Session``; only the
session's adapter is replaced, by :class:`KeyVaultStub`, which answers as the
Key Vault REST API does: a ``401`` challenge to a request without a token,
``GET /secrets/{name}/`` with the secret bundle, ``404 SecretNotFound``, and
``403 Forbidden`` for an identity without the *get* permission.
"""

from __future__ import annotations

import io
import json
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

pytest.importorskip("azure.keyvault.secrets")
pytest.importorskip("azure.identity")

import requests
import urllib3
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError
from azure.core.pipeline.transport import RequestsTransport
from azure.keyvault.secrets import SecretClient
from requests.structures import CaseInsensitiveDict

from service.config import ConfigError, Settings, load_settings
from service.keyvault import read_vault_secrets, vault_secret_name
from service.secret_sources import secret_variables
from tests.process import free_port, run_command

VAULT_URL = "https://contact-mailer.vault.azure.net"
TENANT = "00000000-0000-0000-0000-0000000000aa"
TOKEN = "stub-access-token"
CHALLENGE = (
    f'Bearer authorization="https://login.microsoftonline.com/{TENANT}", '
    'resource="https://vault.azure.net"'
)


class KeyVaultStub(requests.adapters.BaseAdapter):
    """Answers like ``https://{vault}.vault.azure.net``; records what it was asked."""

    def __init__(self, secrets: dict[str, str], *, denied: bool = False) -> None:
        super().__init__()
        self.secrets = secrets
        self.denied = denied
        self.requests: list[requests.PreparedRequest] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        self.requests.append(request)
        url = urlsplit(request.url or "")
        assert url.scheme == "https"
        assert "api-version" in parse_qs(url.query)
        if "Authorization" not in request.headers:
            return self._answer(
                request,
                401,
                {
                    "error": {
                        "code": "Unauthorized",
                        "message": "AKV10000: Request is missing a Bearer or PoP token.",
                    }
                },
                {"WWW-Authenticate": CHALLENGE},
            )
        assert request.headers["Authorization"] == f"Bearer {TOKEN}"
        parts = url.path.strip("/").split("/")
        assert request.method == "GET"
        assert parts[0] == "secrets", request.url
        name = parts[1]
        if self.denied:
            message = (
                "The user, group or application 'appid=1111;oid=2222' does not have secrets get "
                "permission on key vault 'contact-mailer;location=westeurope'."
            )
            return self._answer(request, 403, {"error": {"code": "Forbidden", "message": message}})
        if name not in self.secrets:
            message = f"A secret with (name/id) {name} was not found in this key vault."
            return self._answer(
                request, 404, {"error": {"code": "SecretNotFound", "message": message}}
            )
        version = "4387e9f3d6e14c459867679a90fd0f79"
        return self._answer(
            request,
            200,
            {
                "value": self.secrets[name],
                "id": f"{VAULT_URL}/secrets/{name}/{version}",
                "attributes": {
                    "enabled": True,
                    "created": 1700000000,
                    "updated": 1700000000,
                    "recoveryLevel": "Recoverable+Purgeable",
                },
            },
        )

    @staticmethod
    def _answer(
        request: requests.PreparedRequest,
        status: int,
        body: dict[str, Any],
        headers: dict[str, str] | None = None,
    ) -> requests.Response:
        content = json.dumps(body).encode()
        all_headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Content-Length": str(len(content)),
            **(headers or {}),
        }
        response = requests.Response()
        response.status_code = status
        response.headers = CaseInsensitiveDict(all_headers)
        response.raw = urllib3.HTTPResponse(
            body=io.BytesIO(content), headers=all_headers, status=status, preload_content=False
        )
        response.encoding = "utf-8"
        response.url = request.url or ""
        response.request = request
        return response

    def close(self) -> None:
        pass


class StubCredential:
    """Stands in for Microsoft Entra ID: hands out a token, or fails as a credential does."""

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.scopes: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.scopes.append(scopes)
        if self.error is not None:
            raise self.error
        return AccessToken(TOKEN, int(time.time()) + 3600)


def vault_client(
    stub: KeyVaultStub | requests.adapters.BaseAdapter, credential: StubCredential | None = None
) -> SecretClient:
    session = requests.Session()
    session.mount("https://", stub)
    return SecretClient(
        VAULT_URL,
        credential or StubCredential(),
        transport=RequestsTransport(session=session, session_owner=False),
        retry_total=0,
    )


def test_vault_secret_names_use_dashes() -> None:
    assert vault_secret_name("email_password") == "EMAIL-PASSWORD"
    assert vault_secret_name("applicationinsights_connection_string") == (
        "APPLICATIONINSIGHTS-CONNECTION-STRING"
    )


def test_vault_secrets_win_and_missing_ones_fall_back_to_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EMAIL_PROVIDERS", "smtp,resend")
    monkeypatch.setenv("EMAIL_ADDRESS", "me@gmail.com")
    monkeypatch.setenv("EMAIL_PASSWORD", "from-env")
    monkeypatch.setenv("RESEND_API_KEY", "re_from_env")
    stub = KeyVaultStub({"EMAIL-PASSWORD": "abcd efgh ijkl mnop", "MAILGUN-API-KEY": "key-mg"})
    credential = StubCredential()

    settings = load_settings(
        azure_key_vault_url=VAULT_URL, vault_client=vault_client(stub, credential)
    )

    assert (
        settings.provider_settings.smtp.password.get_secret_value() == "abcdefghijklmnop"
    )  # validated as usual
    assert settings.provider_settings.resend.api_key.get_secret_value() == "re_from_env"
    assert settings.provider_settings.mailgun.api_key.get_secret_value() == "key-mg"
    asked = [urlsplit(r.url).path for r in stub.requests if "Authorization" in r.headers]
    assert asked == [f"/secrets/{vault_secret_name(f)}/" for f in secret_variables(Settings)]
    assert credential.scopes[0] == ("https://vault.azure.net/.default",)


def test_vault_completes_a_production_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_KEY_VAULT_URL", VAULT_URL)
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("EMAIL_PROVIDERS", "postmark")
    monkeypatch.setenv("EMAIL_FROM", "owner@example.com")
    stub = KeyVaultStub({"POSTMARK-SERVER-TOKEN": "pm-token"})
    settings = load_settings(vault_client=vault_client(stub))
    assert settings.provider_settings.postmark.server_token.get_secret_value() == "pm-token"


# The vault is read secret by secret; the first one asked for is the one that fails.
FIRST_SECRET = vault_secret_name(secret_variables(Settings)[0])


def test_a_denied_vault_stops_startup_with_one_line() -> None:
    client = vault_client(KeyVaultStub({}, denied=True))
    with pytest.raises(ConfigError) as caught:
        load_settings(azure_key_vault_url=VAULT_URL, vault_client=client)
    message = str(caught.value)
    assert message.startswith(
        f"AZURE_KEY_VAULT_URL: cannot read secret {FIRST_SECRET} from {VAULT_URL}/: "
    )
    assert "does not have secrets get permission" in message
    assert "\n" not in message


def test_a_credential_failure_stops_startup_with_one_line() -> None:
    error = ClientAuthenticationError(
        "DefaultAzureCredential failed to retrieve a token from the included credentials.\n"
        "Attempted credentials:\n\tEnvironmentCredential: not configured"
    )
    client = vault_client(KeyVaultStub({}), StubCredential(error))
    with pytest.raises(ConfigError) as caught:
        load_settings(azure_key_vault_url=VAULT_URL, vault_client=client)
    assert str(caught.value) == (
        f"AZURE_KEY_VAULT_URL: cannot read secret {FIRST_SECRET} from {VAULT_URL}/: "
        "DefaultAzureCredential failed to retrieve a token from the included credentials."
    )


class Unreachable(requests.adapters.BaseAdapter):
    """A vault whose address does not answer."""

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        raise requests.ConnectionError("[Errno 111] Connection refused")

    def close(self) -> None:
        pass


def test_an_unreachable_vault_stops_startup_with_one_line() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(azure_key_vault_url=VAULT_URL, vault_client=vault_client(Unreachable()))
    message = str(caught.value)
    assert message.startswith(f"AZURE_KEY_VAULT_URL: cannot read secret {FIRST_SECRET} from ")
    assert "Connection refused" in message


def test_an_invalid_vault_url_names_the_variable() -> None:
    with pytest.raises(ConfigError, match=r"^AZURE_KEY_VAULT_URL: Input should be a valid URL"):
        load_settings(azure_key_vault_url="not a url")


def test_without_the_azure_packages_the_error_says_which_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "azure.core.exceptions", None)
    with pytest.raises(ConfigError, match=r"^AZURE_KEY_VAULT_URL: needs the azure extra"):
        load_settings(azure_key_vault_url=VAULT_URL)


def test_read_vault_secrets_skips_values_the_vault_does_not_hold() -> None:
    stub = KeyVaultStub({"RESEND-API-KEY": "re_1"})
    values = read_vault_secrets(
        VAULT_URL, ["resend_api_key", "sendgrid_api_key"], client=vault_client(stub)
    )
    assert values == {"resend_api_key": "re_1"}


@pytest.mark.slow
def test_python_m_service_stops_with_one_line_when_the_vault_does_not_answer(
    tmp_path: Path,
) -> None:
    """The production path: DefaultAzureCredential and the SDK's own transport."""
    result = run_command(tmp_path, {"AZURE_KEY_VAULT_URL": f"https://127.0.0.1:{free_port()}"})
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("service: cannot start: AZURE_KEY_VAULT_URL: cannot read secret ")

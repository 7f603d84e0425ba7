"""The declarations are the one list of providers: registry, settings, secret sources, README.

Each check runs over every module in ``service/providers/catalog/``, so a new
provider is held to all of them without touching this file.
"""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from service.config import ConfigError, Settings, load_settings
from service.providers.base import Provider, ProviderSettings
from service.providers.catalog import PROVIDERS, declaration_in
from service.providers.registry import PROVIDER_NAMES, build_providers, provider_class
from service.secret_sources import secret_variables
from service.settings_groups import value_of, variables
from tests.provider_doubles import FAKE_SECRETS, make_http_settings, provider_variables

README = Path(__file__).resolve().parents[2] / "README.md"
NAMES = list(PROVIDERS)


def declared_variables(name: str) -> set[str]:
    declaration = PROVIDERS[name]
    return {declaration.variable(field) for field in declaration.model_fields}


def readme_rows() -> list[list[str]]:
    """The rows of the README's provider table: provider, variable, default, what it does."""
    text = README.read_text(encoding="utf-8")
    section = text.split("### Providers' settings", 1)[1].split("\n#", 1)[0]
    rows = [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in section.splitlines()
        if line.startswith("| `")
    ]
    assert rows, "the README has no provider table"
    return [[cell.strip("`") if i < 2 else cell for i, cell in enumerate(row)] for row in rows]


def test_the_registry_builds_every_declared_provider() -> None:
    assert list(PROVIDER_NAMES) == NAMES == sorted(NAMES)
    for name in NAMES:
        implementation = provider_class(name)
        assert issubclass(implementation, Provider)
        assert implementation.declaration is PROVIDERS[name]
        assert implementation.name == name


async def test_every_name_email_providers_accepts_builds_without_a_key_error(
    tmp_path: Path,
) -> None:
    settings = make_http_settings(
        email_providers=",".join(NAMES), email_file_dir=tmp_path, app_env="production"
    )
    async with httpx.AsyncClient() as client:
        providers = build_providers(settings, http_client=client)
    assert [provider.name for provider in providers] == NAMES


def test_settings_hold_each_providers_declared_variables() -> None:
    grouped: dict[str, set[str]] = {}
    for variable in variables(Settings).values():
        if variable.path[0] == "provider_settings":
            grouped.setdefault(variable.path[1], set()).add(variable.name)
    assert grouped == {name: declared_variables(name) for name in NAMES}


@pytest.mark.parametrize("name", NAMES)
def test_each_variable_reaches_its_group(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    values = provider_variables(name)
    for key, value in values.items():
        # An optional setting left unset (None) is written as an empty variable: also unset.
        monkeypatch.setenv(key.upper(), "" if value is None else str(value))
    settings = load_settings(email_providers=name)
    group = settings.provider_group(name)
    assert isinstance(group, PROVIDERS[name])
    for key, value in values.items():
        shown = value_of(settings, key)
        shown = shown.get_secret_value() if isinstance(shown, SecretStr) else shown
        assert str(shown).rstrip("/") == str(value).rstrip("/"), key


@pytest.mark.parametrize("name", NAMES)
def test_declared_credentials_and_webhook_secret_are_fields(name: str) -> None:
    declaration = PROVIDERS[name]
    assert set(declaration.credentials) <= set(declaration.model_fields)
    if declaration.webhook_secret is not None:
        assert declaration.webhook_secret in declaration.secret_fields()


def test_every_provider_secret_comes_from_a_file_and_from_the_vault(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("azure.core", reason="the azure extra is not installed")
    keys = [key for name in NAMES for key in provider_variables(name) if key in FAKE_SECRETS]
    assert set(keys) == set(FAKE_SECRETS) <= set(secret_variables(Settings))
    half = len(keys) // 2
    for key in keys[:half]:
        path = tmp_path / key
        path.write_text(f"{FAKE_SECRETS[key]}-file\n")
        monkeypatch.setenv(f"{key.upper()}_FILE", str(path))
    vault = FakeVault({key.upper().replace("_", "-"): f"{FAKE_SECRETS[key]}-vault" for key in keys})

    settings = load_settings(azure_key_vault_url="https://v.vault.azure.net", vault_client=vault)

    for key in keys:
        # Vault values win over the environment, files included.
        assert value_of(settings, key).get_secret_value() == f"{FAKE_SECRETS[key]}-vault"
    assert set(vault.asked) >= {key.upper().replace("_", "-") for key in keys}
    vault.values.clear()
    settings = load_settings(azure_key_vault_url="https://v.vault.azure.net", vault_client=vault)
    for key in keys[:half]:
        assert value_of(settings, key).get_secret_value() == f"{FAKE_SECRETS[key]}-file"


class FakeVault:
    """The one method of ``SecretClient`` the vault reader uses, over a dict."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self.asked: list[str] = []

    def get_secret(self, name: str) -> Any:
        from azure.core.exceptions import ResourceNotFoundError

        self.asked.append(name)
        if name not in self.values:
            raise ResourceNotFoundError(f"{name} not found")
        return types.SimpleNamespace(value=self.values[name])


def test_the_readme_table_names_each_provider_with_its_variables() -> None:
    rows = readme_rows()
    shown: dict[str, set[str]] = {}
    for provider, variable, *_ in rows:
        shown.setdefault(provider, set()).add(variable)
    assert shown == {name: declared_variables(name) for name in NAMES}
    assert len(rows) == sum(len(declared_variables(name)) for name in NAMES), "a row is repeated"


@pytest.mark.parametrize("row", readme_rows(), ids=lambda row: row[1])
def test_each_readme_row_says_its_default_and_whether_required_or_secret(row: list[str]) -> None:
    provider, variable, default, what = row
    declaration = PROVIDERS[provider]
    field = next(f for f in declaration.model_fields if declaration.variable(f) == variable)
    assert ("Secret." in what) == (field in declaration.secret_fields())
    assert ("Required" in what) == (field in declaration.credentials)
    declared = declaration.model_fields[field].get_default(call_default_factory=True)
    if declared is None:
        assert default == "—"
    elif isinstance(declared, bool):
        assert default == f"`{str(declared).lower()}`"
    elif isinstance(declared, int | float):
        assert float(default.strip("`")) == declared
    else:
        assert default.strip("`").removeprefix("./").rstrip("/") == str(declared).rstrip("/")


def test_a_declared_webhook_secret_is_read_like_any_secret() -> None:
    class Hooked(ProviderSettings):
        name = "hooked"
        implementation = "nowhere:Nothing"
        webhook_secret = "signing_key"

        signing_key: SecretStr | None = None

    assert Hooked.variable("signing_key") == "HOOKED_SIGNING_KEY"
    assert Hooked().webhook_key() is None
    assert Hooked(signing_key=SecretStr("")).webhook_key() is None
    key = Hooked(signing_key=SecretStr("whsec_1")).webhook_key()
    assert key is not None
    assert key.get_secret_value() == "whsec_1"
    assert Hooked(signing_key=SecretStr("whsec_1")).secret_values() == ("whsec_1",)
    assert PROVIDERS["resend"]().webhook_key() is None  # none declared yet


def test_a_catalog_module_must_declare_exactly_its_own_provider(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    module = types.ModuleType("service.providers.catalog.pigeon")

    class Carrier(ProviderSettings):
        name = "carrier"
        implementation = "nowhere:Nothing"

    Carrier.__module__ = module.__name__
    module.Carrier = Carrier  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, module.__name__, module)
    with pytest.raises(TypeError, match="exactly one ProviderSettings named 'pigeon'"):
        declaration_in(module.__name__)


def test_a_missing_credential_outside_the_chain_is_refused_when_built() -> None:
    settings = make_http_settings(resend_api_key=None)
    with pytest.raises(ConfigError, match=r"^RESEND_API_KEY: required by the 'resend' provider$"):
        build_providers(settings, ["resend"], http_client=httpx.AsyncClient())


def test_reading_the_declarations_loads_no_provider_library() -> None:
    code = (
        "import sys, service.config\n"
        "from service.providers.registry import PROVIDER_NAMES\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('aiosmtplib', 'httpx')"
        " or re.match(r'service[.]providers[.](?!catalog|base|errors|registry)', m))\n"
        "print(loaded)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", "import re\n" + code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert result.stdout.strip() == "[]"

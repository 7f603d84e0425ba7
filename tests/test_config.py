"""Settings: defaults, every error path, secrets kept secret."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from pydantic import BaseModel
from pydantic_settings import BaseSettings

from service.config import ConfigError, Settings, load_settings
from service.providers.catalog import PROVIDERS
from tests.process import run_command
from tests.provider_doubles import provider_variables

README = Path(__file__).resolve().parents[1] / "README.md"


def test_defaults_are_the_embedded_development_setup() -> None:
    settings = load_settings()
    assert settings.app_env == "development"
    assert (settings.host, settings.port, settings.workers) == ("127.0.0.1", 8000, 1)
    assert settings.providers == ["file"]
    assert str(settings.provider_settings.file.directory) == "var/mail"
    assert settings.database_url == "sqlite:///var/outbox.db"
    assert settings.allowed_origins == ["*"]


def test_values_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "9001")
    monkeypatch.setenv("EMAIL_PROVIDERS", " smtp , Resend ")
    monkeypatch.setenv("EMAIL_ADDRESS", "me@gmail.com")
    monkeypatch.setenv("EMAIL_PASSWORD", "abcd efgh ijkl mnop")
    monkeypatch.setenv("RESEND_API_KEY", "re_123")
    monkeypatch.setenv("CONTACT_RECIPIENTS", "a@example.com, b@example.com")
    monkeypatch.setenv("CORS_ORIGINS", "https://example.com,https://www.example.com")
    settings = load_settings()
    assert settings.port == 9001
    assert settings.providers == ["smtp", "resend"]
    assert settings.provider_settings.smtp.password is not None
    assert settings.provider_settings.smtp.password.get_secret_value() == "abcdefghijklmnop"
    assert settings.sender_address == "me@gmail.com"
    assert settings.recipients == ["a@example.com", "b@example.com"]
    assert settings.allowed_origins == ["https://example.com", "https://www.example.com"]


def test_secrets_never_show_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMAIL_PROVIDERS", "smtp")
    monkeypatch.setenv("EMAIL_ADDRESS", "me@gmail.com")
    monkeypatch.setenv("EMAIL_PASSWORD", "hunter2hunter2")
    settings = load_settings()
    assert "hunter2" not in repr(settings)
    assert "hunter2" not in str(settings.model_dump())


def test_logs_are_json_in_production_and_text_in_development() -> None:
    production = load_settings(app_env="production", email_providers="file", email_from="a@b.co")
    assert (production.log_format, production.log_level) == ("json", "INFO")
    assert load_settings().log_format == "text"
    assert (
        load_settings(
            app_env="production", email_providers="file", email_from="a@b.co", log_format="text"
        ).log_format
        == "text"
    )
    assert load_settings(log_level=" warning ").log_level == "WARNING"


def test_tracing_is_on_only_with_somewhere_to_send_spans() -> None:
    assert not load_settings().tracing_enabled
    assert load_settings(otel_exporter_otlp_endpoint="http://collector:4318").tracing_enabled
    assert load_settings(
        applicationinsights_connection_string="InstrumentationKey=x"
    ).tracing_enabled


def test_production_has_no_cors_default_and_no_silent_provider() -> None:
    settings = load_settings(
        app_env="production", email_providers="resend", resend_api_key="k", email_from="a@b.co"
    )
    assert settings.allowed_origins == []
    assert settings.production


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"app_env": "staging"}, "APP_ENV: Input should be 'development' or 'production'"),
        ({"port": "eighty"}, "PORT: Input should be a valid integer"),
        ({"port": "70000"}, "PORT: Input should be less than or equal to 65535"),
        ({"workers": "0"}, "WORKERS: Input should be greater than or equal to 1"),
        ({"email_providers": "smtp,pigeon"}, "EMAIL_PROVIDERS: unknown provider 'pigeon'"),
        ({"email_providers": "file,file"}, "EMAIL_PROVIDERS: a provider is listed twice"),
        ({"app_env": "production"}, "EMAIL_PROVIDERS: required when APP_ENV=production"),
        ({"email_from": "not-an-address"}, "EMAIL_FROM: value is not a valid email address"),
        ({"contact_recipients": "a@example.com,nope"}, "CONTACT_RECIPIENTS: value is not a valid"),
        (
            {"database_url": "mysql://x"},
            "DATABASE_URL: must start with sqlite:/// or postgresql://",
        ),
        ({"brand_color": "blue"}, "BRAND_COLOR: String should match pattern"),
        ({"smtp_security": "ssl"}, "SMTP_SECURITY: Input should be 'starttls', 'tls' or 'none'"),
        ({"contact_redirect_url": "not a url"}, "CONTACT_REDIRECT_URL: Input should be a valid"),
        (
            {"app_env": "production", "email_providers": "file"},
            "EMAIL_FROM: required in production; set EMAIL_FROM (or EMAIL_ADDRESS)",
        ),
        (
            {
                "app_env": "production",
                "email_providers": "file",
                "email_from": "contact@example.com",
            },
            "EMAIL_FROM: contact@example.com is the development placeholder, "
            "not allowed in production",
        ),
        (
            {
                "app_env": "production",
                "email_providers": "file",
                "email_address": "Contact@example.com",
            },
            "EMAIL_ADDRESS: Contact@example.com is the development placeholder",
        ),
        ({"email_from_name": "Example\r\nBcc: x@example.net"}, "EMAIL_FROM_NAME: must be a single"),
        ({"email_from_name": "Example\u202e"}, "EMAIL_FROM_NAME: must not contain invisible"),
        ({"brand_name": "Example\nLtd"}, "BRAND_NAME: must be a single line"),
        ({"request_deadline_seconds": "0"}, "REQUEST_DEADLINE_SECONDS: Input should be greater"),
        ({"log_format": "xml"}, "LOG_FORMAT: Input should be 'text' or 'json'"),
        ({"log_level": "loud"}, "LOG_LEVEL: Input should be 'DEBUG', 'INFO'"),
        ({"metrics_enabled": "maybe"}, "METRICS_ENABLED: Input should be a valid boolean"),
        ({"metrics_token": "short"}, "METRICS_TOKEN: must be at least 16 characters"),
        ({"admin_token": "x" * 23}, "ADMIN_TOKEN: must be at least 24 characters"),
        ({"otel_exporter_otlp_endpoint": "collector"}, "OTEL_EXPORTER_OTLP_ENDPOINT: Input"),
        ({"otel_exporter_otlp_protocol": "http/json"}, "OTEL_EXPORTER_OTLP_PROTOCOL: Input"),
        (
            {"default_locale": "es"},
            "DEFAULT_LOCALE: 'es' is not a shipped language; valid: en, nl, de, fr",
        ),
        ({"owner_locale": "klingon!"}, "OWNER_LOCALE: 'klingon!' is not a shipped language"),
        (
            {"owner_timezone": "Europe/Atlantis"},
            "OWNER_TIMEZONE: 'Europe/Atlantis' is not an IANA time zone",
        ),
        ({"owner_timezone": "../../etc/passwd"}, "OWNER_TIMEZONE: '../../etc/passwd' is not"),
        ({"honeypot_field": "locale"}, "HONEYPOT_FIELD: must not be one of the form's own"),
    ],
)
def test_each_bad_setting_is_one_line_naming_the_variable(
    overrides: dict[str, str], expected: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(**overrides)
    message = str(caught.value)
    assert message.startswith(expected), message
    assert "\n" not in message


def test_the_admin_api_is_off_unless_a_token_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().admin_token is None
    monkeypatch.setenv("ADMIN_TOKEN", "")
    assert load_settings().admin_token is None
    monkeypatch.setenv("ADMIN_TOKEN", "t" * 24)
    settings = load_settings()
    assert settings.admin_token is not None
    assert settings.admin_token.get_secret_value() == "t" * 24
    assert "t" * 24 not in repr(settings)


def test_unknown_provider_lists_the_valid_names() -> None:
    # Every declared provider, sorted: a new one joins the list without editing this test.
    valid = "valid names: " + ", ".join(PROVIDERS)
    assert {"file", "smtp", "resend"} <= set(PROVIDERS)
    assert list(PROVIDERS) == sorted(PROVIDERS)
    with pytest.raises(ConfigError, match=valid):
        load_settings(email_providers="gmail")


@pytest.mark.parametrize(
    ("provider", "variable"),
    [
        (name, declaration.variable(field))
        for name, declaration in PROVIDERS.items()
        for field in declaration.credentials
    ],
)
def test_each_provider_names_its_missing_credential(provider: str, variable: str) -> None:
    complete = provider_variables(provider)
    load_settings(app_env="production", email_providers=provider, email_from="a@b.co", **complete)
    complete[variable.lower()] = None
    with pytest.raises(ConfigError, match=f"^{variable}: required by the '{provider}'"):
        load_settings(app_env="production", email_providers=provider, **complete)


def test_smtp_without_tls_needs_no_password() -> None:
    settings = load_settings(
        email_providers="smtp", smtp_security="none", email_address="dev@example.com"
    )
    assert settings.provider_settings.smtp.password is None


def test_python_m_service_stops_with_one_line(tmp_path) -> None:
    result = run_command(tmp_path, {"EMAIL_PROVIDERS": "smtp,carrier-pigeon"})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "service: cannot start: EMAIL_PROVIDERS: unknown provider 'carrier-pigeon'; "
        f"valid names: {', '.join(PROVIDERS)}"
    ]
    assert "Traceback" not in result.stdout + result.stderr


def test_abuse_defences_are_on_by_default() -> None:
    settings = load_settings()
    assert settings.honeypot_field == "_gotcha"
    assert [str(item) for item in settings.contact_limits] == ["5 per 1 minute", "20 per 1 hour"]
    assert [str(item) for item in settings.confirmation_limits] == ["1 per 1 day"]
    assert settings.rate_limit_storage_url == "memory://"
    assert (settings.real_ip_header, settings.proxies_count, settings.forwarded_secret) == (
        None,
        0,
        None,
    )
    assert settings.captcha_provider is None


def test_abuse_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTACT_RATE_LIMIT", "off")
    monkeypatch.setenv("CONFIRMATION_RATE_LIMIT", "2 per day")
    monkeypatch.setenv("RATE_LIMIT_STORAGE_URL", "redis://cache:6379/1")
    monkeypatch.setenv("PROXIES_COUNT", "1")
    monkeypatch.setenv("REAL_IP_HEADER", "")
    monkeypatch.setenv("FORWARDED_SECRET", "proxy-secret")
    monkeypatch.setenv("CAPTCHA_PROVIDER", "Turnstile")
    monkeypatch.setenv("CAPTCHA_SECRET", "0x4AAA-secret")
    monkeypatch.setenv("CAPTCHA_HOSTNAME", "www.example.com")
    settings = load_settings()
    assert settings.contact_limits == []
    assert [str(item) for item in settings.confirmation_limits] == ["2 per 1 day"]
    assert settings.proxies_count == 1
    assert settings.real_ip_header is None
    assert settings.captcha_provider == "turnstile"
    assert "proxy-secret" not in repr(settings)
    assert "0x4AAA-secret" not in repr(settings)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"contact_rate_limit": "lots"}, "CONTACT_RATE_LIMIT: 'lots' is not a rate limit"),
        ({"contact_rate_limit": "5/minute;"}, "CONTACT_RATE_LIMIT: '5/minute;' is not a rate"),
        ({"confirmation_rate_limit": "0/day"}, "CONFIRMATION_RATE_LIMIT: a limit of 0"),
        ({"confirmation_rate_limit": ""}, "CONFIRMATION_RATE_LIMIT: '' is not a rate limit"),
        ({"rate_limit_storage_url": "mongodb://db"}, "RATE_LIMIT_STORAGE_URL: must start with"),
        ({"rate_limit_storage_url": "localhost:6379"}, "RATE_LIMIT_STORAGE_URL: must start with"),
        ({"honeypot_field": "email"}, "HONEYPOT_FIELD: must not be one of the form's own"),
        ({"honeypot_field": "a b"}, "HONEYPOT_FIELD: String should match pattern"),
        ({"proxies_count": "-1"}, "PROXIES_COUNT: Input should be greater than or equal to 0"),
        ({"real_ip_header": "X-Real-IP: 1"}, "REAL_IP_HEADER: String should match pattern"),
        ({"captcha_provider": "recaptcha"}, "CAPTCHA_SECRET: required by CAPTCHA_PROVIDER"),
        (
            {"captcha_provider": "friendly", "captcha_secret": "s"},
            "CAPTCHA_PROVIDER: Input should be 'turnstile', 'hcaptcha' or 'recaptcha'",
        ),
        ({"captcha_min_score": "1.5"}, "CAPTCHA_MIN_SCORE: Input should be less than or equal"),
    ],
)
def test_each_bad_abuse_setting_stops_startup_naming_the_variable(
    overrides: dict[str, str], expected: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(**overrides)
    message = str(caught.value)
    assert message.startswith(expected), message
    assert "\n" not in message


def test_a_bad_rate_limit_stops_python_m_service_with_one_line(tmp_path) -> None:
    result = run_command(tmp_path, {"CONTACT_RATE_LIMIT": "5/fortnight"})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "service: cannot start: CONTACT_RATE_LIMIT: '5/fortnight' is not a rate limit; "
        "write e.g. 5/minute;20/hour, or off"
    ]


def test_languages_default_to_english_and_the_owner_follows_the_default() -> None:
    settings = load_settings()
    assert (settings.default_locale, settings.notification_locale) == ("en", "en")
    assert str(settings.owner_zone) == "UTC"
    dutch = load_settings(default_locale="nl-BE", owner_timezone="Europe/Amsterdam")
    assert (dutch.default_locale, dutch.notification_locale) == ("nl", "nl")
    assert str(dutch.owner_zone) == "Europe/Amsterdam"
    mixed = load_settings(default_locale="nl", owner_locale="EN_gb")
    assert (mixed.default_locale, mixed.notification_locale) == ("nl", "en")
    assert load_settings(owner_locale="").notification_locale == "en"


def test_a_bad_time_zone_stops_python_m_service_with_one_line(tmp_path) -> None:
    result = run_command(tmp_path, {"OWNER_TIMEZONE": "Mars/Olympus_Mons"})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "service: cannot start: OWNER_TIMEZONE: 'Mars/Olympus_Mons' is not an IANA time zone; "
        "write e.g. UTC or Europe/Amsterdam"
    ]


def setting_groups() -> list[type[BaseModel]]:
    """The groups ``Settings`` is composed of (its bases but ``BaseSettings``)."""
    return [base for base in Settings.__bases__ if not issubclass(base, BaseSettings)]


def plain_variables(model: type[BaseModel]) -> set[str]:
    """The variables a group declares itself: not those of the providers' groups."""
    return {
        name.upper()
        for name, field in model.model_fields.items()
        if not (isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel))
    }


def readme_configuration_parts() -> dict[str, set[str]]:
    """The variables of each ``###`` part of the README's configuration section, by title."""
    section = README.read_text(encoding="utf-8").split("\n## Configuration\n", 1)[1]
    section = section.split("\n## ", 1)[0]
    parts: dict[str, set[str]] = {}
    for part in section.split("\n### ")[1:]:
        title, _, body = part.partition("\n")
        parts[title] = {line.split("`")[1] for line in body.splitlines() if line.startswith("| `")}
    return parts


def test_each_group_is_one_part_of_the_readme_configuration_table() -> None:
    parts = readme_configuration_parts()
    titles = []
    for group in setting_groups():
        names = plain_variables(group)
        holding = [title for title, variables in parts.items() if names & variables]
        assert len(holding) == 1, f"{group.__name__}: {sorted(names)} are in {holding}"
        assert names <= parts[holding[0]], f"{group.__name__}: missing from {holding[0]!r}"
        titles.append(holding[0])
    assert len(set(titles)) == len(titles), "two groups share a part of the README table"
    documented = set().union(*parts.values())
    assert plain_variables(Settings) <= documented


def test_no_group_hides_another_groups_checks() -> None:
    # pydantic keeps one validator per name across a model's bases: a shared name
    # would silently drop one group's check.
    names = Counter(
        name
        for group in setting_groups()
        for kind in ("field_validators", "model_validators")
        for name in getattr(group.__pydantic_decorators__, kind)
    )
    assert [name for name, count in names.items() if count > 1] == []
    own = Settings.__pydantic_decorators__
    assert set(names) <= set(own.field_validators) | set(own.model_validators)

"""The ``ses`` provider's declaration; implemented by :mod:`service.providers.ses`.

Credentials are not declared here: they come from botocore's default chain
(``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` / ``AWS_SESSION_TOKEN``,
the shared config files, a container or instance role), as every AWS tool
reads them. The region is required: SES identities exist per region.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AnyHttpUrl, SecretStr, field_validator

from service.providers.base import ProviderSettings
from service.settings_groups import Env

__all__ = ["SesSettings"]

# us-east-1, eu-central-2, us-gov-west-1, cn-north-1: a region is part of a hostname.
_REGION = re.compile(r"^[a-z]{2,}(?:-[a-z]+)+-[0-9]+$")


class SesSettings(ProviderSettings):
    """``AWS_REGION``, ``SES_CONFIGURATION_SET``, ``SES_BASE_URL``, ``SES_WEBHOOK_TOPIC_ARN``."""

    name = "ses"
    implementation = "service.providers.ses:SesProvider"
    credentials = ("region",)
    webhook = "service.providers.ses_webhook:SesWebhook"
    webhook_secret = "webhook_topic_arn"  # noqa: S105 - the field's name

    region: Annotated[str | None, Env("AWS_REGION")] = None
    configuration_set: str | None = None
    base_url: AnyHttpUrl | None = None
    #: ``SES_WEBHOOK_TOPIC_ARN``: the SNS topic the events come from; others are refused.
    #: Not a secret, but it names the account, so it is kept out of logs like one.
    webhook_topic_arn: SecretStr | None = None

    @field_validator("configuration_set", "base_url", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        # SES_BASE_URL= in an env file means "not set", as in a shell.
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("region")
    @classmethod
    def _region_name(cls, value: str | None) -> str | None:
        if value and not _REGION.match(value):
            raise ValueError(f"{value!r} is not an AWS region name such as eu-west-1")
        return value

"""The ``file`` provider's declaration: ``.eml`` files in a folder (the development default).

Implemented by :mod:`service.providers.file`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from service.providers.base import ProviderSettings
from service.settings_groups import Env

__all__ = ["FileSettings"]


class FileSettings(ProviderSettings):
    """``EMAIL_FILE_DIR``: where the files go."""

    name = "file"
    implementation = "service.providers.file:FileProvider"

    directory: Annotated[Path, Env("EMAIL_FILE_DIR")] = Path("var/mail")

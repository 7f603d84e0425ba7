"""Every provider's declaration, one light module each: ``catalog/<name>.py``.

Each module defines one :class:`~service.providers.base.ProviderSettings`
subclass whose ``name`` is the module's name. They are found by listing this
package, so adding a provider edits no shared list; each imports only pydantic,
so reading them at startup costs milliseconds and loads no provider library.

:data:`PROVIDERS` maps each name to its declaration (sorted by name), and
:data:`ProviderGroups` is the settings model holding one typed group per
provider (``Settings.provider_settings``).
"""

from __future__ import annotations

import pkgutil
from collections.abc import Mapping
from importlib import import_module
from types import MappingProxyType
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from service.providers.base import ProviderSettings

__all__ = ["PROVIDERS", "ProviderGroups", "declaration_in"]


def declaration_in(module_name: str) -> type[ProviderSettings]:
    """The one declaration in module ``module_name``; a ``TypeError`` when it is not so."""
    module = import_module(module_name)
    declared = [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, ProviderSettings)
        and value.__module__ == module.__name__
    ]
    short_name = module_name.rpartition(".")[2]
    if len(declared) != 1 or getattr(declared[0], "name", None) != short_name:
        raise TypeError(
            f"{module_name} must declare exactly one ProviderSettings named {short_name!r}"
        )
    return declared[0]


def _discover() -> dict[str, type[ProviderSettings]]:
    names = sorted(info.name for info in pkgutil.iter_modules(__path__) if not info.ispkg)
    return {name: declaration_in(f"{__name__}.{name}") for name in names}


PROVIDERS: Mapping[str, type[ProviderSettings]] = MappingProxyType(_discover())

_group_fields: dict[str, Any] = {
    name: (declaration, Field(default_factory=declaration))
    for name, declaration in PROVIDERS.items()
}
ProviderGroups: type[BaseModel] = create_model(
    "ProviderGroups",
    __config__=ConfigDict(frozen=True, extra="forbid"),
    __doc__="One typed settings group per provider, by name.",
    __module__=__name__,
    **_group_fields,
)

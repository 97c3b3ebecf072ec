"""The module types the agent knows, by their short, stable ``Type`` name.

A plain map, no folder scanning: adding an integration is one import and one line here. The
classes are cheap to import (their source libraries load only when they run or check), so
listing them never needs an extra to be installed.
"""

from __future__ import annotations

from core.errors import ConfigError
from core.modules.base import SyncModule
from core.modules.csv_import import CsvImport

MODULES: dict[str, type[SyncModule]] = {
    CsvImport.type_name: CsvImport,
}


def module_class(type_name: str) -> type[SyncModule]:
    """The class registered as ``type_name``; ConfigError listing the known types otherwise."""
    try:
        return MODULES[type_name]
    except KeyError:
        known = ", ".join(sorted(MODULES))
        raise ConfigError(
            f"Unknown module type {type_name!r}.", hint=f"Known types: {known}."
        ) from None

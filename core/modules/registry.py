"""The modules the agent knows, by their short, stable settings name."""

from __future__ import annotations

from core.errors import ConfigError
from core.modules.base import SyncModule
from core.modules.csv_import import CsvImport

MODULES: dict[str, type[SyncModule]] = {
    CsvImport.name: CsvImport,
}


def module_class(name: str) -> type[SyncModule]:
    """The class registered as ``name``; ConfigError listing the known names otherwise."""
    try:
        return MODULES[name]
    except KeyError:
        known = ", ".join(sorted(MODULES))
        raise ConfigError(f"Unknown module {name!r}.", hint=f"Known modules: {known}.") from None

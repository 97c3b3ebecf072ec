"""The module types the agent knows, by their short, stable ``Type`` name.

A plain map, no folder scanning: adding an integration is one import and one line here. The
classes are cheap to import (their source libraries load only when they run or check), so
listing them never needs an extra to be installed.
"""

from __future__ import annotations

from core.errors import ConfigError
from core.modules.azure_ad import AzureAd
from core.modules.base import SyncModule
from core.modules.csv_import import CsvImport
from core.modules.imap_mail import ImapMail
from core.modules.lansweeper import Lansweeper
from core.modules.ldap_import import LdapImport
from core.modules.options import parse_options
from core.modules.powershell_scripts import PowerShellScripts
from core.modules.sql_import import SqlImport
from core.settings.model import ModuleSettings

MODULES: dict[str, type[SyncModule]] = {
    CsvImport.type_name: CsvImport,
    LdapImport.type_name: LdapImport,
    ImapMail.type_name: ImapMail,
    AzureAd.type_name: AzureAd,
    Lansweeper.type_name: Lansweeper,
    SqlImport.type_name: SqlImport,
    PowerShellScripts.type_name: PowerShellScripts,
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


def build_module(entry: ModuleSettings) -> tuple[SyncModule | None, list[tuple[str, str]]]:
    """The module object for a settings entry, or None and every problem.

    Problems are ``(path, message)`` below the entry (``Type``, ``Options.site_rules[1]``), so
    the runner prefixes ``Modules[2].`` and the source check lists them as they are.
    """
    try:
        cls = module_class(entry.type)
    except ConfigError as exc:
        return None, [("Type", f"{exc.message} {exc.hint}")]
    options, problems = parse_options(cls.Options, entry.options)
    if options is None:
        return None, [(f"Options.{path}", message) for path, message in problems]
    return cls(options, entry.options), []

"""The one interface every integration implements.

A module is one small class: its options (a frozen dataclass, see ``core.modules.options``),
``check()`` for Validate (can I reach and read my source?) and ``run()``, which reads the source
and hands records to ``RunContext.sync_records`` or tallies a queue with ``RunContext.queue``.
Its source library is imported only inside ``check``/``run`` (through a client in
``core.sources``), so a missing extra fails that module alone.
"""

from __future__ import annotations

import importlib.util
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from core.modules.halo_held import options_over_halo_record
from core.run.context import RunContext, SourceContext

if TYPE_CHECKING:
    from core.halo.client import HaloClient  # its httpx is not needed to import this


@dataclass(frozen=True)
class StatusRecord:
    """Where Halo shows this module's Last Sync / Last Error.

    Integrations with their own record (``LDAPConnection``, ``Mailbox`` ...) need the record's
    id from the settings (``HaloRecordId``), so each instance reports on its own record.
    Integrations configured on the ``Control`` object use a field prefix such as
    ``halointegrator_xlsimports_``: that record is shared, so every instance of the type
    writes the same two fields and Halo shows whichever ran last (``shared`` says so).
    """

    endpoint: str
    field_prefix: str = "halointegrator_"
    needs_id: bool = True
    # The module option holding the record's id (``halo_connection_id``), when the module
    # names its record itself rather than through the entry's ``HaloRecordId``.
    id_option: str | None = None
    # The record's field saying the integration is enabled for the Halo Integrator in Halo.
    enabled_field: str = "halointegratorenabled"

    @property
    def shared(self) -> bool:
        return not self.needs_id


class SyncModule(ABC):
    """Base class of every integration; subclasses set the class attributes and ``run``."""

    type_name: ClassVar[str]  # the registry key: ``Type`` in appsettings.json
    display_name: ClassVar[str]
    description: ClassVar[str]
    Options: ClassVar[type]
    status_record: ClassVar[StatusRecord | None] = None
    # Import names of the third-party libraries it needs, and the extra that installs them.
    requires: ClassVar[tuple[str, ...]] = ()
    extra: ClassVar[str | None] = None

    def __init__(self, options: Any, local_options: dict[str, Any] | None = None) -> None:
        self.options = options
        # The options as written in appsettings.json, before defaults: what the admin set
        # locally overrides what a Halo-held configuration says (see ``halo_held``).
        self.local_options = dict(local_options or {})

    def status_record_id(self) -> int | None:
        """The Halo record id for Last Sync / Last Error when an option names it (e.g.
        ``halo_connection_id``); None falls back to the entry's ``HaloRecordId``."""
        record = self.status_record
        if record is None or record.id_option is None:
            return None
        return int(getattr(self.options, record.id_option, 0) or 0) or None

    def options_from_halo(self, record: Mapping[str, Any]) -> dict[str, Any] | None:
        """This module's option names for what its Halo record holds; None (the default)
        for a module whose record holds no configuration."""
        return None

    def options_for_run(self, client: HaloClient) -> Any:
        """The options a run uses: the local ones over the module's Halo record when an
        option names one and the module reads it (see ``halo_held``). Kept on ``options``."""
        record = self.status_record
        record_id = self.status_record_id()
        if record is None or (record.needs_id and record_id is None):
            return self.options
        if type(self).options_from_halo is SyncModule.options_from_halo:
            return self.options  # its record only receives Last Sync / Last Error
        # A shared record (Control) is one object: read without an id.
        self.options = options_over_halo_record(
            client,
            type(self.options),
            self.local_options,
            record.endpoint,
            record_id if record.needs_id else None,
            lambda found: self.options_from_halo(found) or {},
            enabled_field=record.enabled_field,
        )
        return self.options

    @classmethod
    def missing_extra(cls) -> str | None:
        """ "needs the ldap extra" when a library is not installed; None when all are."""
        missing = [name for name in cls.requires if importlib.util.find_spec(name) is None]
        if not missing:
            return None
        return (
            f'needs the {cls.extra} extra (pip install "halo-integrator[{cls.extra}]"; '
            f"missing: {', '.join(missing)})"
        )

    def check(self, context: SourceContext) -> str:
        """Can the source be reached and read? Returns what was found, in a few words.

        Raises ``ModuleError`` (or another ``IntegratorError``) naming the cause and the next
        step. The default says nothing was checked, so a module without a check is honest.
        """
        return "no source check for this module"

    @abstractmethod
    def run(self, context: RunContext) -> None:
        """Read the source and sync it; raise ``ModuleError`` when the source is unusable."""

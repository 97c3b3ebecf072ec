"""``lansweeper``: assets from a Lansweeper database → Halo assets, changed rows only.

Lansweeper's database sits on a SQL Server only the local network reaches, which is why
this runs on the jump box. One query joins ``tblAssets`` with ``tblAssetCustom`` (serial,
state), ``tsysAssetTypes`` (the type's name) and ``tblOperatingsystem``; an incremental run
adds "changed since the last accepted run" on ``Lastchanged`` (``core.sources.sql_changes``)
and reads, beside the changed rows, only the ids of every asset, so an asset deleted in
Lansweeper is set inactive in Halo on the next run, not a week later. A full read every
``full_reconcile_every`` compares with all of Halo's assets and puts back hand edits.

Assets are matched by the Lansweeper id Halo keeps (``lansweeper_id``), then by serial
number, then by name; a placeholder serial ("To be filled by O.E.M.") matches nothing.
An asset whose scan data is incomplete (no name, no type) is reported, not sent half-empty;
one not seen for ``stale_after_days`` is reported in the log. Halo keeps Lansweeper's
settings on its ``Control`` record (``lansweeper_*``): what is there applies, local options
override it, and Last Sync / Last Error go to ``halointegrator_lansweeper_*`` there.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from core.errors import ModuleError
from core.modules.base import StatusRecord, SyncModule
from core.modules.options import (
    deactivation_count_option,
    deactivation_share_option,
    full_read_option,
    option,
)
from core.run.context import RunContext, SourceContext
from core.settings.model import Interval
from core.settings.secrets import Secret, as_secret
from core.sources.sql_changes import ChangeMark, halo_value, read_from
from core.sync.field_map import FieldMap, field_map_problems
from core.sync.placement import Placement, PlacementRule, named_sites, place
from core.sync.records import SITES, HaloTarget, Ref, SourceRecord, normalise

CHANGED_MARK = "lastchanged"
ACTIVE_STATE = 1  # tblAssetCustom.State: 1 Active, 2 Non-active, 3 Broken, 4 Stolen, 5 Sold ...
# Serial numbers vendors ship unset; two machines with one of these are not one asset.
PLACEHOLDER_SERIALS = frozenset(
    {
        "",
        "0",
        "none",
        "n/a",
        "na",
        "null",
        "unknown",
        "default string",
        "to be filled by o.e.m.",
        "system serial number",
        "chassis serial number",
        "not specified",
        "not applicable",
        "123456789",
        "0123456789",
        "serial number",
    }
)
# The columns the query reads, by the name a field map uses.
COLUMNS = {
    "tblAssets": (
        "AssetID",
        "AssetName",
        "AssetUnique",
        "Domain",
        "IPAddress",
        "Mac",
        "Username",
        "Lastseen",
        "Firstseen",
        "Lastchanged",
        "AssetType",
    ),
    "tblAssetCustom": ("Manufacturer", "Model", "Serialnumber", "State"),
    "tsysAssetTypes": ("AssetTypename",),
}
DEFAULT_FIELDS = {
    "inventory_number": "AssetName",
    "lansweeper_id": "AssetID",
    "username": "Username",
}


@dataclass(frozen=True)
class LansweeperOptions:
    database_url: str = option(
        "",
        help="SQLAlchemy URL of the Lansweeper database, e.g. mssql+pymssql://reader:pw@"
        "sql01/lansweeperdb (or set sql_server, database and username).",
        secret=True,
        label="Database URL",
    )
    sql_server: str = option(
        "",
        help="The SQL Server (host or host:port), when no URL is set.",
        label="SQL Server",
        applies_when={"database_url": ("",)},
    )
    database: str = option(
        "lansweeperdb",
        help="The database name, when no URL is set.",
        label="Database",
        applies_when={"database_url": ("",)},
    )
    username: str = option(
        "",
        help="A read-only SQL login, when no URL is set.",
        label="SQL login",
        applies_when={"database_url": ("",)},
    )
    password: str = option(
        "",
        help="That login's password.",
        secret=True,
        label="SQL password",
        applies_when={"database_url": ("",)},
    )
    driver: str = option(
        "mssql+pymssql",
        help="SQLAlchemy dialect+driver, when no URL is set.",
        label="Driver",
        applies_when={"database_url": ("",)},
    )
    asset_type_map: dict[str, int] = option(
        default_factory=dict,
        help="Lansweeper asset type name → Halo asset type id (a Halo type of the same name "
        "is found by itself).",
        example={"Windows": 2, "Printer": 5},
        label="Asset type map",
    )
    default_assettype_id: int = option(
        0,
        help="Halo asset type for types neither mapped nor found (0: report them).",
        minimum=0,
        label="Default asset type ID",
    )
    client_id: int = option(
        1, help="Halo client for assets no rule places.", minimum=1, label="Default client ID"
    )
    site_id: int = option(
        1, help="Halo site for assets no rule places.", minimum=1, label="Default site ID"
    )
    placement: list[PlacementRule] = option(
        default_factory=list,
        help="Rules placing assets by IP range, domain (Lansweeper's) or AssetName pattern.",
        example=[{"ip_range": "10.2.0.0/16", "site_name": "Leeds"}],
        label="Placement rules",
    )
    create_sites: bool = option(
        False, help="Create the sites rules name that Halo lacks.", label="Create missing sites"
    )
    serial_field: str = option(
        "key_field",
        help="The Halo asset field that holds the serial number.",
        label="Serial number field",
    )
    field_map: dict[str, str] = option(
        default_factory=dict,
        help="Halo field → Lansweeper column (with |converters), over the default map.",
        example={"key_field2": "Model", "key_field3": "OperatingSystem"},
        label="Field map",
    )
    active_states: list[int] = option(
        default_factory=lambda: [ACTIVE_STATE],
        help="tblAssetCustom.State values that are active (others: inactive in Halo).",
        label="Active states",
    )
    stale_after_days: int = option(
        90,
        help="Report assets Lansweeper has not seen for this many days (0: never).",
        minimum=0,
        label="Stale after (days)",
    )
    full_reconcile_every: str = full_read_option("7d", "every asset")
    timeout_seconds: int = option(
        300, help="How long one query may run.", minimum=1, label="Query timeout (seconds)"
    )
    max_deactivate_percent: float = deactivation_share_option()
    max_deactivate_count: int = deactivation_count_option("assets")

    def problems(self) -> list[tuple[str, str]]:
        found = field_map_problems(self.field_map)
        if not self.serial_field.strip():
            found.append(("serial_field", "names a Halo asset field"))
        return found


class Lansweeper(SyncModule):
    type_name = "lansweeper"
    display_name = "Lansweeper"
    description = "Assets from a Lansweeper database (SQL Server), changed rows only."
    Options = LansweeperOptions
    status_record = StatusRecord(
        "Control",
        field_prefix="halointegrator_lansweeper_",
        needs_id=False,
        enabled_field="halointegrator_lansweeper",
    )
    requires = ("sqlalchemy",)
    extra = "sql"

    options: LansweeperOptions

    def check(self, context: SourceContext) -> str:
        from sqlalchemy import func, select

        options = self.options
        if not options.database_url and not options.sql_server:
            return "the SQL Server comes from Halo's Lansweeper settings at run time"
        assets = _tables()["tblAssets"]
        with self._database(options) as database:
            rows = list(database.rows(select(func.count()).select_from(assets)))
        count = next(iter(rows[0].values())) if rows else 0
        return f"{database.where}: {count} assets in tblAssets"

    def run(self, context: RunContext) -> None:
        options = self.options_for_run(context.client)
        field_map = FieldMap.parse(options.field_map, base=_base_fields(options))
        every = Interval.parse(options.full_reconcile_every)
        previous = context.checkpoint(CHANGED_MARK)
        full = context.full_reconcile_due(every) or previous is None
        since = None if full else read_from(previous)
        full = full or since is None
        types = _AssetTypes(options, context)
        mark = ChangeMark()
        stale: list[str] = []
        with self._database(options) as database:
            rows = database.rows(_asset_query(since))
            records = list(self._records(rows, options, field_map, types, mark, stale, context))
            present = None if full else self._present(database)
        context.log.info(
            "Read %d %sassets from %s", len(records), "" if full else "changed ", database.where
        )
        if stale:
            more = f" and {len(stale) - 10} more" if len(stale) > 10 else ""
            context.log.warning(
                "%d assets not seen by Lansweeper for %d days or more: %s%s",
                len(stale),
                options.stale_after_days,
                ", ".join(stale[:10]),
                more,
            )
        sites = named_sites(options.placement, options.client_id)
        if sites:
            context.sync_records(
                SITES, sites, deactivate_missing=False, create=options.create_sites
            )
        context.sync_records(
            _target(options),
            records,
            complete=full,
            present=present,
            reconcile=full,
            max_deactivate_percent=options.max_deactivate_percent,
            max_deactivate_count=options.max_deactivate_count,
        )
        checkpoint = mark.checkpoint(previous)
        if checkpoint:
            context.stage_checkpoint(CHANGED_MARK, checkpoint)
        if full:
            context.stage_full_reconcile()

    # -- reading -------------------------------------------------------------------------------

    def _records(
        self,
        rows: Iterator[dict[str, Any]],
        options: LansweeperOptions,
        field_map: FieldMap,
        types: _AssetTypes,
        mark: ChangeMark,
        stale: list[str],
        context: RunContext,
    ) -> Iterator[SourceRecord]:
        stale_before = (
            dt.datetime.now() - dt.timedelta(days=options.stale_after_days)
            if options.stale_after_days
            else None
        )
        for count, row in enumerate(rows, 1):
            mark.observe(row.get("Lastchanged"))
            mark.observe(row.get("CustomLastchanged"))
            record = self._record(row, options, field_map, types)
            seen = row.get("Lastseen")
            if stale_before and isinstance(seen, dt.datetime) and seen < stale_before:
                stale.append(f"{row.get('AssetName') or record.key} (last seen {seen:%Y-%m-%d})")
            if count % 5000 == 0:
                context.progress("reading", count, 0)
            yield record

    def _record(
        self,
        row: Mapping[str, Any],
        options: LansweeperOptions,
        field_map: FieldMap,
        types: _AssetTypes,
    ) -> SourceRecord:
        values = {name: halo_value(value) for name, value in row.items()}
        key = normalise(values.get("AssetID"))
        name = str(values.get("AssetName") or "").strip()
        type_name = str(values.get("AssetTypename") or "").strip()
        label = f"{name or '(no name)'} (Lansweeper {key})"
        if not name:
            return SourceRecord(key, {}, label, "incomplete scan data: no AssetName")
        if not type_name:
            return SourceRecord(key, {}, label, "incomplete scan data: no asset type")
        assettype_id = types.halo_id(type_name)
        if not assettype_id:
            return SourceRecord(
                key,
                {},
                label,
                f"no Halo asset type for Lansweeper's {type_name!r} (add it to "
                "asset_type_map, or set default_assettype_id)",
            )
        fields = field_map.apply(values)
        serial = str(fields.get(options.serial_field) or "").strip()
        if serial.lower() in PLACEHOLDER_SERIALS:
            fields[options.serial_field] = ""
        state = values.get("State")
        fields["inactive"] = state is not None and state not in options.active_states
        fields["assettype_id"] = assettype_id
        where = place(
            options.placement,
            values,
            Placement(options.client_id, options.site_id),
            address=f"@{values.get('Domain') or ''}",
        )
        fields["client_id"] = where.client_id
        fields["site_id"] = where.site_id or Ref("Site", where.site_key)
        return SourceRecord(key=key, fields=fields, label=label)

    def _present(self, database: Any) -> set[str]:
        """Every AssetID in Lansweeper now: one narrow query, so leavers are found daily."""
        from sqlalchemy import select

        assets = _tables()["tblAssets"]
        rows = database.rows(select(assets.c.AssetID))
        return {normalise(row["AssetID"]) for row in rows}

    def _database(self, options: LansweeperOptions) -> Any:
        from core.sources.sql_database import SqlDatabase

        return SqlDatabase(database_url(options), timeout_seconds=options.timeout_seconds)

    def options_from_halo(self, record: Mapping[str, Any]) -> dict[str, Any]:
        return options_from_control(record)


class _AssetTypes:
    """Lansweeper type name → Halo asset type id: the map, then Halo's type of that name."""

    def __init__(self, options: LansweeperOptions, context: RunContext) -> None:
        self._mapped = {normalise(name): value for name, value in options.asset_type_map.items()}
        self._default = options.default_assettype_id
        self._context = context
        self._halo: dict[str, int] | None = None

    def halo_id(self, type_name: str) -> int:
        key = normalise(type_name)
        if key in self._mapped:
            return self._mapped[key]
        if self._halo is None:
            self._halo = {
                normalise(item.get("name")): int(item["id"])
                for item in self._context.client.iter_records("AssetType", {})
                if item.get("id") and item.get("name")
            }
        return self._halo.get(key) or self._default


def _tables() -> dict[str, Any]:
    from sqlalchemy import column, table

    return {
        "tblAssets": table("tblAssets", *(column(name) for name in COLUMNS["tblAssets"])),
        "tblAssetCustom": table(
            "tblAssetCustom",
            column("AssetID"),
            column("Lastchanged"),
            *(column(name) for name in COLUMNS["tblAssetCustom"]),
        ),
        "tsysAssetTypes": table("tsysAssetTypes", column("AssetType"), column("AssetTypename")),
        "tblOperatingsystem": table("tblOperatingsystem", column("AssetID"), column("Caption")),
    }


def _asset_query(since: Any) -> Any:
    """Every asset with its custom fields, type name and OS; changed ones when ``since``."""
    from sqlalchemy import or_, select

    tables = _tables()
    assets, custom = tables["tblAssets"], tables["tblAssetCustom"]
    types, system = tables["tsysAssetTypes"], tables["tblOperatingsystem"]
    query = select(
        *(assets.c[name] for name in COLUMNS["tblAssets"]),
        *(custom.c[name] for name in COLUMNS["tblAssetCustom"]),
        custom.c.Lastchanged.label("CustomLastchanged"),
        types.c.AssetTypename,
        system.c.Caption.label("OperatingSystem"),
    ).select_from(
        assets.outerjoin(custom, custom.c.AssetID == assets.c.AssetID)
        .outerjoin(types, types.c.AssetType == assets.c.AssetType)
        .outerjoin(system, system.c.AssetID == assets.c.AssetID)
    )
    if since is not None:
        query = query.where(or_(assets.c.Lastchanged >= since, custom.c.Lastchanged >= since))
    return query.order_by(assets.c.AssetID)


def _base_fields(options: LansweeperOptions) -> dict[str, str]:
    return {**DEFAULT_FIELDS, options.serial_field: "Serialnumber"}


def _target(options: LansweeperOptions) -> HaloTarget:
    """Matched by the Lansweeper id Halo keeps, then by serial number, then by name."""
    return HaloTarget(
        entity="Asset",
        match=("lansweeper_id", options.serial_field, "inventory_number"),
        searchable=frozenset({"inventory_number", options.serial_field}),
        marker_field="third_party_id_string",
    )


def database_url(options: LansweeperOptions) -> Secret:
    """The URL to open: ``database_url``, or one built from server, database and login."""
    from urllib.parse import quote

    url = as_secret(options.database_url)
    if url:
        return url
    if not options.sql_server:
        raise ModuleError(
            "No Lansweeper database is configured.",
            hint="Set database_url (or sql_server, database and username), here or in "
            "Halo's Lansweeper settings.",
        )
    password = as_secret(options.password)
    login = quote(options.username, safe="")
    if password:
        login += ":" + quote(password.reveal(), safe="")
    at = f"{login}@" if login else ""
    return Secret(f"{options.driver}://{at}{options.sql_server}/{quote(options.database)}")


def options_from_control(record: Mapping[str, Any]) -> dict[str, Any]:
    """Our option names for the Lansweeper settings Halo keeps on ``Control``.

    Halo's names are known only as ``lansweeper_*`` (halo-api.md 5.4): these are the ones
    read, as the README lists them. The SQL password is never taken from Halo.
    """
    found: dict[str, Any] = {}
    names = {
        "lansweeper_sqlserver": "sql_server",
        "lansweeper_sqldatabase": "database",
        "lansweeper_sqlusername": "username",
    }
    for halo_name, ours in names.items():
        if record.get(halo_name):
            found[ours] = str(record[halo_name])
    for halo_name, ours in (
        ("lansweeper_defaultsite", "site_id"),
        ("lansweeper_defaultassettype", "default_assettype_id"),
    ):
        if isinstance(record.get(halo_name), int) and record[halo_name] > 0:
            found[ours] = record[halo_name]
    return found

"""``sql``: users, assets or sites from any database query → Halo.

The job admins script by hand today ("query the HR database, push the rows to Halo"),
with the same engine as every other module: matching, change detection (only changed
rows are sent), the deactivation guard, dry run. The query's column names are Halo field
names (``SELECT mail AS emailaddress, ...``), or a ``field_map`` names the column per Halo
field. It runs read-only with a timeout (``core.sources.sql_database``). With
``changed_column`` an incremental run reads only rows changed since the last accepted run,
the ids of the rest from the same query, and a full read every ``full_reconcile_every``.
Status goes to Halo's ``/SQLImport`` record when ``halo_sqlimport_id`` names one.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from core.errors import ModuleError
from core.modules.base import StatusRecord, SyncModule
from core.modules.csv_import import DEFAULT_KEY_COLUMNS, TARGETS
from core.modules.options import (
    deactivation_count_option,
    deactivation_share_option,
    full_read_option,
    option,
)
from core.run.context import RunContext, SourceContext
from core.settings.model import Interval
from core.sources.sql_changes import ChangeMark, halo_value, read_from
from core.sync.field_map import FieldMap, field_map_problems
from core.sync.records import SITES, SourceRecord, normalise

CHANGED_MARK = "changed_column"
KEY_COLUMNS = {**DEFAULT_KEY_COLUMNS, "sites": "name"}
# SELECT or WITH ... SELECT, after any comments: the integrator reads, it never writes.
_READING_QUERY = re.compile(r"^\s*(?:(?:--[^\n]*\n|/\*.*?\*/)\s*)*(select|with)\b", re.I | re.S)
_COLUMN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class SqlOptions:
    database_url: str = option(
        help="SQLAlchemy URL, e.g. postgresql+psycopg://reader:pw@db01/hr or "
        "mssql+pymssql://reader:pw@sql01/hr.",
        secret=True,
        label="Database URL",
    )
    query: str = option(
        help="A SELECT whose columns are Halo field names (or see field_map).",
        example="SELECT mail AS emailaddress, display_name AS name FROM staff",
        label="Query",
    )
    target: str = option(
        "users", help="What the rows are.", choices=("users", "assets", "sites"), label="Rows are"
    )
    key_column: str = option(
        "",
        help="Column that identifies a row across runs (default: emailaddress for users, "
        "inventory_number for assets, name for sites).",
        label="Key column",
    )
    field_map: dict[str, str] = option(
        default_factory=dict,
        help="Halo field → column (with |converters); when set, only these fields are sent.",
        example={"emailaddress": "mail|lower", "name": "display_name"},
        label="Field map",
    )
    client_id: int = option(
        1,
        help="Halo client for site rows without client_id.",
        minimum=1,
        label="Default client ID",
        applies_when={"target": ("sites",)},
    )
    site_id: int = option(
        1,
        help="Halo site for rows without a site_id column.",
        minimum=1,
        label="Default site ID",
        applies_when={"target": ("users", "assets")},
    )
    assettype_id: int = option(
        1,
        help="Halo asset type id for asset rows without assettype_id.",
        minimum=1,
        label="Asset type ID",
        applies_when={"target": ("assets",)},
    )
    changed_column: str = option(
        "",
        help="A column with the row's last change (a time or a rowversion): delta runs.",
        label="Changed column",
    )
    full_reconcile_every: str = full_read_option("1d", "every row")
    timeout_seconds: int = option(
        60, help="How long the query may run.", minimum=1, label="Query timeout (seconds)"
    )
    deactivate_missing: bool = option(
        True,
        help="Set records inactive in Halo when their row is gone (not for sites).",
        label="Deactivate missing rows",
    )
    max_deactivate_percent: float = deactivation_share_option(
        applies_when={"deactivate_missing": (True,)}
    )
    max_deactivate_count: int = deactivation_count_option(
        "records", applies_when={"deactivate_missing": (True,)}
    )
    halo_sqlimport_id: int = option(
        0,
        help="Halo's SQLImport record to report Last Sync / Last Error to.",
        minimum=0,
        label="Halo SQL import ID",
    )

    def problems(self) -> list[tuple[str, str]]:
        found = field_map_problems(self.field_map)
        if self.query and not _READING_QUERY.match(self.query):
            found.append(("query", "must be a SELECT (or WITH ... SELECT): the integrator reads"))
        elif self.query and _more_than_one_statement(self.query):
            # SQL Server runs a whole batch ("SELECT ...; DELETE ...") and has no read-only
            # transaction to stop the second statement.
            found.append(("query", "must be one statement (a ; ends it, nothing may follow)"))
        if self.changed_column and not _COLUMN_NAME.match(self.changed_column):
            found.append(("changed_column", "a plain column name of the query"))
        return found


class SqlImport(SyncModule):
    type_name = "sql"
    display_name = "SQL query"
    description = "Users, assets or sites from a database query (read-only)."
    Options = SqlOptions
    status_record = StatusRecord(
        "SQLImport", id_option="halo_sqlimport_id", enabled_field="integrator_enabled"
    )
    requires = ("sqlalchemy",)
    extra = "sql"

    options: SqlOptions

    def check(self, context: SourceContext) -> str:
        # The query itself, not a count around it: SQL Server refuses some queries as a
        # derived table (ORDER BY), and Validate should run what a run runs.
        key_column = self.options.key_column or KEY_COLUMNS[self.options.target]
        field_map = FieldMap.parse(self.options.field_map) if self.options.field_map else None
        total = 0
        with self._database() as database:
            for row in database.rows(self._query):
                if total == 0:
                    self._check_columns(row, key_column, field_map)
                total += 1
        return f"{database.where}: the query returns {total} rows"

    def run(self, context: RunContext) -> None:
        options = self.options_for_run(context.client)
        key_column = options.key_column or KEY_COLUMNS[options.target]
        previous = context.checkpoint(CHANGED_MARK) if options.changed_column else None
        full = (
            not options.changed_column
            or previous is None
            or context.full_reconcile_due(Interval.parse(options.full_reconcile_every))
        )
        since = None if full else read_from(previous)
        full = full or since is None
        mark = ChangeMark()
        field_map = FieldMap.parse(options.field_map) if options.field_map else None
        with self._database() as database:
            rows = database.rows(*self._statement(since))
            records = list(self._records(rows, key_column, field_map, mark))
            present = None if full else self._present(database, key_column, field_map)
        context.log.info("Read %d rows from %s", len(records), database.where)
        sites = options.target == "sites"
        target = SITES if sites and not options.key_column else None
        if target is None:
            target = dataclasses.replace(
                TARGETS.get(options.target, SITES), match=(key_column,), searchable=frozenset()
            )
        context.sync_records(
            target,
            records,
            complete=full,
            present=present,
            reconcile=full and bool(options.changed_column),
            deactivate_missing=options.deactivate_missing and not sites,
            max_deactivate_percent=options.max_deactivate_percent,
            max_deactivate_count=options.max_deactivate_count,
        )
        if options.changed_column:
            checkpoint = mark.checkpoint(previous)
            if checkpoint:
                context.stage_checkpoint(CHANGED_MARK, checkpoint)
            if full:
                context.stage_full_reconcile()

    def _statement(
        self, since: Any, columns: list[str] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """The admin's query, wrapped in "changed since" on a delta run, or narrowed to
        ``columns`` (names as the query spells them: not quoted, so not case-bound)."""
        from sqlalchemy import bindparam, literal_column, select, text

        if since is None and not columns:
            return self._query, {}
        rows = text(self._query).columns().subquery("q")
        picked: list[Any] = [literal_column(name) for name in columns] if columns else [text("*")]
        wrapped = select(*picked).select_from(rows)
        if since is None:
            return wrapped, {}
        changed: Any = literal_column(self.options.changed_column)
        return wrapped.where(changed >= bindparam("since")), {"since": since}

    def _records(
        self,
        rows: Iterator[dict[str, Any]],
        key_column: str,
        field_map: FieldMap | None,
        mark: ChangeMark,
    ) -> Iterator[SourceRecord]:
        options = self.options
        for number, row in enumerate(rows, 1):
            if number == 1:
                self._check_columns(row, key_column, field_map)
            if options.changed_column:
                mark.observe(_column(row, options.changed_column))
            yield self._record(row, key_column, field_map, number)

    def _check_columns(
        self, row: Mapping[str, Any], key_column: str, field_map: FieldMap | None
    ) -> None:
        names = {name.lower() for name in row}
        wanted = [] if field_map else [key_column]
        if self.options.changed_column:
            wanted.append(self.options.changed_column)
        missing = [name for name in wanted if name.lower() not in names]
        if missing:
            raise ModuleError(
                f"The query returns no {', '.join(map(repr, missing))} column "
                f"(it returns: {', '.join(row)}).",
                hint="Name the column with AS in the query, or set key_column / field_map.",
            )

    def _record(
        self,
        row: Mapping[str, Any],
        key_column: str,
        field_map: FieldMap | None,
        number: int,
    ) -> SourceRecord:
        values = {name: halo_value(value) for name, value in row.items()}
        if field_map is None:
            fields = {
                name: value
                for name, value in values.items()
                if value not in (None, "") and name != "id" and name != self.options.changed_column
            }
        else:
            fields = field_map.apply(values)
        target = self.options.target
        if target == "users":
            fields.setdefault("site_id", self.options.site_id)
        elif target == "assets":
            fields.setdefault("site_id", self.options.site_id)
            fields.setdefault("assettype_id", self.options.assettype_id)
        else:
            fields.setdefault("client_id", self.options.client_id)
        key_value = fields.get(key_column)
        if target == "sites" and not self.options.key_column:
            key = f"{normalise(fields.get('client_id'))}/{normalise(fields.get('name'))}"
            key_value = fields.get("name")
        else:
            key = normalise(key_value)
        label = f"row {number}: {fields.get('name') or key_value or '(empty)'}"
        problem = "" if normalise(key_value) else f"no value in its {key_column} column"
        return SourceRecord(key=key, fields=fields, label=label, problem=problem)

    def _present(self, database: Any, key_column: str, field_map: FieldMap | None) -> set[str]:
        """Every key the query returns now (all rows, only the key columns read): removals."""
        if field_map is None:
            columns = [key_column]
        else:
            rule = field_map.rules.get(key_column)
            columns = rule.attributes if rule else []
        if self.options.target == "sites":
            columns = []  # a site's key is its client and name: read the whole query
        if not columns or not all(_COLUMN_NAME.match(name) for name in columns):
            columns = []  # read the whole query rather than guess a column
        keys: set[str] = set()
        for number, row in enumerate(database.rows(*self._statement(None, columns)), 1):
            keys.add(self._record(row, key_column, field_map, number).key)
        keys.discard("")
        return keys

    @property
    def _query(self) -> str:
        """The admin's query without a trailing ``;`` (it becomes a subquery in delta runs)."""
        return self.options.query.strip().rstrip(";").rstrip()

    def _database(self) -> Any:
        from core.sources.sql_database import SqlDatabase

        # database_url is required: parse_options refused the entry without it.
        return SqlDatabase(self.options.database_url, timeout_seconds=self.options.timeout_seconds)

    def options_from_halo(self, record: Mapping[str, Any]) -> dict[str, Any]:
        # Halo's SQLImport holds its own query for Halo's SQL import; ours is local. Reading
        # the record still checks that it is enabled for the integrator.
        return {}


def _more_than_one_statement(query: str) -> bool:
    """Whether SQL follows a ``;`` outside quotes and comments (a trailing ``;`` is fine)."""
    return bool(_outside_quotes(query).strip().rstrip(";").count(";"))


def _outside_quotes(query: str) -> str:
    """The query with string literals, quoted names and comments blanked out."""
    closing = {"'": "'", '"': '"', "[": "]", "--": "\n", "/*": "*/"}
    kept, position = [], 0
    while position < len(query):
        opener = next(
            (mark for mark in ("--", "/*", "'", '"', "[") if query.startswith(mark, position)),
            None,
        )
        if opener is None:
            kept.append(query[position])
            position += 1
            continue
        end = query.find(closing[opener], position + len(opener))
        position = len(query) if end < 0 else end + len(closing[opener])
        kept.append(" ")
    return "".join(kept)


def _column(row: Mapping[str, Any], name: str) -> Any:
    if name in row:
        return row[name]
    lowered = name.lower()
    return next((value for key, value in row.items() if key.lower() == lowered), None)

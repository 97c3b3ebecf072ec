"""``csv``: users or assets from a CSV file whose headers are Halo field names.

The simplest source there is, and the one every admin has (an HR export, an inventory
spreadsheet): it exercises the whole path (matching, change detection, deactivation of rows
that vanish) with nothing to install.
"""

from __future__ import annotations

import csv
import dataclasses
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import ModuleError, SourceNotReadyError
from core.modules.base import StatusRecord, SyncModule
from core.modules.options import deactivation_share_option, option
from core.run.context import RunContext, SourceContext
from core.sources.files import DEFAULT_ENCODING, encoding_problem, read_lines
from core.sync.records import ASSETS, USERS, HaloTarget, SourceRecord

TARGETS: dict[str, HaloTarget] = {"users": USERS, "assets": ASSETS}
DEFAULT_KEY_COLUMNS = {"users": "emailaddress", "assets": "inventory_number"}
INTEGER_FIELDS = frozenset({"site_id", "client_id", "assettype_id", "status_id", "user_id"})
BOOLEAN_FIELDS = frozenset({"inactive", "isserviceaccount", "neversendemails"})
TRUE_WORDS = frozenset({"true", "yes", "1", "y"})
# A longer cell fails its row. The csv module's own limit (the same figure) stops the whole
# reader instead, so the reader is allowed far more and the rows are checked here.
MAX_FIELD_CHARACTERS = 131_072
READER_FIELD_LIMIT_CHARACTERS = 16 * 1024 * 1024
# local@domain.tld: a domain with a dot and a top-level domain of two letters or more (or an
# IDN one, xn--...), so an address cut while the file was written ("jr195@exa") is no key.
EMAIL_ADDRESS = re.compile(r"[^@\s]+@(?:[^@\s.]+\.)+(?:[^\W\d_]{2,}|xn--[a-z0-9-]+)", re.I)


@dataclass(frozen=True)
class CsvOptions:
    path: str = option(
        help="The CSV file; a relative path is relative to the settings folder.",
        label="CSV file",
        browse="file",
    )
    target: str = option(
        "users", help="What the rows are.", choices=tuple(TARGETS), label="Rows are"
    )
    key_column: str = option(
        "",
        help="Column that identifies a row across runs (default: emailaddress for users, "
        "inventory_number for assets).",
        label="Key column",
    )
    delimiter: str = option(
        ",", help="Field separator, e.g. ; for spreadsheets saved in Europe.", label="Delimiter"
    )
    site_id: int = option(
        1,
        help="Halo site id for rows without a site_id column.",
        minimum=1,
        label="Default site ID",
    )
    assettype_id: int = option(
        1,
        help="Halo asset type id for asset rows without an assettype_id column.",
        minimum=1,
        label="Asset type ID",
        applies_when={"target": ("assets",)},
    )
    encoding: str = option(
        DEFAULT_ENCODING,
        help="The file's text encoding: utf-8-sig (UTF-8, with or without BOM), cp1252 "
        "(Excel's 'CSV (Comma delimited)' on Windows), utf-16, or any other Python knows.",
        label="Text encoding",
    )
    deactivate_missing: bool = option(
        True,
        help="Make a Halo record inactive when its row disappears from the file.",
        label="Deactivate missing rows",
    )
    max_deactivate_percent: float = deactivation_share_option(
        applies_when={"deactivate_missing": (True,)}
    )

    def problems(self) -> list[tuple[str, str]]:
        """Cross-field and shape checks the field types alone cannot express."""
        found = []
        if len(self.delimiter) != 1:
            found.append(("delimiter", "must be exactly one character, such as , or ;"))
        if problem := encoding_problem(self.encoding):
            found.append(("encoding", problem))
        return found


class CsvImport(SyncModule):
    type_name = "csv"
    display_name = "CSV import"
    description = "Users or assets from a CSV file (UTF-8 by default, or its encoding)."
    Options = CsvOptions
    status_record = StatusRecord(
        "Control", field_prefix="halointegrator_xlsimports_", needs_id=False
    )

    options: CsvOptions

    def check(self, context: SourceContext) -> str:
        path = context.resolve(self.options.path)
        rows, failing = 0, []
        for record in self.read(path):
            rows += 1
            if record.problem or not record.key:
                failing.append(f"{record.name}: {record.problem or 'no key value'}")
        found = f"{path.name} is readable: {rows} rows"
        if failing:
            more = f" and {len(failing) - 1} more" if len(failing) > 1 else ""
            found += f"; {len(failing)} will fail ({failing[0]}{more})"
        return found

    def run(self, context: RunContext) -> None:
        path = context.resolve(self.options.path)
        # Headers are Halo field names, so the key column is also what Halo is searched by
        # when a row has no mapping yet (first run, lost state).
        key_column = self.options.key_column or DEFAULT_KEY_COLUMNS[self.options.target]
        target = dataclasses.replace(TARGETS[self.options.target], match=(key_column,))
        # Streamed, not listed: the engine plans over every record before it sends anything,
        # so a file found half-written at its end (SourceNotReadyError) changes nothing.
        rows = _Counter(self.read(path))
        context.sync_records(
            target,
            rows,
            complete=True,
            deactivate_missing=self.options.deactivate_missing,
            max_deactivate_percent=self.options.max_deactivate_percent,
        )
        context.log.info("Read %d rows from %s", rows.count, path)

    def read(self, path: Path) -> Iterator[SourceRecord]:
        """The file's rows as records, streamed; a row that cannot be used has key "".

        Raises ``SourceNotReadyError`` (at the end) for a file still being written, and
        ``ModuleError`` for a missing or unreadable file, a wrong encoding or no key column.
        """
        key_column = self.options.key_column or DEFAULT_KEY_COLUMNS[self.options.target]
        _allow_long_fields()
        lines = read_lines(path, encoding=self.options.encoding)
        reader = csv.DictReader(lines, delimiter=self.options.delimiter)
        try:
            if reader.fieldnames is None:
                # Even an export with no rows has its header line: this one is not written yet.
                raise SourceNotReadyError(
                    f"{path} is empty (not even a header line).",
                    hint="If an export is writing it, the next run reads it; otherwise "
                    "check the program that writes it.",
                )
            headers = [name.strip() for name in reader.fieldnames]
            if key_column not in headers:
                raise ModuleError(
                    f"{path} has no {key_column!r} column (it has: {', '.join(headers)}).",
                    hint="Set key_column, or check the delimiter and the encoding.",
                )
            for row in reader:
                yield self._row_record(row, key_column, reader.line_num)
        except csv.Error as exc:
            raise ModuleError(
                f"{path} is not a valid CSV file (line {reader.line_num}: {exc})."
            ) from exc

    def _row_record(self, row: dict[Any, Any], key_column: str, line: int) -> SourceRecord:
        """The row's record; one that cannot be used carries its ``problem``.

        The engine reports such a record as a failure of that row alone, and keeps the
        Halo record of its key as it is (an over-long note is no reason to deactivate).
        """
        problem = _too_long(row) or _key_problem(key_column, row.get(key_column))
        if problem:
            value = row.get(key_column)
            key = value.strip().lower() if isinstance(value, str) else ""
            return SourceRecord(key=key, fields={}, label=f"line {line}", problem=problem)
        return self._record(row, key_column, line)

    def _record(self, row: dict[str, Any], key_column: str, line: int) -> SourceRecord:
        fields = {
            name.strip(): _convert(name.strip(), value.strip())
            for name, value in row.items()
            if name and name.strip() != "id" and isinstance(value, str) and value.strip()
        }
        if self.options.target == "users":
            fields.setdefault("site_id", self.options.site_id)
            if "name" not in fields and ("firstname" in fields or "surname" in fields):
                fields["name"] = (
                    f"{fields.get('firstname', '')} {fields.get('surname', '')}".strip()
                )
        else:
            fields.setdefault("assettype_id", self.options.assettype_id)
            fields.setdefault("site_id", self.options.site_id)
        key = str(fields.get(key_column, "")).strip().lower()
        label = f"line {line}: {fields.get('name') or fields.get(key_column) or '(empty)'}"
        return SourceRecord(key=key, fields=fields, label=label)


class _Counter(Iterable[SourceRecord]):
    """Passes records through and counts them, so a streamed read can still be logged."""

    def __init__(self, records: Iterable[SourceRecord]) -> None:
        self.records = records
        self.count = 0

    def __iter__(self) -> Iterator[SourceRecord]:
        for record in self.records:
            self.count += 1
            yield record


def _allow_long_fields() -> None:
    """Raise the csv module's process-wide field limit (never lower it: others may need more)."""
    if csv.field_size_limit() < READER_FIELD_LIMIT_CHARACTERS:
        csv.field_size_limit(READER_FIELD_LIMIT_CHARACTERS)


def _too_long(row: dict[Any, Any]) -> str | None:
    """Names the first cell over MAX_FIELD_CHARACTERS (also a surplus cell, under None)."""
    for name, value in row.items():
        for cell in value if isinstance(value, list) else [value]:
            if isinstance(cell, str) and len(cell) > MAX_FIELD_CHARACTERS:
                column = repr(name.strip()) if isinstance(name, str) else "beyond the headers"
                return f"field {column} longer than {MAX_FIELD_CHARACTERS:,} characters"
    return None


def _key_problem(key_column: str, value: Any) -> str | None:
    """Why the key value has the wrong shape for its column, or None (no shape to check)."""
    text = value.strip() if isinstance(value, str) else ""
    if key_column == "emailaddress" and text and not EMAIL_ADDRESS.fullmatch(text):
        return f"{text!r} is not a complete e-mail address (name@example.com)"
    return None


def _convert(name: str, value: str) -> Any:
    if name in INTEGER_FIELDS and value.lstrip("-").isdigit():
        return int(value)
    if name in BOOLEAN_FIELDS:
        return value.lower() in TRUE_WORDS
    return value

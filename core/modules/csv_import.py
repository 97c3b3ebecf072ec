"""``csv``: users or assets from a CSV file whose headers are Halo field names.

The simplest source there is, and the one every admin has (an HR export, an inventory
spreadsheet): it exercises the whole path (matching, change detection, deactivation of rows
that vanish) with nothing to install.
"""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import ModuleError
from core.modules.base import StatusRecord, SyncModule
from core.modules.options import option
from core.run.context import RunContext, SourceContext
from core.sync.records import ASSETS, USERS, HaloTarget, SourceRecord

TARGETS: dict[str, HaloTarget] = {"users": USERS, "assets": ASSETS}
DEFAULT_KEY_COLUMNS = {"users": "emailaddress", "assets": "inventory_number"}
INTEGER_FIELDS = frozenset({"site_id", "client_id", "assettype_id", "status_id", "user_id"})
BOOLEAN_FIELDS = frozenset({"inactive", "isserviceaccount", "neversendemails"})
TRUE_WORDS = frozenset({"true", "yes", "1", "y"})


@dataclass(frozen=True)
class CsvOptions:
    path: str = option(help="The CSV file; a relative path is relative to the settings folder.")
    target: str = option("users", help="What the rows are.", choices=tuple(TARGETS))
    key_column: str = option(
        "",
        help="Column that identifies a row across runs (default: emailaddress for users, "
        "inventory_number for assets).",
    )
    delimiter: str = option(",", help="Field separator, e.g. ; for spreadsheets saved in Europe.")
    site_id: int = option(1, help="Halo site id for rows without a site_id column.", minimum=1)
    assettype_id: int = option(
        1, help="Halo asset type id for asset rows without an assettype_id column.", minimum=1
    )
    deactivate_missing: bool = option(
        True, help="Make a Halo record inactive when its row disappears from the file."
    )
    max_deactivate_percent: float = option(
        10.0,
        help="Refuse a run that would deactivate more than this share of records.",
        minimum=0,
        maximum=100,
    )

    def problems(self) -> list[tuple[str, str]]:
        """Cross-field and shape checks the field types alone cannot express."""
        found = []
        if len(self.delimiter) != 1:
            found.append(("delimiter", "must be exactly one character, such as , or ;"))
        return found


class CsvImport(SyncModule):
    type_name = "csv"
    display_name = "CSV import"
    description = "Users or assets from a CSV file (UTF-8, with or without BOM)."
    Options = CsvOptions
    status_record = StatusRecord(
        "Control", field_prefix="halointegrator_xlsimports_", needs_id=False
    )

    options: CsvOptions

    def check(self, context: SourceContext) -> str:
        path = context.resolve(self.options.path)
        rows = sum(1 for _ in self.read(path))
        return f"{path.name} is readable: {rows} rows"

    def run(self, context: RunContext) -> None:
        path = context.resolve(self.options.path)
        # Headers are Halo field names, so the key column is also what Halo is searched by
        # when a row has no mapping yet (first run, lost state).
        key_column = self.options.key_column or DEFAULT_KEY_COLUMNS[self.options.target]
        target = dataclasses.replace(TARGETS[self.options.target], match=(key_column,))
        records = list(self.read(path))
        context.log.info("Read %d rows from %s", len(records), path)
        context.sync_records(
            target,
            records,
            complete=True,
            deactivate_missing=self.options.deactivate_missing,
            max_deactivate_percent=self.options.max_deactivate_percent,
        )

    def read(self, path: Path) -> Iterator[SourceRecord]:
        """The file's rows as records; ModuleError for a missing file or key column."""
        key_column = self.options.key_column or DEFAULT_KEY_COLUMNS[self.options.target]
        try:
            with path.open(newline="", encoding="utf-8-sig") as handle:
                reader = csv.DictReader(handle, delimiter=self.options.delimiter)
                headers = [name.strip() for name in reader.fieldnames or []]
                if key_column not in headers:
                    raise ModuleError(
                        f"{path} has no {key_column!r} column (it has: {', '.join(headers)}).",
                        hint="Set key_column, or check the delimiter.",
                    )
                for row in reader:
                    yield self._record(row, key_column, reader.line_num)
        except FileNotFoundError as exc:
            raise ModuleError(f"The CSV file {path} does not exist.", hint="Check path.") from exc
        except IsADirectoryError as exc:
            raise ModuleError(f"{path} is a folder, not a CSV file.", hint="Check path.") from exc
        except UnicodeDecodeError as exc:
            raise ModuleError(
                f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start}).",
                hint="Save it as 'CSV UTF-8' from the spreadsheet program.",
            ) from exc
        except csv.Error as exc:
            raise ModuleError(f"{path} is not a valid CSV file: {exc}.") from exc
        except OSError as exc:
            raise ModuleError(
                f"Cannot read {path}: {exc.strerror}.",
                hint="Run the integrator as an account that can read the file.",
            ) from exc

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


def _convert(name: str, value: str) -> Any:
    if name in INTEGER_FIELDS and value.lstrip("-").isdigit():
        return int(value)
    if name in BOOLEAN_FIELDS:
        return value.lower() in TRUE_WORDS
    return value

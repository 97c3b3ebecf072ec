"""GET list semantics: filters, search, inactive records, ordering, paging and wrappers.

Halo answers `{"record_count": <total matching>, "<plural>": [...]}` (or a bare array for
some entities). `record_count` is the number of matching records before paging, which is
what clients use to know how many pages to fetch (halo-api.md section 3).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from halo_emulator.resources import ResourceSpec
from halo_emulator.responses import is_true, parse_id

Record = dict[str, Any]

DEFAULT_PAGE_SIZE = 50
"""Used when `pageinate=true` comes without `page_size` (Halo's default is unconfirmed)."""


class ListError(ValueError):
    """A list request Halo would reject with 400 (e.g. Actions without ticket_id)."""


def select(spec: ResourceSpec, records: list[Record], query: Mapping[str, str]) -> Any:
    """Apply the query to all records of an entity and return the JSON body to send."""
    missing = [name for name in spec.list_requires if not query.get(name)]
    if missing:
        raise ListError(f"{', '.join(missing)} is required to list {spec.name}")
    matching = [record for record in records if _matches(spec, record, query)]
    matching = _ordered(matching, query)
    page = _paged(matching, query)
    if is_true(query.get("idonly")):
        page = [{"id": record["id"]} for record in page]
    page = [_without_unasked_fields(spec, record, query) for record in page]
    if spec.wrapper is None:
        return page
    return {"record_count": len(matching), spec.wrapper: page}


def _matches(spec: ResourceSpec, record: Record, query: Mapping[str, str]) -> bool:
    """True when the record passes every filter the query names."""
    for parameter, field in spec.filters.items():
        wanted = query.get(parameter)
        if wanted not in (None, "") and not _same(record.get(field), wanted):
            return False
    if spec.has_inactive and not is_true(query.get("includeinactive")) and record.get("inactive"):
        return False
    if is_true(query.get("outstandingonly")) and record.get("processed"):
        return False
    search = (query.get("search") or "").strip().lower()
    if search:
        return any(search in str(record.get(field) or "").lower() for field in spec.search_fields)
    return True


def _without_unasked_fields(spec: ResourceSpec, record: Record, query: Mapping[str, str]) -> Record:
    """The record without the fields a list includes only when asked (`includeparameters`)."""
    hidden = {name for name, flag in spec.listed_only_with.items() if not is_true(query.get(flag))}
    if not hidden & record.keys():
        return record
    return {name: value for name, value in record.items() if name not in hidden}


def _same(stored: Any, wanted: str) -> bool:
    """Compare a stored value with a query string: numerically for ids, else case-insensitively."""
    wanted_id = parse_id(wanted)
    if wanted_id is not None and parse_id(stored) is not None:
        return parse_id(stored) == wanted_id
    return str(stored if stored is not None else "").lower() == wanted.lower()


def _ordered(records: list[Record], query: Mapping[str, str]) -> list[Record]:
    """Sort by `order` (field name; records without it last), descending with `orderdesc`."""
    field = query.get("order")
    descending = is_true(query.get("orderdesc"))
    if not field:
        return sorted(records, key=lambda record: record["id"], reverse=descending)

    def sort_key(record: Record) -> tuple[int, Any, str]:
        # Numbers first, compared as they are: float() of a huge int overflows.
        value = record[field]
        if isinstance(value, bool | int | float):
            return (0, value, "")
        return (1, 0, str(value).lower())

    present = [record for record in records if record.get(field) is not None]
    absent = [record for record in records if record.get(field) is None]
    return sorted(present, key=sort_key, reverse=descending) + absent


def _paged(records: list[Record], query: Mapping[str, str]) -> list[Record]:
    """`pageinate=true&page_size&page_no` (1-based) wins over `count` (a plain limit)."""
    if is_true(query.get("pageinate")):
        page_size = _positive(query.get("page_size"), DEFAULT_PAGE_SIZE)
        page_no = _positive(query.get("page_no"), 1)
        start = (page_no - 1) * page_size
        return records[start : start + page_size]
    count = query.get("count")
    if count:
        return records[: _positive(count, len(records))]
    return records


def _positive(text: str | None, default: int) -> int:
    """A positive int from a query value; raises ListError on junk like page_size=abc."""
    if text in (None, ""):
        return default
    number = parse_id(text)
    if number is None or number < 1:
        raise ListError(f"expected a positive whole number, got {text!r}")
    return number

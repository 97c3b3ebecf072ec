"""POST semantics: turn a posted JSON array into saved records (create or update).

Halo's rule (halo-api.md 2.2): an element without `id` (or with id 0/null) is created with
the next sequential id; an element with an existing id is updated by merging the given
fields into the stored record; unknown fields are kept. The emulator answers 404 for an
update of an id that does not exist (Halo's behaviour is unconfirmed). The whole array is
validated first and then written in one transaction: one bad element saves nothing.
"""

from __future__ import annotations

import datetime
from typing import Any

from halo_emulator.resources import (
    NAME_LOOKUPS,
    ResourceSpec,
    derive_fields,
    missing_fields,
    wrongly_typed_fields,
)
from halo_emulator.responses import parse_id
from halo_emulator.store import Record, Store

API_AGENT_ID = 1
"""The baseline agent the API application logs in as."""


class PostError(Exception):
    """A posted array Halo would refuse; carries the HTTP status and the messages."""

    def __init__(self, status: int, message: str, errors: list[str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors


def now_text() -> str:
    """Halo-style timestamp: UTC, ISO 8601, no offset (e.g. '2024-05-01T09:30:00.123')."""
    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    return now.isoformat(timespec="milliseconds")


def prepare(spec: ResourceSpec, items: list[Any], store: Store, application: str) -> list[Record]:
    """Validate and merge every element; return the records to save or raise PostError."""
    prepared: list[Record] = []
    pending: dict[int, Record] = {}
    errors: list[str] = []
    next_id = store.next_id(spec.key)
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            errors.append(f"[{index}]: expected a JSON object")
            continue
        raw_id = item.get("id")
        record_id = parse_id(raw_id)
        if raw_id not in (None, "") and record_id is None:
            errors.append(f"[{index}].id: not a whole number: {raw_id!r}")
            continue
        if record_id:
            existing = pending.get(record_id) or store.get(spec.key, record_id)
            if existing is None:
                raise PostError(404, f"{spec.name} {record_id} not found")
            record = {**existing, **item, "id": record_id}
        else:
            record = {**item, "id": next_id}
            next_id += 1
            _fill_new(spec, record, application)
        _normalise_ids(record)
        derive_fields(spec, record)
        errors.extend(f"[{index}].{name}: required" for name in missing_fields(spec, record))
        errors.extend(f"[{index}].{problem}" for problem in wrongly_typed_fields(spec, record))
        errors.extend(_check_references(spec, record, store, index))
        _fill_lookups(spec, record, store)
        pending[record["id"]] = record
        prepared.append(record)
    if errors:
        raise PostError(400, f"Invalid {spec.name} data: " + "; ".join(errors), errors)
    return prepared


def _fill_new(spec: ResourceSpec, record: Record, application: str) -> None:
    """Fields Halo fills when it creates a record."""
    stamp = now_text()
    record.setdefault("datecreated", stamp)
    if spec.has_inactive:
        record.setdefault("inactive", False)
    if spec.key == "users" and not record.get("site_id"):
        record["site_id"] = 1
    if spec.key == "tickets":
        record.setdefault("status_id", 1)
        record.setdefault("tickettype_id", 1)
        record.setdefault("dateoccurred", stamp)
    if spec.key == "actions":
        record["actionby_application_id"] = application
        record.setdefault("actionby_agent_id", API_AGENT_ID)
        record.setdefault("who", "API Agent")
        record.setdefault("datetime", stamp)
        record.setdefault("actiondatecreated", stamp)
    if spec.key == "integrationerror":
        record.setdefault("date", stamp)
    if spec.key == "powershellscriptprocessing":
        record.setdefault("processed", False)


def _normalise_ids(record: Record) -> None:
    """Emit ints for ids that arrived as floats (Halo types some ids as double)."""
    for name, value in record.items():
        if (name == "id" or name.endswith("_id")) and isinstance(value, float):
            whole = parse_id(value)
            if whole is not None:
                record[name] = whole


def _check_references(spec: ResourceSpec, record: Record, store: Store, index: int) -> list[str]:
    """An action must belong to an existing ticket."""
    if spec.key == "actions" and record.get("ticket_id") not in (None, ""):
        ticket_id = parse_id(record["ticket_id"])
        if ticket_id is None or store.get("tickets", ticket_id) is None:
            return [f"[{index}].ticket_id: ticket {record['ticket_id']!r} does not exist"]
    return []


def _fill_lookups(spec: ResourceSpec, record: Record, store: Store) -> None:
    """Display names next to ids (client_name, site_name, ...), as Halo returns them."""
    if spec.key == "users" and record.get("site_id") and not record.get("client_id"):
        site = store.get("site", parse_id(record["site_id"]) or 0)
        if site is not None:
            record["client_id"] = site.get("client_id")
    for id_field, (entity, source_field, name_field) in NAME_LOOKUPS.items():
        if entity == spec.key or record.get(id_field) in (None, ""):
            continue
        target = store.get(entity, parse_id(record[id_field]) or 0)
        if target is not None:
            record[name_field] = target.get(source_field)
            if entity == "users" and spec.key == "tickets":
                record.setdefault("user_email", target.get("emailaddress"))

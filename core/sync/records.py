"""What a module hands to the sync engine, and what the engine needs to know of a Halo entity."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# Joins the parts of a composite match key; a character no name or e-mail address contains.
KEY_SEPARATOR = "\x1f"


@dataclass(frozen=True)
class Ref:
    """A field value that is another record of the same run: "the Halo id of site X".

    A directory sync creates the sites its users belong to in the same run; the users
    cannot know those ids in advance, so they carry a ``Ref`` that the engine resolves
    from the id map once the sites are written (and shows as "(new Site X)" on a dry run).
    """

    entity: str
    key: str

    def __str__(self) -> str:
        return f"(new {self.entity} {self.key})"


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """One item of a source, already in Halo's field names.

    ``key`` is the stable identity in the source (an objectGUID, a lower-cased e-mail, an
    asset tag); ``label`` is what an admin recognises in an error list. ``problem`` marks a
    record the source already knows to be unusable (a cut e-mail address, an oversized
    field): it fails on its own and is never sent.
    """

    key: str
    fields: dict[str, Any]
    label: str = ""
    problem: str = ""

    @property
    def fingerprint(self) -> str:
        """A digest of the fields sent to Halo: equal digests mean nothing to send."""
        canonical = json.dumps(self.fields, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    @property
    def name(self) -> str:
        return self.label or self.key


@dataclass(frozen=True)
class HaloTarget:
    """A Halo entity as the engine writes it.

    ``match`` finds an existing Halo record for a source record the engine has never mapped
    (first run, lost state DB), so nothing is created twice. It lists alternatives tried in
    order, each one field or a tuple of fields that only together identify a record (a site
    is its client and its name): a user is found by the directory GUID first, then by
    e-mail. ``searchable`` names the match fields Halo's ``search`` parameter covers, so a
    handful of new records are looked up one by one instead of listing the whole entity.

    ``marker_field`` is where the engine writes which integration instance made a record,
    so that after a lost state DB the instance still knows its records, including the ones
    whose source item vanished in the meantime. ``deactivate_fields`` retires a record
    whose source item vanished (Halo keeps history, so records are made inactive, never
    deleted).
    """

    entity: str
    match: tuple[str | tuple[str, ...], ...]
    searchable: frozenset[str] = frozenset()
    marker_field: str | None = None
    deactivate_fields: dict[str, Any] = field(default_factory=lambda: {"inactive": True})
    reactivate_fields: dict[str, Any] = field(default_factory=lambda: {"inactive": False})

    @property
    def match_keys(self) -> tuple[tuple[str, ...], ...]:
        return tuple((item,) if isinstance(item, str) else item for item in self.match)

    @property
    def match_field(self) -> str:
        """The first match key, as an admin reads it in a message."""
        return " + ".join(self.match_keys[0])

    def match_values(self, fields: Mapping[str, Any]) -> list[str]:
        """One value per match key, "" where the record lacks a part of that key."""
        values = []
        for names in self.match_keys:
            parts = [normalise(fields.get(name)) for name in names]
            values.append(KEY_SEPARATOR.join(parts) if all(parts) else "")
        return values

    def match_value(self, fields: Mapping[str, Any]) -> str:
        """The first match value the record has: what identifies it in a message."""
        return next((value for value in self.match_values(fields) if value), "")


def normalise(value: Any) -> str:
    """Matching is case- and whitespace-insensitive, as Halo's own matching is.

    Halo's spec types some ids as doubles (``Site.client_id``), so 3.0 and 3 are one value.
    """
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip().lower()


MARKER_PREFIX = "halo-integrator:"


def marker_value(instance: str) -> str:
    """What ``marker_field`` holds on a record this instance wrote."""
    return f"{MARKER_PREFIX}{instance}".lower()


USERS = HaloTarget(
    entity="Users",
    match=("emailaddress",),
    searchable=frozenset({"emailaddress", "login", "name"}),
    marker_field="third_party_id",
)
ASSETS = HaloTarget(
    entity="Asset",
    match=("inventory_number",),
    searchable=frozenset({"inventory_number"}),
    marker_field="third_party_id_string",
)
SITES = HaloTarget(entity="Site", match=(("client_id", "name"),))

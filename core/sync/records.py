"""What a module hands to the sync engine, and what the engine needs to know of a Halo entity."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SourceRecord:
    """One item of a source, already in Halo's field names.

    ``key`` is the stable identity in the source (an objectGUID, a lower-cased e-mail, an
    asset tag); ``label`` is what an admin recognises in an error list.
    """

    key: str
    fields: dict[str, Any]
    label: str = ""

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

    ``match_field`` finds an existing Halo record for a source record the engine has never
    mapped (first run, lost state DB), so nothing is created twice; ``deactivate_fields`` is
    the change that retires a record whose source item vanished (Halo keeps history, so
    records are made inactive, never deleted).
    """

    entity: str
    match_field: str
    deactivate_fields: dict[str, Any] = field(default_factory=lambda: {"inactive": True})
    reactivate_fields: dict[str, Any] = field(default_factory=lambda: {"inactive": False})

    def match_value(self, fields: dict[str, Any]) -> str:
        return normalise(fields.get(self.match_field))


def normalise(value: Any) -> str:
    """Matching is case- and whitespace-insensitive, as Halo's own matching is."""
    return str(value).strip().lower() if value is not None else ""


USERS = HaloTarget(entity="Users", match_field="emailaddress")
ASSETS = HaloTarget(entity="Asset", match_field="inventory_number")

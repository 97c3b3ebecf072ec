"""The entity table: every Halo resource the emulator serves, and how Halo shapes it.

One row per resource says what halo-api.md section 2 says about it: the list wrapper key
(or a bare array), the mandatory fields, which query parameters filter on which fields,
and which fields `search` looks in. Handlers are generic and read this table, so adding
a resource is adding a row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


def _frozen(**pairs: str) -> Mapping[str, str]:
    return MappingProxyType(pairs)


@dataclass(frozen=True)
class ResourceSpec:
    """How one Halo entity behaves under /api/<name>."""

    name: str
    """Spelling in Halo's spec (paths match case-insensitively)."""
    wrapper: str | None
    """List key next to `record_count`, or None when Halo answers a bare array."""
    required: tuple[tuple[str, ...], ...] = ()
    """Each group must have at least one non-empty field, e.g. (("outcome", "outcome_id"),)."""
    search_fields: tuple[str, ...] = ("name",)
    filters: Mapping[str, str] = field(default_factory=lambda: _frozen())
    """Query parameter -> record field compared for equality."""
    has_inactive: bool = False
    """Inactive records (`inactive: true`) are hidden unless `includeinactive=true`."""
    list_requires: tuple[str, ...] = ()
    """Query parameters a list request must carry (Actions needs ticket_id)."""
    singleton: bool = False
    """One settings object (Control): GET returns it, POST merges into it."""
    text_fields: tuple[str, ...] = ()
    """Fields that must be a string (or null) when posted: the emulator reads them as text
    (Control's mail tags, which Halo's spec types as strings)."""
    listed_only_with: Mapping[str, str] = field(default_factory=lambda: _frozen())
    """Field -> query parameter: lists leave the field out unless the parameter is true
    (a queue entry's `execution_parameters` need `includeparameters=true`). A single GET
    returns the whole record."""

    @property
    def key(self) -> str:
        """Lower-case name: the routing key and the store's entity name."""
        return self.name.lower()


_CLIENT_SITE = _frozen(client_id="client_id", site_id="site_id")

RESOURCES: tuple[ResourceSpec, ...] = (
    ResourceSpec(
        "Users",
        "users",
        required=(("name", "firstname", "surname"),),
        search_fields=("name", "emailaddress", "login", "firstname", "surname"),
        filters=_CLIENT_SITE,
        has_inactive=True,
    ),
    ResourceSpec("Client", "clients", required=(("name",),), has_inactive=True),
    ResourceSpec(
        "Site",
        "sites",
        required=(("name",),),
        filters=_frozen(client_id="client_id"),
        has_inactive=True,
    ),
    ResourceSpec(
        "Asset",
        "assets",
        search_fields=("inventory_number", "key_field", "key_field2", "key_field3"),
        filters=_frozen(
            client_id="client_id",
            site_id="site_id",
            assettype_id="assettype_id",
            inventory_number="inventory_number",
            user_id="user_id",
        ),
        has_inactive=True,
    ),
    ResourceSpec("AssetType", None, required=(("name",),)),
    ResourceSpec(
        "Tickets",
        "tickets",
        required=(("summary",),),
        search_fields=("summary", "details"),
        filters=_frozen(
            client_id="client_id",
            site_id="site_id",
            user_id="user_id",
            agent_id="agent_id",
            status_id="status_id",
            tickettype_id="tickettype_id",
            requesttype_id="tickettype_id",
        ),
    ),
    ResourceSpec(
        "Actions",
        "actions",
        required=(("ticket_id",), ("outcome", "outcome_id")),
        search_fields=("note", "outcome"),
        filters=_frozen(ticket_id="ticket_id"),
        list_requires=("ticket_id",),
    ),
    ResourceSpec("Agent", None, required=(("name",),), search_fields=("name", "email")),
    ResourceSpec(
        "Attachment",
        "attachments",
        required=(("filename",),),
        search_fields=("filename",),
        filters=_frozen(ticket_id="ticket_id", action_id="action_id"),
    ),
    ResourceSpec("Status", None, required=(("name",),)),
    ResourceSpec("TicketType", None, required=(("name",),)),
    ResourceSpec("Priority", None, required=(("name",),)),
    ResourceSpec("Lookup", "lookup", filters=_frozen(lookupid="lookupid")),
    # Integrator-facing configuration records (halo-api.md section 5). Their list shapes
    # are unconfirmed; bare arrays like the other configuration lists.
    ResourceSpec("LDAPConnection", None, required=(("name",),)),
    ResourceSpec("AzureADConnection", None, required=(("name",),)),
    ResourceSpec("Mailbox", None, required=(("name",),)),
    ResourceSpec("PowerShellScript", None, required=(("name",),)),
    ResourceSpec("SQLImport", None, required=(("name",),)),
    ResourceSpec("Features", None, search_fields=("module_name", "actual_name")),
    ResourceSpec("Control", None, singleton=True, text_fields=("email_start_tag", "email_end_tag")),
    ResourceSpec(
        "IntegrationError",
        "integrationerrors",
        search_fields=("error", "entity_name"),
        filters=_frozen(module_id="module_id", detail_id="detail_id"),
    ),
    ResourceSpec(
        "PowerShellScriptProcessing",
        "powershellscriptprocessing",
        search_fields=("script_name",),
        filters=_frozen(script_id="pssid", ticket_id="faultid"),
        # Halo's spec offers `includeparameters` on this list only [I: left out otherwise].
        listed_only_with=_frozen(execution_parameters="includeparameters"),
    ),
    ResourceSpec("IncomingEmail", "incomingemail", search_fields=("subject", "from")),
)

BY_KEY: Mapping[str, ResourceSpec] = MappingProxyType({spec.key: spec for spec in RESOURCES})

NAME_LOOKUPS: Mapping[str, tuple[str, str, str]] = MappingProxyType(
    {
        "client_id": ("client", "name", "client_name"),
        "site_id": ("site", "name", "site_name"),
        "assettype_id": ("assettype", "name", "assettype_name"),
        "user_id": ("users", "name", "user_name"),
    }
)
"""Server-filled display names: id field -> (entity, its field, the name field to fill)."""


def missing_fields(spec: ResourceSpec, record: Mapping[str, object]) -> list[str]:
    """Names of the mandatory field groups this record fails, e.g. ['outcome or outcome_id']."""
    missing = []
    for group in spec.required:
        if not any(record.get(name) not in (None, "") for name in group):
            missing.append(" or ".join(group))
    return missing


def wrongly_typed_fields(spec: ResourceSpec, record: Mapping[str, object]) -> list[str]:
    """Problems with fields of the wrong type, e.g. ['email_start_tag: must be text, not 5']."""
    return [
        f"{name}: must be text, not {record[name]!r}"
        for name in spec.text_fields
        if record.get(name) is not None and not isinstance(record[name], str)
    ]


def derive_fields(spec: ResourceSpec, record: dict[str, object]) -> None:
    """Fields Halo fills from others: a user's `name` from firstname + surname."""
    if spec.key == "users" and not record.get("name"):
        parts = [str(record.get(part) or "").strip() for part in ("firstname", "surname")]
        record["name"] = " ".join(part for part in parts if part)

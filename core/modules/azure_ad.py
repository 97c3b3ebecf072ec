"""``azure_ad``: Entra ID (Azure AD) users → Halo users over Microsoft Graph, with delta queries.

The seed's heavy import ("may import thousands of users ... recommended to be daily") made
cheap: Graph's delta query returns only what changed since the last run, so a run can be
hourly. The first run follows ``/users/delta`` page by page to its ``@odata.deltaLink``,
which is the checkpoint, committed only when Halo took the whole run; later runs follow it
and get changes and ``@removed`` entries (deleted, or out of scope) → inactive in Halo. An
expired delta token (410) falls back to a full run by itself.

Everything else is the shared directory machinery: field map, placement rules, guard,
marker, Halo-held settings (``/azureadconnection``), and taking over the users a previous
``ldap`` instance imported (``take_over_from``), so hybrid identities move cleanly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.modules.base import StatusRecord, SyncModule
from core.modules.options import (
    deactivation_count_option,
    deactivation_share_option,
    full_read_option,
    option,
)
from core.run.context import RunContext, SourceContext
from core.settings.model import Interval
from core.settings.secrets import as_secret
from core.sources.graph_types import USER_SELECT
from core.sync.field_map import FieldMap, field_map_problems
from core.sync.placement import Placement, PlacementRule, named_sites, place
from core.sync.records import SITES, HaloTarget, Ref, SourceRecord, normalise

DELTA_LINK = "delta_link"
# Halo's own Entra fields (halo-api.md 2.1) and the usual ones.
GRAPH_FIELDS = {
    "name": "displayName,userPrincipalName",
    "firstname": "givenName",
    "surname": "surname",
    "emailaddress": "mail,userPrincipalName|lower",
    "login": "userPrincipalName|lower",
    "title": "jobTitle",
    "department": "department",
    "phonenumber": "businessPhones|first",
    "mobilenumber": "mobilePhone",
    "samaccountname": "onPremisesSamAccountName",
    "inactive": "accountEnabled|not",
    "azureoid": "id|lower",
}


@dataclass(frozen=True)
class AzureAdOptions:
    tenant_id: str = option(
        "", help="The Entra tenant id (Directory ID) or its domain.", label="Tenant ID"
    )
    app_client_id: str = option(
        "", help="The app registration's Application (client) ID.", label="App (client) ID"
    )
    app_client_secret: str = option(
        "", help="A client secret of that app.", secret=True, label="App client secret"
    )
    certificate_path: str = option(
        "",
        help="Or: a PEM file with the app's certificate and private key.",
        label="App certificate file",
        browse="file",
    )
    graph_url: str = option(
        "https://graph.microsoft.com", help="Microsoft Graph's address.", label="Graph URL"
    )
    login_url: str = option(
        "https://login.microsoftonline.com",
        help="Entra ID's token service address.",
        label="Login URL",
    )
    groups: list[str] = option(
        default_factory=list,
        help="Only members of these group ids (default: every user).",
        label="Only these groups",
    )
    placement: list[PlacementRule] = option(
        default_factory=list,
        help="Rules placing users by group, domain or attribute (first match wins).",
        example=[{"domain": "leeds.example.com", "site_name": "Leeds"}],
        label="Placement rules",
    )
    client_id: int = option(
        1, help="Halo client for users no rule places.", minimum=1, label="Default client ID"
    )
    site_id: int = option(
        1, help="Halo site for users no rule places.", minimum=1, label="Default site ID"
    )
    create_sites: bool = option(
        False, help="Create the sites rules name that Halo lacks.", label="Create missing sites"
    )
    field_map: dict[str, str] = option(
        default_factory=dict,
        help="Halo field → Graph user property (with |converters), over the default map.",
        example={"notes": "officeLocation"},
        label="Field map",
    )
    take_over_from: list[str] = option(
        default_factory=list,
        help="Instances (e.g. an ldap one) whose users this one takes over: hybrid identities.",
        label="Take over from",
    )
    full_reconcile_every: str = full_read_option("7d", "every user")
    max_deactivate_percent: float = deactivation_share_option()
    max_deactivate_count: int = deactivation_count_option("users")
    halo_connection_id: int = option(
        0,
        help="Halo's azureadconnection record to read settings from and report to.",
        minimum=0,
        label="Halo Entra connection ID",
    )

    def problems(self) -> list[tuple[str, str]]:
        found = field_map_problems(self.field_map)
        if not self.halo_connection_id:
            for name in ("tenant_id", "app_client_id"):
                if not getattr(self, name):
                    found.append((name, "required (or set halo_connection_id)"))
        if not self.app_client_secret and not self.certificate_path:
            found.append(("app_client_secret", "required (or certificate_path)"))
        return found


class AzureAd(SyncModule):
    type_name = "azure_ad"
    display_name = "Entra ID (Azure AD)"
    description = "Users from Entra ID over Microsoft Graph, with delta queries."
    Options = AzureAdOptions
    status_record = StatusRecord("azureadconnection", id_option="halo_connection_id")

    options: AzureAdOptions
    _groups_of: dict[str, list[str]]

    def check(self, context: SourceContext) -> str:
        options = self.options
        if not (options.tenant_id and options.app_client_id):
            return (
                f"tenant and application come from Halo's azureadconnection "
                f"{options.halo_connection_id} at run time (not checked here)"
            )
        with self._graph(options, context) as graph:
            graph.check_access()
        return f"tenant {options.tenant_id}: signed in, users readable"

    def run(self, context: RunContext) -> None:
        from core.sources.graph_errors import DeltaTokenExpiredError

        options = self.options_for_run(context.client)
        field_map = FieldMap.parse(options.field_map, base=GRAPH_FIELDS)
        select = sorted({*USER_SELECT, *field_map.attributes})
        every = Interval.parse(options.full_reconcile_every)
        full = context.full_reconcile_due(every) or context.checkpoint(DELTA_LINK) is None
        link = None if full else context.checkpoint(DELTA_LINK)
        with self._graph(options, context) as graph:
            self._groups_of = self._placement_groups(graph, options)
            try:
                delta = graph.delta_users(select, delta_link=link)
                changed, removed = self._split(graph, delta, select, options, field_map)
            except DeltaTokenExpiredError:
                context.log.warning("The delta token expired (410): reading every user")
                delta = graph.delta_users(select, delta_link=None)
                changed, removed = self._split(graph, delta, select, options, field_map)
            full = delta.is_full
            members = self._members(graph, options) if options.groups else None
        if members is not None:
            # Group scoping: whoever is not a member now is out of scope, changed or not.
            changed = [record for record in changed if record.key in members]
        sites = named_sites(options.placement, options.client_id)
        if sites:
            context.sync_records(
                SITES, sites, deactivate_missing=False, create=options.create_sites
            )
        context.sync_records(
            self._target(),
            changed,
            complete=full and members is None,
            removed=removed,
            present=members,
            reconcile=full,
            max_deactivate_percent=options.max_deactivate_percent,
            max_deactivate_count=options.max_deactivate_count,
            take_over_from=options.take_over_from,
        )
        context.stage_checkpoint(DELTA_LINK, delta.delta_link)
        if full:
            context.stage_full_reconcile()

    # -- reading -------------------------------------------------------------------------------

    def _split(
        self,
        graph: Any,
        delta: Any,
        select: list[str],
        options: AzureAdOptions,
        field_map: FieldMap,
    ) -> tuple[list[SourceRecord], list[str]]:
        """Changed users as records, removed ones (``@removed``) as keys.

        A later round may carry only the properties that changed; such a user is read whole
        (one request per changed user), so nothing unchanged is blanked in Halo.
        """
        from core.sources.graph_types import RemovedUser

        changed: list[SourceRecord] = []
        removed: list[str] = []
        for item in delta:
            key = normalise(item.id)
            if not key:
                continue
            if isinstance(item, RemovedUser):
                removed.append(key)
                continue
            properties = dict(item.properties)
            if not delta.is_full and not set(select) <= set(properties) | {"id"}:
                url = f"{graph.settings.api_url}/users/{item.id}"
                properties = graph.get(url, {"$select": ",".join(select)}, what="a user")
            changed.append(self._user({**properties, "id": item.id}, key, options, field_map))
        return changed, removed

    def _user(
        self,
        item: Mapping[str, Any],
        key: str,
        options: AzureAdOptions,
        field_map: FieldMap,
    ) -> SourceRecord:
        fields = field_map.apply(item)
        fields["azure_tenant_id"] = options.tenant_id
        # Placement by group: the groups the rules name that this user is a member of.
        item = {**item, "memberOf": self._groups_of.get(key, [])}
        default = Placement(options.client_id, options.site_id)
        where = place(
            options.placement,
            item,
            default,
            address=str(item.get("userPrincipalName") or item.get("mail") or ""),
        )
        fields["client_id"] = where.client_id
        fields["site_id"] = where.site_id or Ref("Site", where.site_key)
        label = f"{fields.get('name') or key} ({item.get('userPrincipalName') or key})"
        problem = "" if fields.get("name") else "has no displayName to give Halo"
        return SourceRecord(key=key, fields=fields, label=label, problem=problem)

    def _placement_groups(self, graph: Any, options: AzureAdOptions) -> dict[str, list[str]]:
        """User id → the rule groups (by object id) it is in: one member listing per group."""
        groups_of: dict[str, list[str]] = {}
        for group in dict.fromkeys(rule.group for rule in options.placement if rule.group):
            for member in graph.group_member_ids(group):
                groups_of.setdefault(normalise(member), []).append(group)
        return groups_of

    def _members(self, graph: Any, options: AzureAdOptions) -> set[str]:
        return {
            normalise(member)
            for group in options.groups
            for member in graph.group_member_ids(group)
        }

    def _target(self) -> HaloTarget:
        """Users matched by object id first, then UPN (login), then e-mail."""
        return HaloTarget(
            entity="Users",
            match=("azureoid", "login", "emailaddress"),
            searchable=frozenset({"emailaddress", "login"}),
            marker_field="third_party_id",
        )

    # -- settings -------------------------------------------------------------------------------

    def _graph(self, options: AzureAdOptions, context: SourceContext) -> Any:
        from core.sources.graph_client import GraphClient, GraphSettings

        credential = as_secret(options.app_client_secret)
        certificate = (
            context.resolve(options.certificate_path) if options.certificate_path else None
        )
        return GraphClient(
            GraphSettings(
                tenant_id=options.tenant_id,
                client_id=options.app_client_id,
                client_secret=None if certificate else credential,
                certificate_path=certificate,
                login_url=options.login_url,
                graph_url=options.graph_url,
            )
        )

    def options_from_halo(self, record: Mapping[str, Any]) -> dict[str, Any]:
        return options_from_connection(record)


def options_from_connection(record: Mapping[str, Any]) -> dict[str, Any]:
    """Our option names for what Halo's azureadconnection holds (halo-api.md 5.4)."""
    found: dict[str, Any] = {}
    if record.get("directoryid"):
        found["tenant_id"] = str(record["directoryid"])
    elif record.get("domain"):
        found["tenant_id"] = str(record["domain"])
    if record.get("applicationid"):
        found["app_client_id"] = str(record["applicationid"])
    mappings = {
        str(item["nhd_field"]): str(item["azure_field"])
        for item in record.get("mappings_user") or []
        if isinstance(item, dict) and item.get("nhd_field") and item.get("azure_field")
    }
    if mappings:
        found["field_map"] = mappings
    return found

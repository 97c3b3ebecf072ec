"""``ldap``: Active Directory or OpenLDAP users → Halo users (and the sites they belong to).

The integration an on-prem integrator exists for: only a box inside the network reaches
the domain controllers. A directory of thousands of users must be cheap to run often, so
a run reads only what changed since the last one Halo accepted (AD: ``uSNChanged`` above a
mark bound to one DC; OpenLDAP: ``modifyTimestamp``), plus an ids-only listing of the
scope to find who left. A full reconcile (every ``full_reconcile_every``, after a failed or
refused run, or ``sync NAME --full``) reads everything and also corrects what someone
changed by hand in Halo.

The directory side lives in ``core.sources.ldap_*``; matching, change detection, guard,
checkpoints and sites come from the shared engine. This class only maps one to the other.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator, Mapping
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
from core.sources.ldap_delta import (
    UsnHighWaterMark,
    timestamp_delta_filter,
    usn_delta_filter,
)
from core.sources.ldap_errors import DirectoryError
from core.sources.ldap_profiles import PROFILES, DirectoryProfile
from core.sources.ldap_types import DirectoryEntry, DirectorySettings
from core.sources.ldap_values import parse_generalized_time
from core.sync.field_map import FieldMap, field_map_problems
from core.sync.placement import Placement, PlacementRule, named_sites, place
from core.sync.records import SITES, HaloTarget, Ref, SourceRecord, normalise

# Halo's own directory fields (halo-api.md 2.1), so Halo shows where a user came from.
PROFILE_FIELDS: dict[str, dict[str, str]] = {
    "ad": {
        "name": "displayName,cn,sAMAccountName",
        "firstname": "givenName",
        "surname": "sn",
        "emailaddress": "mail|lower",
        "login": "userPrincipalName,sAMAccountName|lower",
        "samaccountname": "sAMAccountName",
        "activedirectory_dn": "dn",
        "phonenumber": "telephoneNumber",
        "mobilenumber": "mobile",
        "title": "title",
        "department": "department",
        "admanager": "manager",
        "inactive": "userAccountControl|bit:2",
    },
    "openldap": {
        "name": "displayName,cn,uid",
        "firstname": "givenName",
        "surname": "sn",
        "emailaddress": "mail|lower",
        "login": "uid|lower",
        "activedirectory_dn": "dn",
        "phonenumber": "telephoneNumber",
    },
}
USN_MARK, SINCE_MARK = "usn", "since"


def _base_dns_from_text(text: str) -> list[dict[str, str]]:
    return [{"dn": part.strip()} for part in text.split(";") if part.strip()]


def _base_dns_to_text(value: Any) -> str | None:
    """``A;B`` for bases that are only a DN each; None when one has its own filter or site."""
    if not isinstance(value, list) or not all(isinstance(base, dict) for base in value):
        return None
    plain = {"filter": "", "client_id": 0, "site_id": 0, "site_name": ""}
    if any({key: base.get(key, plain[key]) for key in plain} != plain for base in value):
        return None
    if any(";" in str(base.get("dn", "")) for base in value):
        return None
    return ";".join(str(base.get("dn", "")) for base in value)


@dataclass(frozen=True)
class BaseDn:
    """One search base, with its own filter and where its users go."""

    dn: str = option(help="The search base, e.g. OU=Staff,DC=example,DC=com.")
    filter: str = option("", help="LDAP filter for this base (default: the module's filter).")
    client_id: int = option(0, help="Halo client for users under this base (0: the default).")
    site_id: int = option(0, help="Halo site for users under this base (0: the default).")
    site_name: str = option("", help="Halo site by name under the client (see create_sites).")


@dataclass(frozen=True)
class LdapOptions:
    server: str = option(
        "",
        help="ldaps://dc1.example.com:636, or ldap://host:389 with start_tls.",
        label="Directory server",
    )
    start_tls: bool = option(
        False, help="Upgrade an ldap:// connection with StartTLS.", label="Use StartTLS"
    )
    ca_file: str = option(
        "",
        help="PEM file of a private CA that signed the server's certificate.",
        label="CA certificate file",
        browse="file",
    )
    bind_dn: str = option(
        "",
        help="A read-only service account: its DN, user@domain, or DOMAIN\\user (NTLM).",
        label="Service account",
    )
    bind_password: str = option(
        "", help="The service account's password.", secret=True, label="Service account password"
    )
    base_dns: list[BaseDn] = option(
        default_factory=list,
        help="Search bases: 'OU=A,DC=x;OU=B,DC=x', or a list with a filter and placement each.",
        from_text=_base_dns_from_text,
        to_text=_base_dns_to_text,
        example=[{"dn": "OU=Staff,DC=example,DC=com", "site_name": "Head office"}],
        label="Search bases",
    )
    filter: str = option(
        "",
        help="LDAP filter for users (default: the profile's people filter).",
        label="User filter",
    )
    profile: str = option(
        "ad", help="Which kind of directory.", choices=tuple(PROFILES), label="Directory kind"
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
    placement: list[PlacementRule] = option(
        default_factory=list,
        help="Rules placing users by OU, group or attribute (first match wins).",
        example=[{"ou": "OU=Leeds,OU=Staff,DC=example,DC=com", "site_name": "Leeds"}],
        label="Placement rules",
    )
    field_map: dict[str, str] = option(
        default_factory=dict,
        help="Halo field → directory attribute (with |converters), over the profile's map.",
        example={"department": "department|upper", "mobilenumber": ""},
        label="Field map",
    )
    guid_field: str = option(
        "third_party_guid",
        help="The Halo user field that holds the directory's GUID.",
        label="GUID field in Halo",
    )
    disabled_attribute: str = option(
        "",
        help="For non-AD directories: an attribute whose presence means disabled.",
        label="Disabled attribute",
        applies_when={"profile": tuple(name for name in PROFILES if name != "ad")},
    )
    page_size: int = option(
        500, help="Entries per page of a search.", minimum=1, maximum=100_000, label="Page size"
    )
    full_reconcile_every: str = full_read_option("7d", "the whole directory")
    max_deactivate_percent: float = deactivation_share_option()
    max_deactivate_count: int = deactivation_count_option("users")
    halo_connection_id: int = option(
        0,
        help="Halo's LDAPConnection record to read settings from and report to.",
        minimum=0,
        label="Halo LDAP connection ID",
    )

    def problems(self) -> list[tuple[str, str]]:
        found = field_map_problems(self.field_map)
        if not self.halo_connection_id:
            if not self.server:
                found.append(("server", "required (or set halo_connection_id)"))
            if not self.base_dns:
                found.append(("base_dns", "required (or set halo_connection_id)"))
        return found


class LdapImport(SyncModule):
    type_name = "ldap"
    display_name = "Active Directory / LDAP"
    description = "Users (and their sites) from Active Directory or OpenLDAP, with delta runs."
    Options = LdapOptions
    status_record = StatusRecord("LDAPConnection", id_option="halo_connection_id")
    requires = ("ldap3",)
    extra = "ldap"

    options: LdapOptions

    # -- check and run -----------------------------------------------------------------------

    def check(self, context: SourceContext) -> str:
        from core.sources.ldap_directory import LdapDirectory

        options = self.options
        if not (options.server and options.base_dns):
            # Validate has no Halo client here; the run reads the record first.
            return (
                f"server and base DNs come from Halo's LDAPConnection "
                f"{options.halo_connection_id} at run time (not checked here)"
            )
        profile = PROFILES[options.profile]
        counts = []
        with LdapDirectory(self._directory_settings(options, context)) as directory:
            for base in options.base_dns:
                ids = directory.list_ids(base.dn, self._filter(base, profile), profile.id_attribute)
                counts.append(sum(1 for _ in ids))
        total = sum(counts)
        return f"{options.server}: bound, {total} users in {len(counts)} base DN(s)"

    def run(self, context: RunContext) -> None:
        from core.sources.ldap_directory import LdapDirectory

        options = self.options_for_run(context.client)
        profile = PROFILES[options.profile]
        field_map = FieldMap.parse(options.field_map, base=self._profile_map(options, profile))
        attributes = sorted(
            {*profile.attributes, *field_map.attributes, "memberOf"} - {"dn"}, key=str.lower
        )
        with LdapDirectory(self._directory_settings(options, context)) as directory:
            full, mark = self._plan_run(context, options, profile, directory)
            sites = named_sites([*options.base_dns, *options.placement], options.client_id)
            if sites:
                context.sync_records(
                    SITES, sites, deactivate_missing=False, create=options.create_sites
                )
            users = self._users(
                context,
                directory,
                options,
                profile,
                field_map,
                attributes,
                delta=None if full else mark,
            )
            present = None if full else self._present(directory, options, profile)
            context.sync_records(
                self._target(options),
                users,
                complete=full,
                present=present,
                reconcile=full,
                max_deactivate_percent=options.max_deactivate_percent,
                max_deactivate_count=options.max_deactivate_count,
            )
        context.stage_checkpoint(*mark)
        if full:
            context.stage_full_reconcile()

    # -- what to read --------------------------------------------------------------------------

    def _plan_run(
        self,
        context: RunContext,
        options: LdapOptions,
        profile: DirectoryProfile,
        directory: Any,
    ) -> tuple[bool, tuple[str, str]]:
        """Full or delta, and the mark to store if this run ends well (read *before* the
        search, so a change made during it is read again next time, not missed)."""
        if profile.change_attribute == "uSNChanged":
            current = directory.usn_high_water_mark()
            new_mark = (USN_MARK, json.dumps(current.to_json()))
            stored = _stored_usn(context.checkpoint(USN_MARK))
            usable = stored is not None and stored.same_counter(current)
            if stored is not None and not usable:
                context.log.warning(
                    "The directory counter changed (another DC, or a restored one): full read"
                )
        else:
            now = datetime.datetime.now(datetime.UTC)
            new_mark = (SINCE_MARK, now.strftime("%Y%m%d%H%M%SZ"))
            usable = context.checkpoint(SINCE_MARK) is not None
        every = Interval.parse(options.full_reconcile_every)
        full = not usable or context.full_reconcile_due(every)
        context.log.info("%s run of %s", "Full" if full else "Delta", options.server)
        return full, new_mark

    def _filter(self, base: BaseDn, profile: DirectoryProfile) -> str:
        return base.filter or self.options.filter or profile.user_filter

    def _users(
        self,
        context: RunContext,
        directory: Any,
        options: LdapOptions,
        profile: DirectoryProfile,
        field_map: FieldMap,
        attributes: list[str],
        *,
        delta: tuple[str, str] | None,
    ) -> Iterator[SourceRecord]:
        stored = context.checkpoint(delta[0]) if delta else None
        for base in options.base_dns:
            search_filter = self._filter(base, profile)
            if stored is not None and delta and delta[0] == USN_MARK:
                mark = _stored_usn(stored)
                assert mark is not None  # _plan_run made it a delta run only with a mark
                search_filter = usn_delta_filter(search_filter, mark)
            elif stored is not None:
                search_filter = timestamp_delta_filter(
                    search_filter, parse_generalized_time(stored)
                )
            for entry in directory.search(base.dn, search_filter, attributes):
                yield self._user(entry, base, options, profile, field_map)

    def _user(
        self,
        entry: DirectoryEntry,
        base: BaseDn,
        options: LdapOptions,
        profile: DirectoryProfile,
        field_map: FieldMap,
    ) -> SourceRecord:
        record = entry.record()
        fields = field_map.apply(record)
        key = normalise(entry.first(profile.id_attribute))
        fields[options.guid_field] = key
        default = Placement(
            base.client_id or options.client_id,
            base.site_id or (0 if base.site_name else options.site_id),
            base.site_name,
        )
        where = place(
            options.placement,
            record,
            default,
            dn=entry.dn,
            address=str(fields.get("emailaddress") or entry.first("userPrincipalName") or ""),
        )
        fields["client_id"] = where.client_id
        fields["site_id"] = where.site_id or Ref("Site", where.site_key)
        if options.halo_connection_id:
            fields["adconnection"] = options.halo_connection_id
        label = f"{fields.get('name') or entry.dn} ({entry.dn})"
        problem = "" if fields.get("name") else "has no name (displayName, cn) to give Halo"
        return SourceRecord(key=key, fields=fields, label=label, problem=problem)

    def _present(
        self, directory: Any, options: LdapOptions, profile: DirectoryProfile
    ) -> list[str]:
        """Every id still in scope: an ids-only listing, a few MB for 100,000 users."""
        return [
            normalise(item.id)
            for base in options.base_dns
            for item in directory.list_ids(
                base.dn, self._filter(base, profile), profile.id_attribute
            )
        ]

    def _target(self, options: LdapOptions) -> HaloTarget:
        """Users matched by the directory GUID first, then by e-mail, then by login."""
        return HaloTarget(
            entity="Users",
            match=(options.guid_field, "emailaddress", "login"),
            searchable=frozenset({"emailaddress", "login"}),
            marker_field="third_party_id",
        )

    def _profile_map(self, options: LdapOptions, profile: DirectoryProfile) -> dict[str, str]:
        fields = dict(PROFILE_FIELDS[profile.name])
        if options.disabled_attribute:
            fields["inactive"] = f"{options.disabled_attribute}|present"
        return fields

    # -- settings --------------------------------------------------------------------------------

    def _directory_settings(
        self, options: LdapOptions, context: SourceContext
    ) -> DirectorySettings:
        return DirectorySettings(
            server=options.server,
            bind_dn=options.bind_dn,
            bind_password=as_secret(options.bind_password),
            start_tls=options.start_tls,
            ca_file=str(context.resolve(options.ca_file)) if options.ca_file else "",
            page_size=options.page_size,
        )

    def options_from_halo(self, record: Mapping[str, Any]) -> dict[str, Any]:
        return options_from_ldap_connection(record)


def options_from_ldap_connection(record: Mapping[str, Any]) -> dict[str, Any]:
    """Our option names for what Halo's LDAPConnection holds (halo-api.md 5.4)."""
    found: dict[str, Any] = {}
    host = str(record.get("hostname") or "").strip()
    if host:
        secure = bool(record.get("use_ssl"))
        port = record.get("port") or (636 if secure else 389)
        found["server"] = f"{'ldaps' if secure else 'ldap'}://{host}:{port}"
    if record.get("username"):
        found["bind_dn"] = str(record["username"])
    if record.get("pagesize"):
        found["page_size"] = record["pagesize"]
    bases = [
        {
            key: value
            for key, value in {
                "dn": item.get("dn") or item.get("ldapstring"),
                "filter": item.get("filter"),
                "client_id": item.get("client_id"),
                "site_id": item.get("site_id"),
            }.items()
            if value not in (None, "", 0)
        }
        for item in record.get("ldap_strings") or []
        if isinstance(item, dict) and (item.get("dn") or item.get("ldapstring"))
    ]
    if bases:
        found["base_dns"] = bases
    elif record.get("basedn"):
        found["base_dns"] = [{"dn": str(record["basedn"])}]
    mappings = {
        str(item["nhd_field"]): str(item["ldap_field"])
        for item in record.get("mappings_user") or []
        if isinstance(item, dict) and item.get("nhd_field") and item.get("ldap_field")
    }
    if mappings:
        found["field_map"] = mappings
    return found


def _stored_usn(text: str | None) -> UsnHighWaterMark | None:
    if not text:
        return None
    try:
        return UsnHighWaterMark.from_json(json.loads(text))
    except (KeyError, ValueError, TypeError):
        return None


__all__ = ["DirectoryError", "LdapImport", "LdapOptions", "options_from_ldap_connection"]

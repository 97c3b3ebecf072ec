"""Placement rules: which Halo client and site a source item belongs to.

Every directory and inventory import answers the same question ("this user is in the
Leeds OU, so Leeds site of client 3"), by a DN suffix, a group, an attribute value, an
e-mail domain or an IP range. The rules are options of the module (a list, first match
wins), the same words in every module; a rule may name a site that does not exist yet,
which the module creates under the client when ``create_sites`` is on.
"""

from __future__ import annotations

import fnmatch
import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from core.modules.options import option
from core.sync.dn import dn_within, normalize_dn
from core.sync.records import SourceRecord


@dataclass(frozen=True)
class PlacementRule:
    """One rule: its conditions (all that are set must hold) and where a match goes."""

    client_id: int = option(0, help="Halo client id for matching items (0: the default).")
    site_id: int = option(0, help="Halo site id for matching items (0: by site_name).")
    site_name: str = option("", help="Halo site name under the client (created if asked).")
    ou: str = option("", help="A DN suffix: items in this OU or below it.")
    group: str = option("", help="A group DN the item is a member of (memberOf).")
    attribute: str = option("", help="An attribute whose value decides (with value).")
    value: str = option("", help="The value (case-insensitive; * and ? as wildcards).")
    domain: str = option("", help="An e-mail / UPN domain, e.g. leeds.example.com.")
    ip_range: str = option("", help="An IP network such as 10.1.0.0/16 (assets).")

    def problems(self) -> list[tuple[str, str]]:
        found = []
        conditions = (self.ou, self.group, self.attribute, self.domain, self.ip_range)
        if not any(conditions):
            found.append(("", "needs a condition: ou, group, attribute, domain or ip_range"))
        if bool(self.attribute) != bool(self.value):
            found.append(("value", "attribute and value go together"))
        if not (self.client_id or self.site_id or self.site_name):
            found.append(("", "needs a destination: client_id, site_id or site_name"))
        if self.site_id < 0 or self.client_id < 0:
            found.append(("site_id", "ids are positive numbers"))
        if self.ip_range:
            try:
                ipaddress.ip_network(self.ip_range, strict=False)
            except ValueError as exc:
                found.append(("ip_range", str(exc)))
        return found

    def matches(self, item: Mapping[str, Any], *, dn: str = "", address: str = "") -> bool:
        """Whether every condition the rule sets holds for ``item`` (attribute → values)."""
        lowered = {name.lower(): value for name, value in item.items()}
        if self.ou and not dn_within(dn, self.ou):
            return False
        if self.group:
            groups = {normalize_dn(_text(group)) for group in _values(lowered.get("memberof"))}
            if normalize_dn(self.group) not in groups:
                return False
        if self.attribute:
            wanted = self.value.lower()
            values = [str(value).lower() for value in _values(lowered.get(self.attribute.lower()))]
            if not any(fnmatch.fnmatchcase(value, wanted) for value in values):
                return False
        if self.domain and not _in_domain(address, self.domain):
            return False
        if self.ip_range:
            network = ipaddress.ip_network(self.ip_range, strict=False)
            addresses = _values(lowered.get("ipaddress") or lowered.get("ip_address"))
            if not any(_address_in(value, network) for value in addresses):
                return False
        return True


@dataclass(frozen=True)
class Placement:
    """Where an item goes: a client, and a site by id or by name (to find or create)."""

    client_id: int
    site_id: int = 0
    site_name: str = ""

    @property
    def site_key(self) -> str:
        """The source key of the site record a module creates for ``site_name``."""
        return f"{self.client_id}/{self.site_name.strip().lower()}"


class Destination(Protocol):
    """Anything that names where items go (a rule, a base DN of a directory)."""

    @property
    def client_id(self) -> int: ...
    @property
    def site_id(self) -> int: ...
    @property
    def site_name(self) -> str: ...


def named_sites(destinations: Iterable[Destination], default_client_id: int) -> list[SourceRecord]:
    """The sites destinations name without an id, as records to find (or create) in Halo
    by client + name before the items that refer to them are written."""
    named: dict[str, Placement] = {}
    for destination in destinations:
        if destination.site_name and not destination.site_id:
            client = destination.client_id or default_client_id
            site = Placement(client, 0, destination.site_name)
            named.setdefault(site.site_key, site)
    return [
        SourceRecord(key, {"client_id": site.client_id, "name": site.site_name}, site.site_name)
        for key, site in named.items()
    ]


def place(
    rules: Sequence[PlacementRule],
    item: Mapping[str, Any],
    default: Placement,
    *,
    dn: str = "",
    address: str = "",
) -> Placement:
    """The first matching rule's destination (its unset parts from ``default``)."""
    for rule in rules:
        if rule.matches(item, dn=dn, address=address):
            client_id = rule.client_id or default.client_id
            if rule.site_id or rule.site_name:
                return Placement(client_id, rule.site_id, rule.site_name)
            return Placement(client_id, default.site_id, default.site_name)
    return default


def _values(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _text(value: Any) -> str:
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)


def _in_domain(address: str, domain: str) -> bool:
    host = address.rpartition("@")[2].lower()
    domain = domain.lower().lstrip("@")
    return bool(host) and (host == domain or host.endswith("." + domain))


def _address_in(value: Any, network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    try:
        return ipaddress.ip_address(str(value).strip()) in network
    except ValueError:
        return False

"""Placement rules: first match wins, every condition a rule sets must hold."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from core.modules.options import option, parse_options
from core.sync.placement import Placement, PlacementRule, place

DEFAULT = Placement(client_id=1, site_id=10)


@dataclass(frozen=True)
class Options:
    placement: list[PlacementRule] = option(default_factory=list, help="rules")


LEEDS_DN = "CN=Ann,OU=Leeds,OU=Staff,DC=example,DC=com"


def rule(**fields: object) -> PlacementRule:
    return PlacementRule(**fields)  # type: ignore[arg-type]


def test_first_matching_rule_wins_and_the_default_takes_the_rest() -> None:
    rules = [
        rule(ou="ou=leeds, ou=staff,dc=example,dc=com", client_id=3, site_name="Leeds"),
        rule(ou="OU=Staff,DC=example,DC=com", site_id=20),
    ]
    assert place(rules, {}, DEFAULT, dn=LEEDS_DN) == Placement(3, 0, "Leeds")
    york = "CN=Bob,OU=York,OU=Staff,DC=example,DC=com"
    assert place(rules, {}, DEFAULT, dn=york) == Placement(1, 20)
    assert place(rules, {}, DEFAULT, dn="CN=Eve,OU=Contractors,DC=example,DC=com") == DEFAULT
    # A DN suffix is a whole OU, not a text suffix: "OU=XLeeds" is not inside "OU=Leeds".
    assert place(rules[:1], {}, DEFAULT, dn="CN=X,OU=XLeeds,OU=Staff,DC=example,DC=com") == DEFAULT


def test_group_attribute_domain_and_ip_conditions() -> None:
    entry = {"memberOf": ["CN=VPN Users,OU=Groups,DC=x"], "department": ["Sales EMEA"]}
    assert rule(group="cn=vpn users,ou=groups,dc=x", site_id=5).matches(entry)
    assert not rule(group="CN=Admins,OU=Groups,DC=x", site_id=5).matches(entry)
    assert rule(attribute="Department", value="sales*", site_id=5).matches(entry)
    assert not rule(attribute="department", value="sales", site_id=5).matches(entry)
    assert rule(domain="leeds.example.com", site_id=5).matches({}, address="a@LEEDS.example.com")
    assert rule(domain="example.com", site_id=5).matches({}, address="a@leeds.example.com")
    assert not rule(domain="example.com", site_id=5).matches({}, address="a@badexample.com")
    assert rule(ip_range="10.1.0.0/16", site_id=5).matches({"IPAddress": "10.1.4.2"})
    assert not rule(ip_range="10.1.0.0/16", site_id=5).matches({"IPAddress": "10.2.4.2"})
    both = rule(ou="OU=Staff,DC=example,DC=com", attribute="department", value="HR", site_id=5)
    assert not both.matches({"department": "Sales"}, dn=LEEDS_DN)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"site_id": 5}, "needs a condition"),
        ({"ou": "OU=X"}, "needs a destination"),
        ({"attribute": "department", "site_id": 5}, "attribute and value go together"),
        ({"ip_range": "10.1.0.0/33", "site_id": 5}, "10.1.0.0/33"),
    ],
)
def test_a_rule_that_cannot_work_is_a_settings_problem(raw: dict, message: str) -> None:
    _, problems = parse_options(Options, {"placement": [raw]})
    assert any(path.startswith("placement[0]") and message in text for path, text in problems)

"""Entities, POST create/update semantics, single GET, DELETE and errors (halo-api.md 2)."""

from __future__ import annotations

import pytest

from .conftest import HaloApi

WRAPPED = {
    "Users": "users",
    "Client": "clients",
    "Site": "sites",
    "Asset": "assets",
    "Tickets": "tickets",
    "Attachment": "attachments",
}
BARE = (
    "Agent",
    "AssetType",
    "Status",
    "Priority",
    "TicketType",
    "LDAPConnection",
    "azureadconnection",
    "Mailbox",
    "PowerShellScript",
    "SQLImport",
    "Features",
)


@pytest.mark.parametrize(("path", "key"), sorted(WRAPPED.items()))
def test_lists_come_wrapped_with_a_record_count(api: HaloApi, path: str, key: str) -> None:
    body = api.get(path).json()
    assert set(body) == {"record_count", key}
    assert body["record_count"] == len(body[key])


@pytest.mark.parametrize("path", BARE)
def test_some_lists_are_bare_arrays(api: HaloApi, path: str) -> None:
    response = api.get(path)
    assert response.status_code == 200
    assert isinstance(response.json(), list)


def test_paths_are_case_insensitive(api: HaloApi) -> None:
    for path in ("users", "Users", "USERS", "uSeRs/"):
        assert api.get(path).status_code == 200


def test_a_fresh_instance_has_halo_s_baseline(api: HaloApi) -> None:
    assert api.get("Client/1").json()["name"]
    assert api.get("Site/1").json()["client_id"] == 1
    assert [t["name"] for t in api.get("AssetType").json()][:4] == [
        "Workstation",
        "Laptop",
        "Server",
        "Printer",
    ]
    assert {"Incident", "Service Request"} <= {t["name"] for t in api.get("TicketType").json()}
    assert {"New", "Closed"} <= {s["name"] for s in api.get("Status").json()}
    assert len(api.get("Priority").json()) >= 3
    agent = api.get("Agent/1").json()
    assert agent["isapiagent"] is True
    assert api.get("Agent/me").json()["id"] == 1
    assert api.get("Mailbox/1").status_code == 200
    assert api.get("Features").json()
    assert api.get("Lookup", lookupid=11).json()["lookup"]


def test_posting_an_array_without_id_creates_with_sequential_ids(api: HaloApi) -> None:
    first = api.post("Users", [{"name": "Ada", "emailaddress": "ada@example.org"}]).json()
    several = api.post(
        "Users", [{"name": "Bob"}, {"name": "Cy", "id": 0}, {"name": "Di", "id": None}]
    ).json()
    assert first["id"] == 1
    assert [user["id"] for user in several] == [2, 3, 4]
    assert first["datecreated"]
    assert first["site_id"] == 1 and first["site_name"] and first["client_name"]


def test_posting_an_existing_id_merges_into_the_stored_record(api: HaloApi) -> None:
    user = api.post(
        "Users", [{"name": "Ada", "emailaddress": "ada@example.org", "x_custom": {"a": 1}}]
    ).json()
    updated = api.post("Users", [{"id": user["id"], "phonenumber": "123"}]).json()
    assert updated["emailaddress"] == "ada@example.org"
    assert updated["phonenumber"] == "123"
    assert api.get(f"Users/{user['id']}").json()["x_custom"] == {"a": 1}


def test_a_single_object_body_is_accepted_too(api: HaloApi) -> None:
    response = api.post("Client", {"name": "Acme"})
    assert response.status_code == 200
    assert response.json()["name"] == "Acme"


def test_ids_may_be_floats_or_float_strings(api: HaloApi) -> None:
    site = api.post("Site", [{"name": "Branch", "client_id": 1.0}]).json()
    assert site["client_id"] == 1 and isinstance(site["client_id"], int)
    assert api.post("Site", [{"id": f"{site['id']}.0", "phonenumber": "9"}]).status_code == 200
    assert api.get(f"Site/{site['id']}.0").json()["phonenumber"] == "9"


def test_updating_an_unknown_id_is_404_and_saves_nothing(api: HaloApi) -> None:
    response = api.post("Users", [{"name": "New"}, {"id": 999, "name": "Ghost"}])
    assert response.status_code == 404
    assert response.json()["message"]
    assert api.get("Users").json()["record_count"] == 0


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("Users", {"emailaddress": "x@example.org"}, "name"),
        ("Agent", {"email": "a@example.org"}, "name"),
        ("Site", {"client_id": 1}, "name"),
        ("Tickets", {"details": "no summary"}, "summary"),
        ("Actions", {"outcome": "note"}, "ticket_id"),
    ],
)
def test_missing_mandatory_fields_are_400_with_message_and_errors(
    api: HaloApi, path: str, body: dict, field: str
) -> None:
    response = api.post(path, [body])
    assert response.status_code == 400
    assert field in response.json()["message"]
    assert any(field in error for error in response.json()["errors"])


def test_an_action_needs_an_outcome_and_an_existing_ticket(api: HaloApi) -> None:
    ticket = api.post("Tickets", [{"summary": "Printer"}]).json()
    assert api.post("Actions", [{"ticket_id": ticket["id"]}]).status_code == 400
    assert api.post("Actions", [{"ticket_id": 999, "outcome": "Note"}]).status_code == 400
    action = api.post("Actions", [{"ticket_id": ticket["id"], "outcome": "Note"}]).json()
    assert action["actionby_application_id"] == api.emulator.client_id


def test_a_user_s_name_is_derived_from_first_and_surname(api: HaloApi) -> None:
    user = api.post("Users", [{"firstname": "Grace", "surname": "Hopper"}]).json()
    assert user["name"] == "Grace Hopper"


def test_tickets_get_defaults_and_the_user_s_name(api: HaloApi) -> None:
    user = api.post("Users", [{"name": "Ada", "emailaddress": "ada@example.org"}]).json()
    ticket = api.post("Tickets", [{"summary": "Help", "user_id": user["id"]}]).json()
    assert ticket["status_id"] == 1 and ticket["tickettype_id"] == 1
    assert ticket["user_name"] == "Ada" and ticket["user_email"] == "ada@example.org"


def test_asset_gets_its_type_name(api: HaloApi) -> None:
    asset = api.post("Asset", [{"inventory_number": "PC-1", "assettype_id": 2}]).json()
    assert asset["assettype_name"] == "Laptop"


def test_unknown_ids_and_entities_are_404_with_a_json_body(api: HaloApi) -> None:
    for path in ("Users/42", "Tickets/abc", "NoSuchThing"):
        response = api.get(path)
        assert response.status_code == 404
        assert response.json()["message"]


def test_delete_returns_the_id_and_then_404s(api: HaloApi) -> None:
    user = api.post("Users", [{"name": "Ada"}]).json()
    assert api.delete(f"Users/{user['id']}").json() == {"id": user["id"]}
    assert api.get(f"Users/{user['id']}").status_code == 404
    assert api.delete(f"Users/{user['id']}").status_code == 404


def test_post_to_a_member_path_is_405_as_in_halo_s_spec(api: HaloApi) -> None:
    user = api.post("Users", [{"name": "Ada"}]).json()
    response = api.post(f"Users/{user['id']}", {"id": user["id"], "name": "Ada L"})
    assert response.status_code == 405


def test_invalid_json_is_400(api: HaloApi) -> None:
    response = api.request(
        "POST", "Users", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400


def test_control_is_one_settings_object(api: HaloApi) -> None:
    control = api.get("Control").json()
    assert control["email_start_tag"] == "[ID:"
    updated = api.post("Control", [{"halointegrator_lansweeper_lastsync": "2024-01-01T00:00:00"}])
    assert updated.json()["email_start_tag"] == "[ID:"
    assert api.get("control").json()["halointegrator_lansweeper_lastsync"] == "2024-01-01T00:00:00"


@pytest.mark.parametrize(
    "path",
    ["LDAPConnection", "azureadconnection", "Mailbox", "PowerShellScript", "SQLImport", "Features"],
)
def test_integrator_records_keep_last_sync_and_last_error(api: HaloApi, path: str) -> None:
    record = api.post(path, [{"name": f"{path} one", "module_name": path}]).json()
    api.post(
        path,
        [
            {
                "id": record["id"],
                "halointegrator_lastsync": "2024-05-01T10:00:00",
                "halointegrator_lasterror": "LDAP server unreachable",
                "halointegratorenabled": True,
            }
        ],
    )
    stored = api.get(f"{path}/{record['id']}").json()
    assert stored["halointegrator_lastsync"] == "2024-05-01T10:00:00"
    assert stored["halointegrator_lasterror"] == "LDAP server unreachable"
    assert stored["name"] == f"{path} one"

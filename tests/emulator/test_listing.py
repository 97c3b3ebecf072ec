"""List semantics: paging, count, filters, search, inactive, idonly, order (halo-api.md 3)."""

from __future__ import annotations

import pytest

from .conftest import HaloApi


@pytest.fixture
def users(api: HaloApi) -> HaloApi:
    """25 users on two sites; every fifth inactive; 'Ada' names have a distinct address."""
    branch = api.post("Site", [{"name": "Branch", "client_id": 1}]).json()
    people = [
        {
            "name": f"Person {index:02d}",
            "emailaddress": f"p{index}@example.org",
            "login": f"P{index}",
            "site_id": 1 if index % 2 else branch["id"],
            "inactive": index % 5 == 0,
        }
        for index in range(1, 26)
    ]
    people[2]["name"] = "Ada Lovelace"
    assert api.post("Users", people).status_code == 200
    return api


def test_paging_is_one_based_and_record_count_is_the_total(users: HaloApi) -> None:
    first = users.get("Users", pageinate="true", page_size=7, page_no=1).json()
    third = users.get("Users", pageinate="true", page_size=7, page_no=3).json()
    assert first["record_count"] == 20  # 5 of 25 are inactive and hidden
    assert len(first["users"]) == 7
    assert len(third["users"]) == 6
    beyond = users.get("Users", pageinate="true", page_size=7, page_no=4).json()
    assert beyond == {"record_count": 20, "users": []}
    all_ids = [
        u["id"]
        for page in range(1, 4)
        for u in users.get("Users", pageinate="true", page_size=7, page_no=page).json()["users"]
    ]
    assert len(set(all_ids)) == 20


def test_count_limits_without_paging(users: HaloApi) -> None:
    body = users.get("Users", count=3).json()
    assert len(body["users"]) == 3
    assert body["record_count"] == 20


def test_search_is_a_case_insensitive_substring_of_name_email_or_login(users: HaloApi) -> None:
    assert [u["name"] for u in users.get("Users", search="lovelace").json()["users"]] == [
        "Ada Lovelace"
    ]
    assert users.get("Users", search="P12@EXAMPLE").json()["record_count"] == 1
    assert users.get("Users", search="p1").json()["record_count"] >= 2


def test_inactive_records_are_hidden_unless_asked_for(users: HaloApi) -> None:
    assert users.get("Users", includeinactive="false").json()["record_count"] == 20
    assert users.get("Users", includeinactive="True").json()["record_count"] == 25


def test_site_and_client_filters(users: HaloApi) -> None:
    on_main = users.get("Users", site_id=1, includeinactive="true").json()
    assert on_main["record_count"] == 13
    assert all(u["site_id"] == 1 for u in on_main["users"])
    assert users.get("Users", client_id="1.0").json()["record_count"] == 20
    assert users.get("Users", client_id=99).json()["record_count"] == 0


def test_idonly_returns_only_ids(users: HaloApi) -> None:
    body = users.get("Users", idonly="true", count=2).json()
    assert body["users"] == [{"id": 1}, {"id": 2}]


def test_order_and_orderdesc(users: HaloApi) -> None:
    names = [u["name"] for u in users.get("Users", order="name").json()["users"]]
    assert names == sorted(names, key=str.lower)
    newest = users.get("Users", orderdesc="true", count=1).json()["users"][0]
    assert newest["id"] == 24
    by_name_desc = users.get("Users", order="name", orderdesc="true").json()["users"]
    assert [u["name"] for u in by_name_desc] == sorted(names, key=str.lower, reverse=True)


def test_bad_paging_values_are_400(users: HaloApi) -> None:
    assert users.get("Users", pageinate="true", page_size="abc").status_code == 400


def test_assets_filter_by_type_inventory_number_and_search_key_field(api: HaloApi) -> None:
    api.post(
        "Asset",
        [
            {"inventory_number": "PC-001", "assettype_id": 1, "key_field": "SN-AAA"},
            {"inventory_number": "LT-002", "assettype_id": 2, "key_field": "SN-BBB", "site_id": 1},
        ],
    )
    assert api.get("Asset", assettype_id=2).json()["assets"][0]["inventory_number"] == "LT-002"
    assert api.get("Asset", inventory_number="pc-001").json()["record_count"] == 1
    assert api.get("Asset", search="sn-bbb").json()["assets"][0]["inventory_number"] == "LT-002"
    assert api.get("Asset", site_id=1).json()["record_count"] == 1


def test_actions_are_listed_per_ticket_and_need_ticket_id(api: HaloApi) -> None:
    one, two = api.post("Tickets", [{"summary": "One"}, {"summary": "Two"}]).json()
    api.post(
        "Actions",
        [
            {"ticket_id": one["id"], "outcome": "Note", "note": "a"},
            {"ticket_id": one["id"], "outcome": "Note", "note": "b"},
            {"ticket_id": two["id"], "outcome": "Note", "note": "c"},
        ],
    )
    body = api.get("Actions", ticket_id=one["id"]).json()
    assert body["record_count"] == 2
    assert [a["note"] for a in body["actions"]] == ["a", "b"]
    missing = api.get("Actions")
    assert missing.status_code == 400
    assert "ticket_id" in missing.json()["message"]


def test_tickets_filter_by_user_and_search_summary(api: HaloApi) -> None:
    user = api.post("Users", [{"name": "Ada"}]).json()
    api.post(
        "Tickets", [{"summary": "Printer jam", "user_id": user["id"]}, {"summary": "VPN down"}]
    )
    assert api.get("Tickets", user_id=user["id"]).json()["record_count"] == 1
    assert api.get("Tickets", search="vpn").json()["tickets"][0]["summary"] == "VPN down"


def test_integration_errors_are_stored_filtered_by_module_and_paged(api: HaloApi) -> None:
    errors = [
        {
            "module_id": 1 + index % 2,
            "entity_type": "user",
            "entity_name": f"u{index}",
            "error": "bad email",
        }
        for index in range(5)
    ]
    assert api.post("IntegrationError", errors).status_code == 200
    body = api.get("IntegrationError", module_id=1, pageinate="true", page_size=2, page_no=1).json()
    assert body["record_count"] == 3
    assert len(body["integrationerrors"]) == 2
    assert body["integrationerrors"][0]["date"]


def test_the_powershell_queue_lists_outstanding_work_and_takes_results(api: HaloApi) -> None:
    script = api.post("PowerShellScript", [{"name": "Reset password"}]).json()
    queued = api.post(
        "PowerShellScriptProcessing",
        [
            {"pssid": script["id"], "faultid": 7, "script_name": "Reset password"},
            {"pssid": script["id"] + 1, "faultid": 8},
        ],
    ).json()
    outstanding = api.get("PowerShellScriptProcessing", outstandingonly="true").json()
    assert outstanding["record_count"] == 2
    only_script = api.get(
        "PowerShellScriptProcessing", outstandingonly="true", script_id=script["id"]
    ).json()
    assert [job["id"] for job in only_script["powershellscriptprocessing"]] == [queued[0]["id"]]
    api.post(
        "PowerShellScriptProcessing",
        [{"id": queued[0]["id"], "processed": True, "success": True, "result_message": "done"}],
    )
    left = api.get("PowerShellScriptProcessing", outstandingonly="true").json()
    assert [job["id"] for job in left["powershellscriptprocessing"]] == [queued[1]["id"]]
    assert api.get(f"PowerShellScriptProcessing/{queued[0]['id']}").json()["result_message"] == (
        "done"
    )


def test_queue_entries_list_their_parameters_only_with_includeparameters(api: HaloApi) -> None:
    queued = {"pssid": 1, "faultid": 7, "execution_parameters": {"Username": "ann"}, "x_new": 1}
    entry = api.post("PowerShellScriptProcessing", [queued]).json()
    [plain] = api.get("PowerShellScriptProcessing").json()["powershellscriptprocessing"]
    assert "execution_parameters" not in plain and plain["x_new"] == 1
    [full] = api.get("PowerShellScriptProcessing", includeparameters="true").json()[
        "powershellscriptprocessing"
    ]
    assert full["execution_parameters"] == {"Username": "ann"}
    one = api.get(f"PowerShellScriptProcessing/{entry['id']}").json()
    assert one["execution_parameters"] == {"Username": "ann"}


def test_a_reported_run_moves_its_ticket_to_the_scripts_result_status(api: HaloApi) -> None:
    script = api.post(
        "PowerShellScript", [{"name": "Reset", "resultstatus": 9, "resultfailedstatus": 4}]
    ).json()
    tickets = api.post("Tickets", [{"summary": "ok"}, {"summary": "bad"}]).json()
    entries = api.post(
        "PowerShellScriptProcessing",
        [{"pssid": script["id"], "faultid": ticket["id"]} for ticket in tickets],
    ).json()
    results = [
        {"id": entries[0]["id"], "processed": True, "success": True},
        {"id": entries[1]["id"], "processed": True, "success": False},
    ]
    assert api.post("PowerShellScriptProcessing", results).status_code == 200
    statuses = [api.get(f"Tickets/{ticket['id']}").json()["status_id"] for ticket in tickets]
    assert statuses == [9, 4]
    api.post("Tickets", [{"id": tickets[0]["id"], "status_id": 2}])
    api.post("PowerShellScriptProcessing", [results[0]])  # the same report again
    assert api.get(f"Tickets/{tickets[0]['id']}").json()["status_id"] == 2

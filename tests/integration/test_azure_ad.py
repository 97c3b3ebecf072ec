"""The ``azure_ad`` module against the Graph stand-in and the emulator: a full run over
several pages, deltas with additions, changes, disables and removals, an expired delta token,
throttling, bad credentials in one sentence, the guard, a crash between Graph and Halo, group
scoping, and taking over users an ldap instance imported (hybrid identities)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from core.halo.client import HaloClient
from core.outcomes import Outcome
from core.run.request import RunRequest
from core.run.runner import ModuleRunResult, Runner
from core.settings.model import ModuleSettings, Settings
from core.settings.reader import load_settings
from core.settings.secrets import Secret
from core.settings.writer import save_settings
from core.state.store import MappedRecord, StateStore
from graph_standin import GraphStandIn
from halo_emulator import Emulator

from .conftest import FAST_RETRY, connection_for, halo_users


@pytest.fixture
def entra_folder(tmp_path: Path, emulator: Emulator, graph_standin: GraphStandIn) -> Settings:
    settings = Settings.new(tmp_path / "Halo" / "appsettings.json", connection_for(emulator))
    settings.modules[:] = [
        ModuleSettings(name="entra", type="azure_ad", options=options_for(graph_standin))
    ]
    save_settings(settings)
    return load_settings(settings.folder)


def options_for(graph: GraphStandIn, **extra: Any) -> dict[str, Any]:
    return {
        "tenant_id": graph.tenant_id,
        "app_client_id": graph.client_id,
        "app_client_secret": Secret(graph.client_secret),
        "login_url": graph.login_url,
        "graph_url": graph.graph_url,
        **extra,
    }


def run(
    settings: Settings, transport: httpx.BaseTransport | None = None, **flags: bool
) -> ModuleRunResult:
    runner = Runner(
        settings,
        client_factory=lambda: HaloClient(settings.halo, retry=FAST_RETRY, transport=transport),
    )
    [result] = runner.run(RunRequest(**flags))
    return result


def entra_users(emulator: Emulator) -> dict[str, dict[str, Any]]:
    return {u["azureoid"]: u for u in halo_users(emulator) if u.get("azureoid")}


def test_a_full_run_over_several_pages_then_deltas(
    emulator: Emulator, graph_standin: GraphStandIn, entra_folder: Settings
) -> None:
    users = graph_standin.add_users(1200, department="IT")  # two pages of 999
    result = run(entra_folder)
    assert result.outcome is Outcome.SUCCEEDED, result.error
    assert result.counts.created == 1200
    halo = entra_users(emulator)
    first = halo[users[0]["id"]]
    assert (first["name"], first["login"], first["azure_tenant_id"]) == (
        "User 1",
        users[0]["userPrincipalName"].lower(),
        graph_standin.tenant_id,
    )
    assert StateStore(entra_folder.folder).checkpoint("entra", "delta_link")
    # Nothing changed: the delta is empty and nothing is written.
    quiet = run(entra_folder)
    assert (quiet.counts.created, quiet.counts.updated, quiet.counts.deactivated) == (0, 0, 0)
    assert quiet.counts.unchanged == 0  # not even read: a delta, not a full listing
    # Additions, changes, a disable and removals.
    graph_standin.add_user(displayName="New Person", onPremisesSamAccountName="newp")
    graph_standin.update_user(users[1]["id"], jobTitle="CTO")
    graph_standin.disable_user(users[2]["id"])
    graph_standin.delete_user(users[3]["id"])
    graph_standin.delete_user(users[4]["id"], permanently=True)
    delta = run(entra_folder)
    assert delta.outcome is Outcome.SUCCEEDED, delta.error
    assert (delta.counts.created, delta.counts.updated, delta.counts.deactivated) == (1, 2, 2)
    halo = entra_users(emulator)
    assert halo[users[1]["id"]]["title"] == "CTO"
    assert halo[users[2]["id"]]["inactive"] is True
    assert halo[users[3]["id"]]["inactive"] is True and halo[users[4]["id"]]["inactive"] is True


def test_partial_delta_items_are_read_whole_so_nothing_is_blanked(
    emulator: Emulator, tmp_path: Path, app_certificate: Path
) -> None:
    with GraphStandIn(certificates=[app_certificate], changed_properties_only=True) as graph:
        settings = Settings.new(tmp_path / "Halo" / "appsettings.json", connection_for(emulator))
        settings.modules[:] = [
            ModuleSettings(name="entra", type="azure_ad", options=options_for(graph))
        ]
        save_settings(settings)
        settings = load_settings(settings.folder)
        [user] = graph.add_users(1, department="Sales", jobTitle="Rep")
        run(settings)
        graph.update_user(user["id"], jobTitle="Lead")
        result = run(settings)
        assert result.counts.updated == 1
        halo = entra_users(emulator)[user["id"]]
        assert (halo["title"], halo["department"], halo["name"]) == ("Lead", "Sales", "User 1")


def test_an_expired_delta_token_falls_back_to_a_full_run(
    emulator: Emulator, graph_standin: GraphStandIn, entra_folder: Settings
) -> None:
    graph_standin.add_users(5)
    run(entra_folder)
    graph_standin.expire_delta_tokens()
    result = run(entra_folder)
    assert result.outcome is Outcome.SUCCEEDED, result.error
    assert result.counts.unchanged == 5  # read whole again, nothing to send


def test_throttling_is_waited_out(
    emulator: Emulator, graph_standin: GraphStandIn, entra_folder: Settings
) -> None:
    graph_standin.add_users(3)
    graph_standin.throttle_next(2, status=429, retry_after_seconds=1)
    result = run(entra_folder)
    assert result.outcome is Outcome.SUCCEEDED and result.counts.created == 3


def test_a_bad_secret_is_one_clear_sentence(
    emulator: Emulator, graph_standin: GraphStandIn, entra_folder: Settings
) -> None:
    entra_folder.modules[0].options["app_client_secret"] = Secret("not-the-right-secret")
    save_settings(entra_folder)
    result = run(load_settings(entra_folder.folder))
    assert result.outcome is Outcome.FAILED
    assert "refused the client secret" in (result.error or "")
    assert "not-the-right-secret" not in (result.error or "")


def test_a_mass_removal_is_refused(
    emulator: Emulator, graph_standin: GraphStandIn, entra_folder: Settings
) -> None:
    users = graph_standin.add_users(20)
    run(entra_folder)
    for user in users[:5]:
        graph_standin.delete_user(user["id"])
    refused = run(entra_folder)
    assert refused.outcome is Outcome.REFUSED and "5 of 20" in (refused.error or "")
    # The delta link did not move: the same removals come again, and are released once.
    released = run(entra_folder, allow_mass_deactivation=True)
    assert released.counts.deactivated == 5


class FailUsersAfter(httpx.HTTPTransport):
    """Halo stops answering user writes after the first batch: a crash between Graph and Halo."""

    def __init__(self) -> None:
        super().__init__()
        self.posts = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path.endswith("/Users"):
            self.posts += 1
            if self.posts > 1:
                raise httpx.ConnectError("Halo went away")
        return super().handle_request(request)


def test_a_run_that_dies_before_halo_took_the_changes_does_not_move_the_delta_link(
    emulator: Emulator, graph_standin: GraphStandIn, entra_folder: Settings
) -> None:
    users = graph_standin.add_users(10)
    run(entra_folder)
    link = StateStore(entra_folder.folder).checkpoint("entra", "delta_link")
    for user in users:
        graph_standin.update_user(user["id"], jobTitle="Changed")
    entra_folder.halo.batch_size = 4
    failed = run(entra_folder, transport=FailUsersAfter())
    assert failed.outcome is Outcome.FAILED
    assert StateStore(entra_folder.folder).checkpoint("entra", "delta_link") == link
    again = run(entra_folder)
    assert again.outcome is Outcome.SUCCEEDED
    assert all(u["title"] == "Changed" for u in entra_users(emulator).values())


def test_group_scoping_keeps_only_members(
    emulator: Emulator, graph_standin: GraphStandIn, entra_folder: Settings
) -> None:
    users = graph_standin.add_users(4)
    group = graph_standin.add_group("Halo users", [users[0]["id"], users[1]["id"]])
    entra_folder.modules[0].options["groups"] = [group]
    save_settings(entra_folder)
    settings = load_settings(entra_folder.folder)
    run(settings)
    assert set(entra_users(emulator)) == {users[0]["id"], users[1]["id"]}


def test_users_an_ldap_instance_imported_are_taken_over(
    emulator: Emulator, graph_standin: GraphStandIn, entra_folder: Settings
) -> None:
    [user] = graph_standin.add_users(1)
    # An earlier AD import made the Halo user: same e-mail, no object id.
    with HaloClient(connection_for(emulator), retry=FAST_RETRY) as halo:
        [made] = halo.post_batch(
            "Users",
            [
                {
                    "name": "User 1",
                    "emailaddress": user["mail"].lower(),
                    "login": user["userPrincipalName"].lower(),
                }
            ],
        )
    mapped = MappedRecord("guid-1", made["id"], "x", True)
    StateStore(entra_folder.folder).save_mappings("ad", "Users", [mapped])
    entra_folder.modules[0].options["take_over_from"] = ["ad"]
    save_settings(entra_folder)
    result = run(load_settings(entra_folder.folder))
    assert result.outcome is Outcome.SUCCEEDED and result.counts.failed == 0, result.summary()
    halo = entra_users(emulator)[user["id"]]
    assert halo["id"] == made["id"]  # the same Halo user, now with its object id


def test_placement_by_group_and_by_domain(
    emulator: Emulator, graph_standin: GraphStandIn, entra_folder: Settings
) -> None:
    leeds = graph_standin.add_user(
        displayName="Leeds Person", userPrincipalName="a@leeds.example.com"
    )
    vpn = graph_standin.add_user(displayName="VPN Person")
    plain = graph_standin.add_user(displayName="Plain Person")
    group = graph_standin.add_group("VPN users", [vpn["id"]])
    entra_folder.modules[0].options.update(
        placement=[
            {"domain": "leeds.example.com", "site_name": "Leeds"},
            {"group": group, "site_name": "Remote"},
        ],
        create_sites=True,
    )
    save_settings(entra_folder)
    result = run(load_settings(entra_folder.folder))
    assert result.outcome is Outcome.SUCCEEDED, result.error
    with HaloClient(connection_for(emulator), retry=FAST_RETRY) as halo:
        sites = {s["name"]: s["id"] for s in halo.iter_records("Site", {})}
    users = entra_users(emulator)
    assert users[leeds["id"]]["site_id"] == sites["Leeds"]
    assert users[vpn["id"]]["site_id"] == sites["Remote"]
    assert users[plain["id"]]["site_id"] == 1


def test_settings_kept_in_halos_azureadconnection_are_used_and_reported_on(
    emulator: Emulator, graph_standin: GraphStandIn, tmp_path: Path
) -> None:
    graph_standin.add_users(3)
    with HaloClient(connection_for(emulator), retry=FAST_RETRY) as halo:
        [record] = halo.post_batch(
            "AzureADConnection",
            [
                {
                    "name": "Contoso",
                    "directoryid": graph_standin.tenant_id,
                    "applicationid": graph_standin.client_id,
                }
            ],
        )
    settings = Settings.new(tmp_path / "Halo" / "appsettings.json", connection_for(emulator))
    local = {
        "halo_connection_id": record["id"],
        "app_client_secret": Secret(graph_standin.client_secret),  # Halo never returns it
        "login_url": graph_standin.login_url,
        "graph_url": graph_standin.graph_url,
    }
    settings.modules[:] = [ModuleSettings(name="entra", type="azure_ad", options=local)]
    save_settings(settings)
    result = run(load_settings(settings.folder))
    assert result.outcome is Outcome.SUCCEEDED, result.error
    assert result.counts.created == 3
    with HaloClient(connection_for(emulator), retry=FAST_RETRY) as halo:
        stored = halo.get(f"AzureADConnection/{record['id']}")
    assert stored.get("halointegrator_lastsync") and not stored.get("halointegrator_lasterror")

"""The Graph client against the Graph stand-in over loopback HTTP: tokens, delta rounds,
throttling, and the one sentence an admin reads for each thing that can go wrong."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import httpx
import pytest
from servers.graph import graph_settings_for, write_app_certificate

from core.settings.secrets import Secret
from core.sources.graph_client import GraphClient
from core.sources.graph_errors import (
    DeltaTokenExpiredError,
    GraphCredentialsError,
    GraphError,
    GraphNotFoundError,
    GraphPermissionError,
    GraphTenantNotFoundError,
    GraphThrottledError,
    GraphUnreachableError,
)
from core.sources.graph_types import GraphUser, RemovedUser
from graph_standin import GraphStandIn


class FakeTime:
    """A clock that moves only when told to, and a sleep that moves it."""

    def __init__(self) -> None:
        # Starts at the real time: the stand-in checks assertion times against its own clock.
        self.now = time.time()
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


def client_for(graph: GraphStandIn, fake_time: FakeTime | None = None, **overrides: object):
    timing = fake_time or FakeTime()
    return GraphClient(
        graph_settings_for(graph, **overrides), clock=timing.clock, sleep=timing.sleep
    )


def full_round_ids(client: GraphClient) -> list[str]:
    return [item.id for item in client.delta_users()]


def test_a_first_round_reads_every_user_over_several_pages_and_ends_with_a_delta_link(
    graph_standin: GraphStandIn,
) -> None:
    users = graph_standin.add_users(25, department="Sales")
    with client_for(graph_standin, page_size=10) as client:
        round_ = client.delta_users(("id", "displayName", "department", "accountEnabled"))
        items = list(round_)
        assert round_.is_full and round_.pages_read == 3
        assert round_.delta_link.startswith(f"{graph_standin.graph_url}/v1.0/users/delta?")
    assert [item.id for item in items] == [user["id"] for user in users]
    first = items[0]
    assert isinstance(first, GraphUser) and first.enabled is True
    assert first.properties == {
        "id": users[0]["id"],
        "displayName": "User 1",
        "department": "Sales",
        "accountEnabled": True,
    }


def test_following_the_delta_link_returns_additions_changes_and_removals_only(
    graph_standin: GraphStandIn,
) -> None:
    kept, changed, disabled, deleted, purged = graph_standin.add_users(5)
    with client_for(graph_standin, page_size=2) as client:
        first = client.delta_users()
        list(first)
        graph_standin.update_user(changed["id"], jobTitle="Director")
        graph_standin.disable_user(disabled["id"])
        graph_standin.delete_user(deleted["id"])
        graph_standin.delete_user(purged["id"], permanently=True)
        added = graph_standin.add_user(displayName="New Starter")
        second = client.delta_users(delta_link=first.delta_link)
        items = {item.id: item for item in second}
        assert not second.is_full
    assert set(items) == {changed["id"], disabled["id"], deleted["id"], purged["id"], added["id"]}
    assert kept["id"] not in items
    assert isinstance(items[changed["id"]], GraphUser)
    assert items[changed["id"]].properties["jobTitle"] == "Director"
    assert items[disabled["id"]].enabled is False
    assert items[deleted["id"]] == RemovedUser(deleted["id"], "changed")
    assert items[purged["id"]] == RemovedUser(purged["id"], "deleted")
    assert items[purged["id"]].permanently


def test_a_delta_link_can_be_followed_again_after_a_crash_and_gives_the_same_changes(
    graph_standin: GraphStandIn,
) -> None:
    user = graph_standin.add_user()
    with client_for(graph_standin) as client:
        first = client.delta_users()
        list(first)
        graph_standin.update_user(user["id"], department="Finance")
        lost_run = [item.id for item in client.delta_users(delta_link=first.delta_link)]
        retried_run = [item.id for item in client.delta_users(delta_link=first.delta_link)]
    assert lost_run == retried_run == [user["id"]]


def test_an_expired_delta_token_raises_delta_token_expired_and_a_full_round_recovers(
    graph_standin: GraphStandIn,
) -> None:
    graph_standin.add_users(3)
    with client_for(graph_standin) as client:
        first = client.delta_users()
        list(first)
        graph_standin.expire_delta_tokens()
        with pytest.raises(DeltaTokenExpiredError, match="syncStateNotFound") as caught:
            list(client.delta_users(delta_link=first.delta_link))
        assert caught.value.status == 410
        assert len(full_round_ids(client)) == 3


def test_a_round_whose_next_link_expires_midway_raises_delta_token_expired(
    graph_standin: GraphStandIn,
) -> None:
    graph_standin.add_users(4)
    with client_for(graph_standin, page_size=2) as client:
        pages = client.delta_users().pages()
        next(pages)
        graph_standin.expire_delta_tokens()
        with pytest.raises(DeltaTokenExpiredError):
            next(pages)


def test_throttled_pages_are_waited_out_per_retry_after_and_no_page_is_lost_or_doubled(
    graph_standin: GraphStandIn, fake_time: FakeTime
) -> None:
    users = graph_standin.add_users(30)
    with client_for(graph_standin, fake_time, page_size=10) as client:
        pages = client.delta_users().pages()
        ids = [item.id for item in next(pages).items]
        graph_standin.throttle_next(2, retry_after_seconds=7)
        graph_standin.throttle_next(1, status=503, retry_after_seconds=3)
        for page in pages:
            ids += [item.id for item in page.items]
    assert ids == [user["id"] for user in users]
    assert fake_time.slept == [7, 7, 3]
    counts = graph_standin.request_counts()
    assert counts["users/delta 429"] == 2 and counts["users/delta 503"] == 1
    assert counts["users/delta 200"] == 3


def test_throttling_past_the_longest_wait_allowed_raises_one_clear_error(
    graph_standin: GraphStandIn, fake_time: FakeTime
) -> None:
    graph_standin.add_users(1)
    graph_standin.throttle_next(10, retry_after_seconds=30)
    with client_for(graph_standin, fake_time, max_throttle_wait_seconds=100) as client:
        with pytest.raises(GraphThrottledError, match=r"HTTP 429 after 90 s of waiting"):
            full_round_ids(client)
    assert fake_time.slept == [30, 30, 30]


def test_the_token_is_reused_until_it_nears_expiry(
    graph_standin: GraphStandIn, fake_time: FakeTime
) -> None:
    graph_standin.add_users(1)
    with client_for(graph_standin, fake_time) as client:
        full_round_ids(client)
        full_round_ids(client)
        assert client.auth.tokens_fetched == 1
        fake_time.now += 3599 - 60
        full_round_ids(client)
        assert client.auth.tokens_fetched == 2
    assert graph_standin.request_counts()["token 200"] == 2


def test_a_token_revoked_early_is_replaced_once_without_failing_the_request(
    graph_standin: GraphStandIn,
) -> None:
    graph_standin.add_users(1)
    with client_for(graph_standin) as client:
        full_round_ids(client)
        graph_standin.expire_access_tokens()
        assert len(full_round_ids(client)) == 1
        assert client.auth.tokens_fetched == 2
    assert graph_standin.request_counts()["users/delta 401"] == 1


def test_a_certificate_credential_gets_a_token_with_a_signed_assertion(
    graph_standin: GraphStandIn, app_certificate: Path
) -> None:
    graph_standin.add_users(2)
    with client_for(graph_standin, client_secret=None, certificate_path=app_certificate) as c:
        assert len(full_round_ids(c)) == 2


def test_a_certificate_the_app_does_not_know_is_refused_in_one_sentence(
    graph_standin: GraphStandIn, tmp_path: Path
) -> None:
    stranger = tmp_path / "other.pem"
    write_app_certificate(stranger)
    with client_for(graph_standin, client_secret=None, certificate_path=stranger) as client:
        with pytest.raises(GraphCredentialsError) as caught:
            client.check_access()
    message = str(caught.value)
    assert message.startswith(
        f"Entra ID refused the certificate credential for app {graph_standin.client_id} "
        f"in tenant {graph_standin.tenant_id} (AADSTS700027: "
    )


def test_a_wrong_client_secret_is_refused_in_one_sentence_that_never_shows_it(
    graph_standin: GraphStandIn,
) -> None:
    wrong = "wrong-secret-value-123"
    with client_for(graph_standin, client_secret=Secret(wrong)) as client:
        with pytest.raises(GraphCredentialsError) as caught:
            client.check_access()
    message = str(caught.value)
    assert message.startswith(
        f"Entra ID refused the client secret for app {graph_standin.client_id} in tenant "
        f"{graph_standin.tenant_id} (AADSTS7000215: Invalid client secret provided.)"
    )
    assert wrong not in message and graph_standin.client_secret not in message
    assert caught.value.status == 401 and caught.value.code == "AADSTS7000215"


def test_an_unknown_tenant_is_named_in_one_sentence(graph_standin: GraphStandIn) -> None:
    with client_for(graph_standin, tenant_id="fabrikam.onmicrosoft.com") as client:
        with pytest.raises(GraphTenantNotFoundError, match=r"no tenant fabrikam\.onmicrosoft"):
            client.check_access()


def test_an_unknown_app_is_named(graph_standin: GraphStandIn) -> None:
    with client_for(graph_standin, client_id="11111111-2222-3333-4444-555555555555") as client:
        with pytest.raises(GraphCredentialsError, match="AADSTS700016"):
            client.check_access()


def test_a_tenant_domain_works_as_tenant_id(graph_standin: GraphStandIn) -> None:
    graph_standin.add_users(1)
    with client_for(graph_standin, tenant_id=graph_standin.domain) as client:
        client.check_access()


def test_a_missing_permission_names_user_read_all_and_admin_consent(
    graph_standin: GraphStandIn,
) -> None:
    graph_standin.set_permissions([])
    with client_for(graph_standin) as client:
        with pytest.raises(GraphPermissionError) as caught:
            client.check_access()
    assert "Authorization_RequestDenied" in str(caught.value)
    assert "User.Read.All" in str(caught.value) and "admin consent" in str(caught.value)


def test_an_unreachable_login_url_is_reported_after_a_few_tries(fake_time: FakeTime) -> None:
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        port = placeholder.getsockname()[1]
    with GraphStandIn() as graph:
        dead = f"http://127.0.0.1:{port}"
        with client_for(graph, fake_time, login_url=dead) as client:
            with pytest.raises(GraphUnreachableError, match=r"cannot reach 127\.0\.0\.1: "):
                client.check_access()
    assert len(fake_time.slept) == 2


def test_group_member_ids_follows_pages_and_keeps_only_users(
    graph_standin: GraphStandIn,
) -> None:
    users = graph_standin.add_users(7)
    group = graph_standin.add_group("Helpdesk users", [user["id"] for user in users[:5]])
    with client_for(graph_standin, page_size=2) as client:
        assert client.group_member_ids(group) == {user["id"] for user in users[:5]}
        with pytest.raises(GraphNotFoundError, match="Request_ResourceNotFound"):
            client.group_member_ids("00000000-0000-0000-0000-000000000000")


def test_list_users_pages_with_top(graph_standin: GraphStandIn) -> None:
    users = graph_standin.add_users(5)
    with client_for(graph_standin, page_size=2) as client:
        listed = list(client.list_users(("id", "mail")))
    assert [user.id for user in listed] == [user["id"] for user in users]
    assert graph_standin.request_counts()["users 200"] == 3


def test_a_delta_link_to_another_host_is_refused_before_the_token_is_sent(
    graph_standin: GraphStandIn,
) -> None:
    with client_for(graph_standin) as client:
        with pytest.raises(GraphError, match="is not on graph_url"):
            list(client.delta_users(delta_link="https://evil.example/v1.0/users/delta?x=1"))
    assert graph_standin.request_counts() == {}


def test_reprs_show_neither_the_secret_nor_the_token(graph_standin: GraphStandIn) -> None:
    graph_standin.add_users(1)
    with client_for(graph_standin) as client:
        full_round_ids(client)
        shown = repr(client) + repr(client.auth) + repr(client.settings)
    assert graph_standin.client_secret not in shown


def test_the_stand_in_refuses_graph_calls_without_a_bearer_token(
    graph_standin: GraphStandIn,
) -> None:
    response = httpx.get(f"{graph_standin.graph_url}/v1.0/users")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "InvalidAuthenticationToken"

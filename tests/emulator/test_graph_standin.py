"""The Graph stand-in's own rules, spoken to over raw HTTP: what Entra and Graph refuse."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from servers.graph import write_app_certificate

from core.sources.graph_auth import ASSERTION_TYPE, CertificateCredential
from graph_standin import GraphStandIn


@pytest.fixture(scope="module")
def certificate_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("standin") / "app.pem"
    write_app_certificate(path)
    return path


@pytest.fixture
def graph(certificate_file: Path) -> Iterator[GraphStandIn]:
    with GraphStandIn(certificates=[certificate_file]) as standin:
        yield standin


def assertion_form(graph: GraphStandIn, assertion: str) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_id": graph.client_id,
        "scope": f"{graph.graph_url}/.default",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion,
    }


def token_error(graph: GraphStandIn, form: dict[str, str]) -> tuple[int, str]:
    response = httpx.post(graph.token_url, data=form)
    return response.status_code, response.json()["error_description"].split(":")[0]


def test_an_assertion_for_another_audience_is_refused(
    graph: GraphStandIn, certificate_file: Path
) -> None:
    assertion = CertificateCredential(certificate_file).assertion(
        "https://login.microsoftonline.com/other/oauth2/v2.0/token", graph.client_id, time.time()
    )
    assert token_error(graph, assertion_form(graph, assertion)) == (401, "AADSTS700021")


def test_an_expired_assertion_is_refused(graph: GraphStandIn, certificate_file: Path) -> None:
    old = time.time() - 3600
    assertion = CertificateCredential(certificate_file).assertion(
        graph.token_url, graph.client_id, old
    )
    assert token_error(graph, assertion_form(graph, assertion)) == (401, "AADSTS700024")


def test_a_tampered_assertion_fails_its_signature(
    graph: GraphStandIn, certificate_file: Path
) -> None:
    assertion = CertificateCredential(certificate_file).assertion(
        graph.token_url, graph.client_id, time.time()
    )
    header, _claims, signature = assertion.split(".")
    forged_claims = json.dumps({"aud": graph.token_url, "iss": "x", "sub": "x"}).encode()
    forged = base64.urlsafe_b64encode(forged_claims).rstrip(b"=").decode()
    assert token_error(graph, assertion_form(graph, f"{header}.{forged}.{signature}")) == (
        401,
        "AADSTS700027",
    )


def test_a_scope_without_default_is_refused(graph: GraphStandIn) -> None:
    form = {
        "grant_type": "client_credentials",
        "client_id": graph.client_id,
        "client_secret": graph.client_secret,
        "scope": "User.Read.All",
    }
    assert token_error(graph, form) == (400, "AADSTS1002012")


def test_an_unknown_select_property_is_a_400_in_graphs_shape(graph: GraphStandIn) -> None:
    token = httpx.post(
        graph.token_url,
        data={
            "grant_type": "client_credentials",
            "client_id": graph.client_id,
            "client_secret": graph.client_secret,
            "scope": f"{graph.graph_url}/.default",
        },
    ).json()["access_token"]
    response = httpx.get(
        f"{graph.graph_url}/v1.0/users/delta",
        params={"$select": "id,shoeSize"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "Request_BadRequest"


def test_changes_made_while_a_round_is_paged_wait_for_the_next_round(graph: GraphStandIn) -> None:
    users = graph.add_users(3)
    directory = graph.directory
    first = directory.delta_page(directory.start_delta(("id",), None), 2)
    late = graph.add_user(displayName="Late")
    assert first.next_skip_token is not None
    last = directory.delta_page(first.next_skip_token, 2)
    assert [entry["id"] for entry in first.entries + last.entries] == [u["id"] for u in users]
    assert last.delta_token is not None
    following = directory.delta_page(directory.start_delta(("id",), last.delta_token), 10)
    assert following.entries == [{"id": late["id"]}]


def test_with_changed_properties_only_a_later_round_sends_the_id_and_what_changed() -> None:
    with GraphStandIn(changed_properties_only=True) as graph:
        user = graph.add_user(displayName="Ada", jobTitle="Engineer")
        directory = graph.directory
        select = ("id", "displayName", "jobTitle")
        full = directory.delta_page(directory.start_delta(select, None), 10)
        assert full.entries == [{"id": user["id"], "displayName": "Ada", "jobTitle": "Engineer"}]
        graph.update_user(user["id"], jobTitle="Director")
        assert full.delta_token is not None
        later = directory.delta_page(directory.start_delta(select, full.delta_token), 10)
    assert later.entries == [{"id": user["id"], "jobTitle": "Director"}]

"""The PyPI client haloitsm-python 0.1.0, unchanged, against the emulator (halo-api.md 8).

Only the base URL points at the emulator. Two of its helpers call endpoints that are not
in Halo's spec, and the emulator answers them as Halo would (see the last tests):
`User.update()` POSTs to /Users/{id} (Halo has no POST there -> 405), and
`Ticket.get_actions()` GETs /Tickets/{id}/actions (no such path -> 404). Updates go
through `users.create({"id": ..})`, which is Halo's real create-or-update POST, and a
ticket's actions through `actions.list(ticket_id=...)`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from halo import HaloClient
from halo.exceptions import (
    HaloAPIError,
    HaloAuthenticationError,
    HaloRateLimitError,
    HaloResourceNotFound,
    HaloValidationError,
)

from halo_emulator import Emulator


@pytest.fixture
def client(emulator: Emulator) -> Iterator[HaloClient]:
    halo = HaloClient(
        base_url=emulator.base_url,
        client_id=emulator.client_id,
        client_secret=emulator.client_secret,
        max_retries=0,
    )
    yield halo
    halo.session.session.close()  # the client never closes its requests.Session itself


def test_it_authenticates_and_reads_the_baseline(client: HaloClient, emulator: Emulator):
    assert client.auth.token_url == f"{emulator.base_url}/auth/token"
    assert client.get("/Agent/me")["isapiagent"] is True
    assert emulator.stats()["by_endpoint"]["POST /auth/token"] == 1


def test_it_creates_lists_pages_and_searches_users(client: HaloClient) -> None:
    for index in range(12):
        client.users.create({"name": f"User {index:02d}", "emailaddress": f"u{index}@x.org"})
    page_one = client.users.list(page_size=5, page_no=1)
    page_three = client.users.list(page_size=5, page_no=3)
    assert [u.name for u in page_one] == [f"User {i:02d}" for i in range(5)]
    assert [u.name for u in page_three] == ["User 10", "User 11"]
    found = client.users.search("u7@x")
    assert [u.name for u in found] == ["User 07"]
    assert client.users.get(found[0].id).emailaddress == "u7@x.org"


def test_it_updates_users_through_halo_s_create_or_update_post(client: HaloClient) -> None:
    user = client.users.create({"name": "Ada", "emailaddress": "ada@x.org"})
    updated = client.users.create({"id": user.id, "phonenumber": "555"})
    assert updated.id == user.id
    assert updated.phonenumber == "555"
    assert client.users.get(user.id).emailaddress == "ada@x.org"


def test_it_creates_assets_tickets_and_actions(client: HaloClient) -> None:
    asset = client.assets.create(
        {"inventory_number": "PC-7", "assettype_id": 1, "client_id": 1, "site_id": 1}
    )
    assert client.assets.list(asset_type_id=1)[0].id == asset.id
    assert client.assets.search("pc-7")[0].inventory_number == "PC-7"
    ticket = client.tickets.create(
        {
            "tickettype_id": 1,
            "summary": "Broken screen",
            "details": "Cracked",
            "assets": [{"id": asset.id}],
        }
    )
    action = ticket.add_action({"outcome": "Note", "note": "Ordered a new one"})
    assert action["ticket_id"] == ticket.id
    second = client.actions.create({"ticket_id": ticket.id, "outcome": "Note", "note": "Fixed"})
    listed = client.actions.list(ticket_id=ticket.id)
    assert [a.id for a in listed] == [action["id"], second.id]
    assert client.tickets.list(search="screen")[0].id == ticket.id


def test_its_errors_map_onto_halo_s_answers(client: HaloClient, emulator: Emulator) -> None:
    with pytest.raises(HaloResourceNotFound):
        client.users.get(4242)
    with pytest.raises(HaloValidationError) as validation:
        client.tickets.create({"details": "no summary"})
    assert "summary" in str(validation.value)
    emulator.set_faults(burst_429=1)
    with pytest.raises(HaloRateLimitError):
        client.users.list()
    emulator.configure(retry_after=True)
    emulator.set_faults(burst_429=1)
    with pytest.raises(HaloRateLimitError) as limited:
        client.users.list()
    assert limited.value.retry_after is not None and limited.value.retry_after > 0


def test_bad_credentials_raise_its_authentication_error(emulator: Emulator) -> None:
    halo = HaloClient(
        base_url=emulator.base_url + "/api",
        client_id=emulator.client_id,
        client_secret="wrong",
        max_retries=0,
    )
    try:
        with pytest.raises(HaloAuthenticationError, match="invalid"):
            halo.users.list()
    finally:
        halo.session.session.close()


def test_its_non_halo_helpers_get_halo_s_answers(client: HaloClient) -> None:
    user = client.users.create({"name": "Ada"})
    with pytest.raises(HaloAPIError) as not_allowed:
        user.update({"phonenumber": "1"})
    assert not_allowed.value.status_code == 405
    ticket = client.tickets.create({"summary": "x"})
    with pytest.raises(HaloResourceNotFound):
        ticket.get_actions()

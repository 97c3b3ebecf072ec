"""The Halo client against the real emulator over loopback: tokens, retries, paging, batches."""

from __future__ import annotations

import pytest

from core.errors import (
    HaloConnectionError,
    HaloRateLimitError,
    HaloValidationError,
    InvalidCredentialsError,
)
from core.halo.auth import REFRESH_MARGIN_SECONDS
from core.halo.client import HaloClient, RetryPolicy
from core.halo.pacing import RequestPacer
from core.halo.validate import validate_connection
from core.settings.secrets import Secret
from halo_emulator import Emulator

from .conftest import FAST_RETRY, SECRET, connection_for


def token_requests(emu: Emulator) -> int:
    return emu.stats()["by_endpoint"].get("POST /auth/token", 0)


def test_token_is_fetched_once_and_reused(emulator: Emulator, client: HaloClient) -> None:
    for _ in range(5):
        client.get("Status")
    assert token_requests(emulator) == 1


def test_rejected_token_is_refreshed_once_and_the_request_succeeds(
    emulator: Emulator, client: HaloClient
) -> None:
    client.get("Status")
    emulator.expire_tokens()
    assert isinstance(client.get("Status"), list)
    assert token_requests(emulator) == 2


def test_a_token_is_renewed_by_the_clients_clock_shortly_before_it_expires() -> None:
    """Driven by an injected clock: no sleep races the token's lifetime."""
    now = [0.0]
    with Emulator(client_secret=SECRET, rate_limit=None, token_lifetime=3600) as emu:
        with HaloClient(connection_for(emu), retry=FAST_RETRY, clock=lambda: now[0]) as halo:
            halo.get("Status")
            now[0] = 3600 - REFRESH_MARGIN_SECONDS - 1  # still inside its lifetime
            halo.get("Status")
            assert token_requests(emu) == 1
            now[0] = 3600 - REFRESH_MARGIN_SECONDS  # within the margin: renewed first
            halo.get("Status")
            assert token_requests(emu) == 2
        assert emu.stats()["by_status"].get("401", 0) == 0  # renewed before Halo refused it


def test_token_near_expiry_is_renewed_before_use() -> None:
    # A 60 s lifetime is inside the 60 s refresh margin at once: each call needs a new token.
    with Emulator(client_secret=SECRET, rate_limit=None, token_lifetime=60) as emu:
        with HaloClient(connection_for(emu), retry=FAST_RETRY) as halo:
            halo.get("Status")
            halo.get("Status")
        assert token_requests(emu) == 2
        assert emu.stats()["by_status"].get("401", 0) == 0


@pytest.mark.parametrize("retry_after", [True, False])
def test_429_is_waited_out_with_and_without_retry_after(retry_after: bool) -> None:
    with Emulator(client_secret=SECRET, rate_limit=None, retry_after=retry_after) as emu:
        with HaloClient(connection_for(emu), retry=FAST_RETRY) as halo:
            halo.authenticate()
            emu.set_faults(burst_429=2)
            assert isinstance(halo.get("Status"), list)
            assert halo.stats.rate_limited == 2
        assert emu.stats()["by_status"]["429"] == 2


def test_retry_after_header_sets_the_wait() -> None:
    with Emulator(client_secret=SECRET, rate_limit=(2, 1.0), retry_after=True) as emu:
        with HaloClient(connection_for(emu), retry=FAST_RETRY) as halo:
            halo.get("Status")  # the token request and this one fill the window of 2
            halo.get("Status")  # 429 with Retry-After, waited out, then served
            assert halo.stats.rate_limited == 1
            # It waited what the server asked (at most the 1 s window), not a blind back-off.
            assert 0 < halo.pacer.total_wait_seconds <= 1.5


def test_500_then_success_is_retried(emulator: Emulator, client: HaloClient) -> None:
    client.authenticate()
    emulator.set_faults(error_next=1)
    assert isinstance(client.get("Status"), list)
    assert client.stats.retries == 1
    assert emulator.stats()["by_status"]["500"] == 1


def test_dropped_connection_on_a_read_is_retried(emulator: Emulator, client: HaloClient) -> None:
    client.authenticate()
    emulator.set_faults(drop_next=1)
    assert isinstance(client.get("Status"), list)
    assert emulator.stats()["dropped"] == 1


def test_dropped_connection_on_a_create_is_not_blindly_resent(
    emulator: Emulator, client: HaloClient
) -> None:
    client.authenticate()
    emulator.set_faults(drop_next=1)
    with pytest.raises(HaloConnectionError) as raised:
        client.post_batch("Users", [{"name": "Once Only", "emailaddress": "once@example.com"}])
    assert raised.value.maybe_applied is True
    assert emulator.stats()["by_endpoint"]["POST /api/users"] == 1


def test_paging_walks_every_page(emulator: Emulator, client: HaloClient) -> None:
    client.post_batch(
        "Users", [{"name": f"P{n}", "emailaddress": f"p{n}@x.com"} for n in range(250)]
    )
    emulator.reset_stats()
    users = list(client.iter_records("Users", page_size=100))
    assert len({user["id"] for user in users}) == 250
    assert emulator.stats()["by_endpoint"]["GET /api/users"] == 3


def test_a_batch_is_one_post_answered_in_order(emulator: Emulator, client: HaloClient) -> None:
    records = [{"name": f"B{n}", "emailaddress": f"b{n}@x.com"} for n in range(100)]
    saved = client.post_batch("Users", records)
    assert [s["emailaddress"] for s in saved] == [r["emailaddress"] for r in records]
    assert len({s["id"] for s in saved}) == 100
    assert emulator.stats()["by_endpoint"]["POST /api/users"] == 1


def test_client_side_pacing_stays_under_the_servers_limit() -> None:
    with Emulator(client_secret=SECRET, rate_limit=(10, 1.0)) as emu:
        connection = connection_for(emu, requests_per_window=10, window_seconds=1.0)
        with HaloClient(connection, retry=FAST_RETRY, pacer=RequestPacer(10, 1.0)) as halo:
            for _ in range(25):
                halo.get("Status")
        assert emu.stats()["by_status"].get("429", 0) == 0
        assert emu.stats()["total"] == 26


def test_without_pacing_the_same_load_meets_429s() -> None:
    """The counterpart of the pacing test: the server's limit is really there."""
    with Emulator(client_secret=SECRET, rate_limit=(10, 60.0)) as emu:
        impatient = RetryPolicy(rate_limit_patience_seconds=0.2, rate_limit_min_wait_seconds=0.05)
        unpaced = RequestPacer(10_000, 1.0)
        with HaloClient(connection_for(emu), retry=impatient, pacer=unpaced) as halo:
            with pytest.raises(HaloRateLimitError):
                for _ in range(25):
                    halo.get("Status")
        assert emu.stats()["by_status"]["429"] > 0


def test_wrong_secret_says_invalid_client_credentials(emulator: Emulator) -> None:
    connection = connection_for(emulator, client_secret=Secret("wrong-secret-value"))
    with (
        HaloClient(connection, retry=FAST_RETRY) as halo,
        pytest.raises(InvalidCredentialsError) as raised,
    ):
        halo.get("Users")
    assert "rejected the client ID or secret" in str(raised.value)
    assert "wrong-secret-value" not in str(raised.value)


def test_validation_error_carries_halos_message(client: HaloClient) -> None:
    with pytest.raises(HaloValidationError) as raised:
        client.post_batch("Tickets", [{"details": "no summary"}])
    assert raised.value.status == 400
    assert "summary" in str(raised.value).lower()


def test_validate_is_green_for_good_credentials(emulator: Emulator) -> None:
    result = validate_connection(connection_for(emulator))
    assert result.ok, result
    assert emulator.base_url in result.message


def test_validate_is_red_with_a_clear_message_for_a_wrong_secret(emulator: Emulator) -> None:
    result = validate_connection(connection_for(emulator, client_secret=Secret("nope-nope")))
    assert not result.ok
    assert result.message.lower().count("invalid client credentials") == 1
    assert "rejected the client ID or secret" in result.message


def test_validate_is_red_when_nothing_listens() -> None:
    with Emulator(client_secret=SECRET) as emu:
        url = emu.base_url
    result = validate_connection(connection_for_url(url))
    assert not result.ok
    assert "Nothing answers" in result.message
    assert f"{url} (Connection refused)" in result.message  # the port stays in the sentence


def test_validate_refuses_plain_http_to_a_remote_host() -> None:
    result = validate_connection(connection_for_url("http://halo.example.com"))
    assert not result.ok
    assert "https" in result.message


def connection_for_url(url: str):
    from core.settings.model import HaloConnection

    return HaloConnection(url=url, client_id="id", client_secret=Secret("secret"))

"""Data survives a restart with the same database; concurrent writers lose nothing."""

from __future__ import annotations

import threading
from pathlib import Path

from halo_emulator import Emulator

from .conftest import HaloApi


def test_records_survive_a_restart_with_the_same_db(tmp_path: Path, make_emulator, make_api):
    db_path = tmp_path / "halo.db"
    first = make_emulator(db_path=db_path, rate_limit=None)
    api = make_api(first)
    user = api.post("Users", [{"name": "Ada", "custom": [1, 2]}]).json()
    api.post("Control", {"halointegrator_lansweeper_lasterror": "boom"})
    api.close()
    first.stop()
    assert db_path.exists()

    second = make_emulator(db_path=db_path, rate_limit=None)
    api = make_api(second)
    assert api.get(f"Users/{user['id']}").json()["custom"] == [1, 2]
    assert api.get("Control").json()["halointegrator_lansweeper_lasterror"] == "boom"
    assert [c["id"] for c in api.get("Client").json()["clients"]] == [1]  # not seeded twice
    assert api.post("Users", [{"name": "Bob"}]).json()["id"] == user["id"] + 1


def test_a_temporary_database_is_removed_at_stop() -> None:
    emulator = Emulator(client_secret="s").start()
    db_path = emulator.db_path
    assert db_path.exists()
    emulator.stop()
    assert not db_path.exists()


def test_tokens_do_not_survive_a_restart(tmp_path: Path, make_emulator, make_api) -> None:
    db_path = tmp_path / "halo.db"
    first = make_emulator(db_path=db_path, rate_limit=None)
    api = make_api(first)
    token = api.token
    api.close()
    first.stop()
    second = make_emulator(db_path=db_path, rate_limit=None)
    api = make_api(second)
    api.token = token
    assert api.get("Users").status_code == 401


def test_eight_concurrent_writers_store_every_user_with_distinct_ids(
    emulator: Emulator, make_api
) -> None:
    clients: list[HaloApi] = [make_api(emulator) for _ in range(8)]
    failures: list[int] = []

    def write(worker: int, api: HaloApi) -> None:
        for index in range(50):
            response = api.post("Users", [{"name": f"w{worker}-{index}"}])
            if response.status_code != 200:
                failures.append(response.status_code)

    threads = [threading.Thread(target=write, args=(n, c)) for n, c in enumerate(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    users = clients[0].get("Users").json()
    assert users["record_count"] == 400
    assert len({user["id"] for user in users["users"]}) == 400
    assert {user["name"] for user in users["users"]} == {
        f"w{w}-{i}" for w in range(8) for i in range(50)
    }
    assert emulator.stats()["records"]["users"] == 400

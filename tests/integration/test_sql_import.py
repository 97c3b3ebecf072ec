"""The ``sql`` module against a real PostgreSQL and the emulator: users and assets from a
query, changes and removals, delta runs on a changed-at column, a read-only transaction that
refuses a query that writes, the timeout, the SQLImport status record, and a broken query
in one sentence with the database's own words."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest
from servers import postgres as pg

from core.errors import ConfigError
from core.halo.client import HaloClient
from core.outcomes import Outcome
from core.run.request import RunRequest
from core.run.runner import ModuleRunResult, Runner
from core.settings.model import ModuleSettings, Settings
from core.settings.reader import load_settings
from core.settings.secrets import Secret
from core.settings.writer import save_settings
from halo_emulator import Emulator

from .conftest import FAST_RETRY, connection_for, halo_users

STAFF = """
CREATE TABLE staff (
    id integer PRIMARY KEY, mail text, first_name text, last_name text, dept text,
    changed_at timestamp DEFAULT '2026-11-29 08:00'
);
CREATE TABLE machines (tag text PRIMARY KEY, model text, owner text);
-- The reader may use it, so only a read-only transaction stops a query that moves it.
CREATE SEQUENCE badge_numbers;
GRANT USAGE, UPDATE ON SEQUENCE badge_numbers TO reader;
INSERT INTO staff (id, mail, first_name, last_name, dept, changed_at) VALUES
    (1, 'Ann@Example.com', 'Ann', 'Archer', 'Sales', '2026-11-29 08:00'),
    (2, 'bob@example.com', 'Bob', 'Baker', 'IT', '2026-11-29 09:00'),
    (3, 'cat@example.com', 'Cat', 'Cole', 'IT', '2026-11-29 10:00'),
    (4, NULL, 'No', 'Mail', 'IT', '2026-11-29 11:00');
INSERT INTO machines VALUES ('LT-001', 'X1 Carbon', 'ann'), ('LT-002', 'T14', 'bob');
"""
USERS_QUERY = (
    "SELECT mail AS emailaddress, first_name AS firstname, last_name AS surname, "
    "dept AS department, changed_at FROM staff"
)


@pytest.fixture
def hr_db(postgres: pg.Postgres) -> str:
    name = f"hr_{secrets.token_hex(4)}"
    postgres.create_database(name, STAFF)
    return name


def make_folder(tmp_path: Path, emulator: Emulator, **options: Any) -> Settings:
    settings = Settings.new(tmp_path / "Halo" / "appsettings.json", connection_for(emulator))
    settings.modules[:] = [ModuleSettings(name="hr", type="sql", options=options)]
    save_settings(settings)
    return load_settings(settings.folder)


def run(settings: Settings, **flags: Any) -> ModuleRunResult:
    runner = Runner(settings, client_factory=lambda: HaloClient(settings.halo, retry=FAST_RETRY))
    [result] = runner.run(RunRequest(**flags))
    return result


def by_mail(emulator: Emulator) -> dict[str, dict[str, Any]]:
    return {u["emailaddress"].lower(): u for u in halo_users(emulator) if u.get("emailaddress")}


def test_users_from_a_query_are_created_changed_and_deactivated(
    emulator: Emulator, postgres: pg.Postgres, hr_db: str, tmp_path: Path
) -> None:
    settings = make_folder(
        tmp_path,
        emulator,
        database_url=Secret(postgres.url(hr_db)),
        query=USERS_QUERY.replace(", changed_at", ""),
    )
    dry = run(settings, dry_run=True)
    assert dry.outcome is Outcome.DRY_RUN and "ann@example.com" not in by_mail(emulator)
    first = run(settings)
    assert first.outcome is Outcome.SUCCEEDED, first.error
    assert (first.counts.created, first.counts.failed) == (3, 1)
    assert "no key value" in first.failures[0].message
    ann = by_mail(emulator)["ann@example.com"]
    assert (ann["firstname"], ann["surname"], ann["department"]) == ("Ann", "Archer", "Sales")
    again = run(settings)
    assert (again.counts.created, again.counts.updated, again.counts.unchanged) == (0, 0, 3)
    postgres.sql(
        "UPDATE staff SET dept = 'Support' WHERE id = 2; DELETE FROM staff WHERE id = 3;",
        database=hr_db,
    )
    changed = run(settings)
    assert (changed.counts.updated, changed.counts.deactivated) == (1, 1), changed.error
    users = by_mail(emulator)
    assert users["bob@example.com"]["department"] == "Support"
    assert users["cat@example.com"]["inactive"] is True


def test_assets_from_a_query_through_a_field_map(
    emulator: Emulator, postgres: pg.Postgres, hr_db: str, tmp_path: Path
) -> None:
    settings = make_folder(
        tmp_path,
        emulator,
        database_url=Secret(postgres.url(hr_db)),
        query="SELECT tag, model, owner FROM machines",
        target="assets",
        key_column="inventory_number",
        field_map={"inventory_number": "tag", "key_field": "model", "notes": "owner|upper"},
        assettype_id=2,
    )
    result = run(settings)
    assert result.outcome is Outcome.SUCCEEDED, result.error
    assert result.counts.created == 2
    with HaloClient(connection_for(emulator), retry=FAST_RETRY) as halo:
        assets = {a["inventory_number"]: a for a in halo.iter_records("Asset", {})}
    assert (assets["LT-001"]["key_field"], assets["LT-001"]["notes"]) == ("X1 Carbon", "ANN")
    assert assets["LT-002"]["assettype_id"] == 2
    assert "owner" not in assets["LT-001"] and "tag" not in assets["LT-001"]


def test_a_changed_column_makes_runs_read_only_changed_rows(
    emulator: Emulator, postgres: pg.Postgres, hr_db: str, tmp_path: Path
) -> None:
    settings = make_folder(
        tmp_path,
        emulator,
        database_url=Secret(postgres.url(hr_db)),
        query=USERS_QUERY + " WHERE mail IS NOT NULL",
        changed_column="changed_at",
    )
    assert run(settings).counts.created == 3
    quiet = run(settings)
    # Only the newest row (within the five-minute overlap of the mark) is read again.
    assert (quiet.counts.updated, quiet.counts.unchanged) == (0, 1), quiet.error
    postgres.sql(
        "UPDATE staff SET dept = 'Board', changed_at = '2026-11-30 09:00' WHERE id = 1;"
        "DELETE FROM staff WHERE id = 2;",
        database=hr_db,
    )
    delta = run(settings)
    assert delta.outcome is Outcome.SUCCEEDED, delta.error
    assert (delta.counts.updated, delta.counts.unchanged, delta.counts.deactivated) == (1, 1, 1)
    users = by_mail(emulator)
    assert users["ann@example.com"]["department"] == "Board"
    assert users["bob@example.com"]["inactive"] is True


def test_the_query_runs_read_only_and_within_its_timeout(
    emulator: Emulator, postgres: pg.Postgres, hr_db: str, tmp_path: Path
) -> None:
    writing = make_folder(
        tmp_path / "writing",
        emulator,
        database_url=Secret(postgres.url(hr_db)),
        query="SELECT mail AS emailaddress, nextval('badge_numbers') AS badge FROM staff",
    )
    result = run(writing)
    assert result.outcome is Outcome.FAILED
    assert "cannot execute nextval() in a read-only transaction" in str(result.error)
    assert postgres.sql("SELECT is_called FROM badge_numbers", database=hr_db).strip() == "f"
    slow = make_folder(
        tmp_path / "slow",
        emulator,
        database_url=Secret(postgres.url(hr_db)),
        query="SELECT mail AS emailaddress, pg_sleep(3) FROM staff",
        timeout_seconds=1,
    )
    result = run(slow)
    assert result.outcome is Outcome.FAILED
    assert "ran past its timeout of 1 s and was cancelled" in str(result.error)


def test_a_broken_query_is_one_sentence_with_the_databases_message(
    emulator: Emulator, postgres: pg.Postgres, hr_db: str, tmp_path: Path
) -> None:
    settings = make_folder(
        tmp_path,
        emulator,
        database_url=Secret(postgres.url(hr_db)),
        query="SELECT mail AS emailaddress FROM staf",
    )
    result = run(settings)
    assert result.outcome is Outcome.FAILED
    message = str(result.error)
    assert message.startswith("The database refused the query at postgresql+psycopg://reader@")
    assert 'relation "staf" does not exist' in message
    assert pg.READER_PASSWORD not in message and "Traceback" not in message


@pytest.mark.parametrize(
    ("query", "why"),
    [
        ("DELETE FROM staff", "must be a SELECT"),
        # SQL Server runs a whole batch and has no read-only transaction: one statement only.
        ("SELECT mail AS emailaddress FROM staff; DELETE FROM staff", "must be one statement"),
    ],
)
def test_a_query_that_could_write_is_refused_before_it_runs(
    emulator: Emulator, postgres: pg.Postgres, hr_db: str, tmp_path: Path, query: str, why: str
) -> None:
    settings = make_folder(
        tmp_path, emulator, database_url=Secret(postgres.url(hr_db)), query=query
    )
    runner = Runner(settings, client_factory=lambda: HaloClient(settings.halo, retry=FAST_RETRY))
    with pytest.raises(ConfigError, match=why):
        runner.run(RunRequest())
    assert postgres.sql("SELECT count(*) FROM staff", database=hr_db).strip() == "4"


def test_status_goes_to_the_sqlimport_record_and_a_disabled_one_does_not_run(
    emulator: Emulator, postgres: pg.Postgres, hr_db: str, tmp_path: Path
) -> None:
    with HaloClient(connection_for(emulator), retry=FAST_RETRY) as halo:
        [record] = halo.post_batch(
            "SQLImport", [{"name": "HR database", "integrator_enabled": True}]
        )
    settings = make_folder(
        tmp_path,
        emulator,
        database_url=Secret(postgres.url(hr_db)),
        query=USERS_QUERY,
        halo_sqlimport_id=record["id"],
    )
    assert run(settings).outcome is Outcome.SUCCEEDED
    with HaloClient(connection_for(emulator), retry=FAST_RETRY) as halo:
        stored = halo.get(f"SQLImport/{record['id']}")
        assert stored.get("halointegrator_lastsync") and not stored.get("halointegrator_lasterror")
        halo.post_batch("SQLImport", [{"id": record["id"], "integrator_enabled": False}])
    refused = run(settings)
    assert refused.outcome is Outcome.FAILED
    assert "is not enabled for the Halo Integrator in Halo" in str(refused.error)


def test_a_trailing_semicolon_and_one_inside_a_literal_are_one_statement(
    emulator: Emulator, postgres: pg.Postgres, hr_db: str, tmp_path: Path
) -> None:
    fine = make_folder(
        tmp_path,
        emulator,
        database_url=Secret(postgres.url(hr_db)),
        query="SELECT mail AS emailaddress, first_name AS firstname, 'a;b' AS notes FROM staff "
        "WHERE mail IS NOT NULL;",
        changed_column="",
    )
    result = run(fine)
    assert result.outcome is Outcome.SUCCEEDED, result.error
    assert result.counts.created == 3, result.failures
    assert by_mail(emulator)["ann@example.com"]["notes"] == "a;b"

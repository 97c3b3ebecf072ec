"""The csv module over the emulator with sources that are not what they seem: half-written
exports, a file appended to while it is read, cut e-mail keys, over-long cells, cp1252."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from core.errors import ConfigError
from core.halo.client import HaloClient
from core.modules.csv_import import CsvImport
from core.outcomes import Outcome
from core.run.checks import check_sources
from core.run.runner import Runner
from core.settings.model import Settings
from core.state.store import StateStore
from core.sync.records import SourceRecord
from halo_emulator import Emulator

from .conftest import FAST_RETRY, halo_users, user_rows, write_csv

MakeSettings = Callable[..., Settings]


def runner_for(settings: Settings) -> Runner:
    return Runner(settings, client_factory=lambda: HaloClient(settings.halo, retry=FAST_RETRY))


def imported(emu: Emulator) -> dict[str, dict]:
    return {u["emailaddress"]: u for u in halo_users(emu) if "@exa" in u.get("emailaddress", "")}


def posts(emu: Emulator) -> list[str]:
    return [key for key in emu.stats()["by_endpoint"] if key.startswith("POST /api/users")]


def cut_inside_a_line(path: Path, share: float) -> str:
    """Cut the file at ``share`` of its bytes, moved forward to the middle of a line (as an
    export still being written looks); returns the cut last line."""
    data = path.read_bytes()
    end = int(len(data) * share)
    while data[end - 1 : end] in (b"\n", b","):
        end += 2
    path.write_bytes(data[:end])
    return data[:end].decode().rsplit("\n", 1)[1]


def test_a_cut_export_of_most_rows_is_refused_and_changes_nothing(
    emulator: Emulator, make_settings: MakeSettings
) -> None:
    settings = make_settings(max_deactivate_percent=10)
    path = write_csv(settings.folder / "users.csv", user_rows(200))
    runner_for(settings).run()
    before = imported(emulator)

    cut_line = cut_inside_a_line(path, 0.935)  # 93.5 %: under the guard's 10 %
    emulator.reset_stats()
    [result] = runner_for(settings).run()
    assert result.outcome is Outcome.FAILED
    assert "ends in the middle of a line" in (result.error or "")
    assert "retry later" in (result.error or "")
    assert repr(cut_line) in (result.error or "")
    assert posts(emulator) == []
    assert imported(emulator) == before  # nobody deactivated, no cut value sent
    status = StateStore(settings.folder).status("csv")
    assert status is not None and status.consecutive_failures == 1


def test_an_e_mail_address_cut_at_the_end_of_the_file_never_creates_a_user(
    emulator: Emulator, make_settings: MakeSettings
) -> None:
    settings = make_settings()
    # The address is the last column, so the cut row still has a name Halo would accept.
    rows = [
        {
            "firstname": row["firstname"],
            "surname": row["surname"],
            "emailaddress": row["emailaddress"],
        }
        for row in user_rows(194)
    ]
    path = write_csv(settings.folder / "users.csv", rows)
    with path.open("a", encoding="utf-8", newline="") as handle:
        handle.write("Jo,Roe,jr195@exa")
    [result] = runner_for(settings).run()
    assert result.outcome is Outcome.FAILED and "'Jo,Roe,jr195@exa'" in (result.error or "")
    assert imported(emulator) == {}


def test_a_row_with_a_cut_e_mail_key_fails_alone_and_never_creates_a_user(
    emulator: Emulator, make_settings: MakeSettings
) -> None:
    settings = make_settings()
    rows = user_rows(20)
    rows[7]["emailaddress"] = "jr195@exa"
    write_csv(settings.folder / "users.csv", rows)
    [result] = runner_for(settings).run()
    assert (result.outcome, result.counts.created, result.counts.failed) == ("succeeded", 19, 1)
    assert "'jr195@exa' is not a complete e-mail address" in result.failures[0].message
    assert "jr195@exa" not in imported(emulator)
    assert len(imported(emulator)) == 19


APPEND_ROWS = """
import csv, sys
with open(sys.argv[1], "a", newline="", encoding="utf-8") as handle:
    writer = csv.writer(handle)
    for n in range(301, 401):
        writer.writerow([f"user{n}@example.com", "User", f"N{n}", "IT"])
"""


def test_a_file_appended_to_by_another_process_during_the_read_is_refused(
    emulator: Emulator, make_settings: MakeSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings()
    path = write_csv(settings.folder / "users.csv", user_rows(300))
    original = CsvImport._record
    appended: list[int] = []

    def append_at_row_50(self: CsvImport, row: dict, key_column: str, line: int) -> SourceRecord:
        if line == 51 and not appended:  # the export writes its last rows while we read
            subprocess.run([sys.executable, "-c", APPEND_ROWS, str(path)], check=True)
            appended.append(line)
        return original(self, row, key_column, line)

    monkeypatch.setattr(CsvImport, "_record", append_at_row_50)
    [result] = runner_for(settings).run()
    assert appended == [51]
    assert result.outcome is Outcome.FAILED
    assert "while it was being read" in (result.error or "")
    assert imported(emulator) == {}

    [retried] = runner_for(settings).run()  # the export has finished: the next run takes it
    assert (retried.outcome, retried.counts.created) == ("succeeded", 400)


def test_one_over_long_field_fails_only_its_row(
    emulator: Emulator, make_settings: MakeSettings
) -> None:
    settings = make_settings()
    rows: list[dict[str, Any]] = user_rows(10)
    rows[4]["department"] = "x" * 200_000
    write_csv(settings.folder / "users.csv", rows)
    [result] = runner_for(settings).run()
    assert (result.outcome, result.counts.created, result.counts.failed) == ("succeeded", 9, 1)
    assert result.failures[0].label == "line 6"
    assert result.failures[0].message == "field 'department' longer than 131,072 characters"
    assert "user5@example.com" not in imported(emulator)


def test_a_cp1252_export_reaches_halo_intact_with_the_encoding_option(
    emulator: Emulator, make_settings: MakeSettings
) -> None:
    settings = make_settings(encoding="cp1252")
    (settings.folder / "users.csv").write_bytes(
        "emailaddress,firstname,surname,department\r\n"
        "jm@example.com,Jürgen,Müller,Kosten €\r\n".encode("cp1252")
    )
    [result] = runner_for(settings).run()
    assert result.counts.created == 1
    user = imported(emulator)["jm@example.com"]
    assert (user["name"], user["department"]) == ("Jürgen Müller", "Kosten €")


def test_a_cp1252_export_read_as_utf_8_fails_naming_the_option(
    emulator: Emulator, make_settings: MakeSettings
) -> None:
    settings = make_settings()
    (settings.folder / "users.csv").write_bytes(
        "emailaddress,surname\r\njm@example.com,Müller\r\n".encode("cp1252")
    )
    [result] = runner_for(settings).run()
    assert result.outcome is Outcome.FAILED
    assert "not utf-8-sig text" in (result.error or "")
    assert "encoding option" in (result.error or "")
    assert imported(emulator) == {}


def test_an_unknown_encoding_is_a_settings_error_naming_the_option(
    make_settings: MakeSettings,
) -> None:
    settings = make_settings(encoding="utf8x")
    with pytest.raises(ConfigError) as raised:
        runner_for(settings).run()
    assert "Modules[0].Options.encoding" in str(raised.value)
    assert "'utf8x' is not a text encoding" in str(raised.value)


def test_validate_reports_a_half_written_file(
    emulator: Emulator, make_settings: MakeSettings
) -> None:
    settings = make_settings()
    path = write_csv(settings.folder / "users.csv", user_rows(5))
    assert check_sources(settings)[0].ok
    cut_inside_a_line(path, 0.9)
    [check] = check_sources(settings)
    assert not check.ok and "ends in the middle of a line" in check.message

from __future__ import annotations

import datetime
import json
import os
import re
import shutil
import stat
from pathlib import Path

import pytest

from core.errors import ConfigError, SecretKeyError
from core.settings.model import (
    SETTINGS_FILE_NAME,
    HaloConnection,
    Interval,
    ModuleSettings,
    Settings,
    resolve_settings_path,
)
from core.settings.reader import load_settings
from core.settings.secrets import KEY_FILE_NAME, Secret, is_encrypted
from core.settings.writer import save_settings

posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
CLIENT_SECRET = "s3cr3t-client-value"
LDAP_PASSWORD = "ldap-bind-pa55"


def make_settings(folder: Path) -> Settings:
    halo = HaloConnection(
        url="https://acme.halopsa.com",
        client_id="client-id",
        client_secret=Secret(CLIENT_SECRET),
        tenant="acme",
    )
    settings = Settings.new(folder / SETTINGS_FILE_NAME, halo)
    settings.modules.append(
        ModuleSettings(
            name="ldap",
            interval=Interval.parse("5m"),
            options={"server": "ldaps://dc1", "password": Secret(LDAP_PASSWORD)},
            halo_record_id=7,
        )
    )
    return settings


# --- round trip and secrets -------------------------------------------------------------


def test_settings_round_trip_with_secrets_decrypted(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "5 Mins")
    save_settings(settings)
    loaded = load_settings(tmp_path / "5 Mins")
    assert loaded.halo == settings.halo
    assert loaded.modules == settings.modules
    assert loaded.log_folder == tmp_path / "5 Mins" / "logs"
    assert loaded.module("ldap") is not None
    assert loaded.module("csv") is None
    assert loaded.has_plaintext_secrets is False


def test_secrets_never_appear_in_the_file_or_in_any_repr(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    save_settings(settings)
    raw = (tmp_path / SETTINGS_FILE_NAME).read_text()
    on_disk = json.loads(raw)
    assert is_encrypted(on_disk["Halo"]["ClientSecret"])
    assert is_encrypted(on_disk["Modules"][0]["Options"]["password"])
    loaded = load_settings(tmp_path)
    for text in (raw, repr(loaded), str(loaded), repr(loaded.halo), repr(loaded.modules[0])):
        assert CLIENT_SECRET not in text
        assert LDAP_PASSWORD not in text


def test_secret_values_lists_the_client_secret_and_every_secret_option() -> None:
    settings = make_settings(Path("unsaved"))
    settings.modules.append(ModuleSettings(name="csv", options={"path": "users.csv"}))
    assert settings.secret_values() == [CLIENT_SECRET, LDAP_PASSWORD]
    assert settings.modules[1].secret_values() == []


def test_the_key_lives_in_its_own_file_never_in_the_settings(tmp_path: Path) -> None:
    save_settings(make_settings(tmp_path))
    key = (tmp_path / KEY_FILE_NAME).read_text().strip()
    assert key
    assert key not in (tmp_path / SETTINGS_FILE_NAME).read_text()


def test_the_on_disk_shape_uses_the_documented_keys(tmp_path: Path) -> None:
    save_settings(make_settings(tmp_path))
    document = json.loads((tmp_path / SETTINGS_FILE_NAME).read_text())
    assert list(document) == ["Halo", "LogFolder", "Modules"]
    assert list(document["Halo"]) == [
        "Url", "AuthUrl", "Tenant", "ClientId", "ClientSecret", "Scope", "AllowInsecureHttp",
        "VerifyTls", "CaBundle", "RequestsPerWindow", "WindowSeconds", "BatchSize",
        "TimeoutSeconds", "DeadlineSeconds",
    ]  # fmt: skip
    assert document["LogFolder"] == "logs"
    assert document["Halo"]["WindowSeconds"] == 300
    assert "300.0" not in (tmp_path / SETTINGS_FILE_NAME).read_text()
    assert document["Modules"][0]["Interval"] == "5m"
    assert list(document["Modules"][0]) == [
        "Name",
        "Type",
        "Id",
        "Enabled",
        "Interval",
        "HaloRecordId",
        "Options",
    ]


@posix_only
def test_settings_and_key_files_are_owner_only(tmp_path: Path) -> None:
    previous_umask = os.umask(0o022)
    try:
        save_settings(make_settings(tmp_path / "new"))
    finally:
        os.umask(previous_umask)
    for name in (SETTINGS_FILE_NAME, KEY_FILE_NAME):
        assert stat.S_IMODE((tmp_path / "new" / name).stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "new").stat().st_mode) & 0o077 == 0


def test_saving_keeps_the_previous_file_as_backup_and_leaves_no_temp_files(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    save_settings(settings)
    first_bytes = (tmp_path / SETTINGS_FILE_NAME).read_bytes()
    settings.halo.client_id = "changed"
    save_settings(settings)
    assert (tmp_path / (SETTINGS_FILE_NAME + ".bak")).read_bytes() == first_bytes
    assert load_settings(tmp_path).halo.client_id == "changed"
    assert {path.name for path in tmp_path.iterdir()} == {
        KEY_FILE_NAME,
        SETTINGS_FILE_NAME,
        SETTINGS_FILE_NAME + ".bak",
    }


def test_a_failed_write_leaves_the_old_file_and_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(tmp_path)
    save_settings(settings)
    before = (tmp_path / SETTINGS_FILE_NAME).read_bytes()

    def failing_fsync(descriptor: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="disk full"):
        save_settings(settings)
    assert (tmp_path / SETTINGS_FILE_NAME).read_bytes() == before
    assert not [path for path in tmp_path.iterdir() if path.name.startswith(".")]


def test_a_log_folder_outside_the_settings_folder_is_stored_absolute(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "settings")
    settings.log_folder = tmp_path / "elsewhere" / "logs"
    save_settings(settings)
    document = json.loads((tmp_path / "settings" / SETTINGS_FILE_NAME).read_text())
    assert document["LogFolder"] == str(tmp_path / "elsewhere" / "logs")
    assert load_settings(tmp_path / "settings").log_folder == tmp_path / "elsewhere" / "logs"


# --- two folders, keys ------------------------------------------------------------------


def test_two_folders_side_by_side_each_decrypt_only_their_own(tmp_path: Path) -> None:
    save_settings(make_settings(tmp_path / "5 Mins"))
    daily = make_settings(tmp_path / "Daily")
    daily.halo.client_secret = Secret("daily-secret")
    save_settings(daily)
    assert load_settings(tmp_path / "Daily").halo.client_secret == Secret("daily-secret")
    assert load_settings(tmp_path / "5 Mins").halo.client_secret == Secret(CLIENT_SECRET)

    shutil.copy(tmp_path / "5 Mins" / SETTINGS_FILE_NAME, tmp_path / "Daily" / SETTINGS_FILE_NAME)
    with pytest.raises(SecretKeyError) as caught:
        load_settings(tmp_path / "Daily")
    assert str(tmp_path / "Daily" / KEY_FILE_NAME) in str(caught.value)
    assert caught.value.field == "Halo.ClientSecret"
    assert caught.value.line == 7  # "{", "Halo", Url, AuthUrl, Tenant, ClientId, ClientSecret
    assert CLIENT_SECRET not in str(caught.value)


def test_a_missing_key_file_raises_secret_key_error(tmp_path: Path) -> None:
    save_settings(make_settings(tmp_path))
    (tmp_path / KEY_FILE_NAME).unlink()
    with pytest.raises(SecretKeyError) as caught:
        load_settings(tmp_path)
    assert str(tmp_path / KEY_FILE_NAME) in str(caught.value)
    assert str(caught.value).count("is missing") == 1, "one key problem, reported once"


# --- Interval and paths ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds", "canonical"),
    [("30s", 30, "30s"), ("5m", 300, "5m"), (" 1H ", 3600, "1h"), ("2d", 172800, "2d"),
     ("05m", 300, "5m")],
)  # fmt: skip
def test_interval_parses_periods(text: str, seconds: int, canonical: str) -> None:
    interval = Interval.parse(text)
    assert (interval.every_seconds, interval.text, interval.daily_at) == (seconds, canonical, None)
    assert interval.seconds_hint() == seconds


def test_interval_parses_a_daily_time() -> None:
    interval = Interval.parse("daily@2:05")
    assert interval.daily_at == datetime.time(2, 5)
    assert interval.every_seconds is None
    assert interval.text == "daily@02:05"
    assert interval.seconds_hint() == 86400


@pytest.mark.parametrize("text", ["5 minutes", "0m", "", "5", "daily@25:00", "daily@02:60", "1w"])
def test_interval_rejects_anything_else_with_advice(text: str) -> None:
    with pytest.raises(ValueError, match="use 5m, 1h or daily@02:00"):
        Interval.parse(text)


def test_resolve_settings_path_accepts_a_folder_or_a_file(tmp_path: Path) -> None:
    assert resolve_settings_path(tmp_path) == tmp_path / SETTINGS_FILE_NAME
    assert resolve_settings_path(str(tmp_path / "Daily")) == tmp_path / "Daily" / SETTINGS_FILE_NAME
    assert resolve_settings_path(tmp_path / "other.json") == tmp_path / "other.json"
    existing = tmp_path / "settings.conf"
    existing.write_text("{}")
    assert resolve_settings_path(existing) == existing


def test_resolve_settings_path_defaults_to_the_user_config_folder() -> None:
    path = resolve_settings_path(None)
    assert path.name == SETTINGS_FILE_NAME
    assert "halo-integrator" in str(path)
    assert path.is_absolute()


def test_an_entry_without_id_gets_one_that_is_saved_before_any_run(tmp_path: Path) -> None:
    save_settings(make_settings(tmp_path))
    path = tmp_path / SETTINGS_FILE_NAME
    document = json.loads(path.read_text())
    given = document["Modules"][0].pop("Id")
    assert re.fullmatch(r"[0-9a-f]{12}", given)
    path.write_text(json.dumps(document))
    loaded = load_settings(tmp_path)
    assert loaded.assigned_ids and re.fullmatch(r"[0-9a-f]{12}", loaded.modules[0].id)
    save_settings(loaded)
    assert load_settings(tmp_path).modules[0].id == loaded.modules[0].id


def test_a_malformed_id_is_a_settings_error_with_its_line(tmp_path: Path) -> None:
    save_settings(make_settings(tmp_path))
    path = tmp_path / SETTINGS_FILE_NAME
    path.write_text(path.read_text().replace('"Id": "', '"Id": "x'))
    with pytest.raises(ConfigError) as error:
        load_settings(tmp_path)
    assert "Modules[0].Id" in str(error.value) and "hexadecimal" in str(error.value)

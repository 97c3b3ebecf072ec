from __future__ import annotations

import datetime
import json
import os
import shutil
import stat
from pathlib import Path
from typing import Any

import pytest

from core.config import (
    SETTINGS_FILE_NAME,
    HaloConnection,
    Interval,
    ModuleSettings,
    Settings,
    load_settings,
    resolve_settings_path,
    save_settings,
)
from core.errors import ConfigError, SecretKeyError
from core.json_locations import parse_with_lines
from core.secrets import KEY_FILE_NAME, Secret, is_encrypted

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


def write_json(folder: Path, document: Any) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / SETTINGS_FILE_NAME
    path.write_text(json.dumps(document, indent=2))
    return path


def minimal_document(**halo: Any) -> dict[str, Any]:
    return {"Halo": {"Url": "https://acme.halopsa.com", "ClientId": "id", **halo}, "Modules": []}


def load_error(path: Path) -> ConfigError:
    before = path.read_bytes()
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert path.read_bytes() == before, "loading must never change the file"
    return caught.value


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
        "TimeoutSeconds",
    ]  # fmt: skip
    assert document["LogFolder"] == "logs"
    assert document["Halo"]["WindowSeconds"] == 300
    assert "300.0" not in (tmp_path / SETTINGS_FILE_NAME).read_text()
    assert document["Modules"][0]["Interval"] == "5m"
    assert list(document["Modules"][0]) == [
        "Name",
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


def test_a_pasted_plaintext_client_secret_is_accepted_and_flagged(tmp_path: Path) -> None:
    write_json(tmp_path, minimal_document(ClientSecret=CLIENT_SECRET))
    loaded = load_settings(tmp_path)
    assert loaded.halo.client_secret == Secret(CLIENT_SECRET)
    assert loaded.has_plaintext_secrets is True
    assert not (tmp_path / KEY_FILE_NAME).exists(), "loading creates nothing"
    save_settings(loaded)
    assert CLIENT_SECRET not in (tmp_path / SETTINGS_FILE_NAME).read_text()
    assert load_settings(tmp_path).has_plaintext_secrets is False


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


# --- invalid files ----------------------------------------------------------------------


def test_a_missing_file_points_to_configure(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path / "nowhere")
    assert str(tmp_path / "nowhere" / SETTINGS_FILE_NAME) in str(caught.value)
    assert "halo-integrator configure" in caught.value.hint


def test_corrupt_json_names_the_file_and_line_and_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / SETTINGS_FILE_NAME
    path.write_text(
        '{\n  "Halo": {\n    "Url": "https://acme.halopsa.com",\n    "ClientId": "id"\n  },\n'
        '  "Modules": [\n    {"Name": "csv"}\n    {"Name": "ldap"}\n  ]\n}\n'
    )  # the comma after {"Name": "csv"} on line 7 is missing
    error = load_error(path)
    assert error.line == 7
    assert error.path == str(path)
    assert f"{path}, line 7: not valid JSON: a comma (,) is missing" in str(error)


def test_other_syntax_errors_give_the_decoders_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / SETTINGS_FILE_NAME
    path.write_text('{\n  "Halo": {\n    "Url": https://x\n  }\n}')
    error = load_error(path)
    assert error.line == 3
    assert "(column 12)" in str(error)


def test_an_empty_file_is_a_config_error_on_line_1(tmp_path: Path) -> None:
    path = tmp_path / SETTINGS_FILE_NAME
    path.write_text("")
    assert load_error(path).line == 1


def test_a_byte_order_mark_from_notepad_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / SETTINGS_FILE_NAME
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(minimal_document()).encode())
    assert load_settings(path).halo.client_id == "id"


def test_every_invalid_field_is_reported_with_its_line(tmp_path: Path) -> None:
    text = """{
  "Halo": {
    "Url": "http://halo.example.com",
    "BatchSize": "abc",
    "ClientSecret": null
  },
  "Modules": [
    {"Name": "csv", "Interval": "5m"},
    {"Name": "ldap",
     "Interval": "5 minutes"}
  ]
}
"""
    path = tmp_path / SETTINGS_FILE_NAME
    path.write_text(text)
    error = load_error(path)
    message = str(error)
    assert error.line == 2 and error.field == "Halo.ClientId"
    assert f"{path}, line 2, field Halo.ClientId: required" in message
    assert f"{path}, line 3, field Halo.Url:" in message
    assert "plain http" in message
    assert f'{path}, line 4, field Halo.BatchSize: must be a whole number above 0, not "abc"' in (
        message
    )
    assert (
        f'{path}, line 10, field Modules[1].Interval: "5 minutes" is not an interval; '
        "use 5m, 1h or daily@02:00"
    ) in message


def test_misspelt_keys_are_rejected_with_a_suggestion(tmp_path: Path) -> None:
    document = minimal_document(ClientSecert="x")
    document["Modules"] = [{"Name": "csv", "interval": "5m"}]
    document["Loglevel"] = "debug"
    message = str(load_error(write_json(tmp_path, document)))
    assert 'field Halo.ClientSecert: unknown key; did you mean "ClientSecret"?' in message
    assert 'field Modules[0].interval: unknown key; did you mean "Interval"?' in message
    assert "field Loglevel: unknown key" in message


def test_wrong_types_are_reported_not_crashed_on(tmp_path: Path) -> None:
    document: dict[str, Any] = {"Halo": [], "Modules": [42, {"Name": "csv", "Options": []}]}
    message = str(load_error(write_json(tmp_path, document)))
    assert "field Halo: must be an object" in message
    assert "field Modules[0]: must be an object" in message
    assert "field Modules[1].Options: must be an object" in message
    assert "field Modules[1].Name" not in message


def test_a_module_listed_twice_is_rejected(tmp_path: Path) -> None:
    document = minimal_document()
    document["Modules"] = [{"Name": "csv"}, {"Name": "csv"}]
    assert 'field Modules[1].Name: module "csv" is listed twice' in str(
        load_error(write_json(tmp_path, document))
    )


def test_the_root_must_be_an_object(tmp_path: Path) -> None:
    assert "must be an object" in str(load_error(write_json(tmp_path, [1, 2])))


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8080", "http://127.9.9.9", "http://[::1]:8080", "http://localhost:5000"],
)
def test_plain_http_is_allowed_on_loopback(tmp_path: Path, url: str) -> None:
    write_json(tmp_path, minimal_document(Url=url))
    assert load_settings(tmp_path).halo.url == url


def test_plain_http_elsewhere_needs_allow_insecure_http(tmp_path: Path) -> None:
    path = write_json(tmp_path, minimal_document(Url="http://halo.lan"))
    assert load_error(path).field == "Halo.Url"
    write_json(tmp_path, minimal_document(Url="http://halo.lan/", AllowInsecureHttp=True))
    assert load_settings(tmp_path).halo.url == "http://halo.lan"


@pytest.mark.parametrize(
    "url", ["acme.halopsa.com", "ftp://acme.halopsa.com", "https://acme.halopsa.com/api"]
)
def test_urls_that_are_not_an_instance_address_are_rejected(tmp_path: Path, url: str) -> None:
    assert load_error(write_json(tmp_path, minimal_document(Url=url))).field == "Halo.Url"


def test_the_auth_url_follows_the_same_rules(tmp_path: Path) -> None:
    path = write_json(tmp_path, minimal_document(AuthUrl="http://auth.example.com"))
    assert load_error(path).field == "Halo.AuthUrl"


def test_line_of_finds_module_options_for_module_validation(tmp_path: Path) -> None:
    text = (
        '{\n "Halo": {"Url": "https://a.b", "ClientId": "x"},\n "Modules": [\n'
        '  {"Name": "csv",\n   "Options": {\n    "path": "u.csv"}}]}'
    )
    (tmp_path / SETTINGS_FILE_NAME).write_text(text)
    loaded = load_settings(tmp_path)
    assert loaded.line_of("Modules[0].Options.path") == 6
    assert loaded.line_of("Modules[0]") == 4
    assert loaded.line_of("Modules[0].Options.missing") is None
    assert Settings.new(tmp_path / "x.json", loaded.halo).line_of("Halo") is None


# --- Interval, paths, JSON locations ----------------------------------------------------


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


def test_json_locations_records_key_and_element_lines() -> None:
    text = '{\n"a": 1,\n"b": [\n  true,\n  {"c": "x\\"y"}\n],\n"d": {}\n}'
    located = parse_with_lines(text)
    assert located.value["b"][1]["c"] == 'x"y'
    assert located.lines == {
        "": 1, "a": 2, "b": 3, "b[0]": 4, "b[1]": 5, "b[1].c": 5, "d": 7,
    }  # fmt: skip


def test_json_locations_handles_scalars_and_empty_containers() -> None:
    assert parse_with_lines(" 42 ").lines == {"": 1}
    assert parse_with_lines("\n[]").lines == {"": 2}
    assert parse_with_lines('{"k": [ ], "e": { }}').lines == {"": 1, "k": 1, "e": 1}

"""Reading appsettings.json: every problem reported with its line, nothing ever written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from core.errors import ConfigError
from core.settings.model import SETTINGS_FILE_NAME, Settings, url_problem
from core.settings.reader import load_settings
from core.settings.secrets import KEY_FILE_NAME, Secret
from core.settings.writer import save_settings

PASTED_SECRET = "pasted-plaintext-secret"


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


def test_a_pasted_plaintext_client_secret_is_accepted_and_flagged(tmp_path: Path) -> None:
    write_json(tmp_path, minimal_document(ClientSecret=PASTED_SECRET))
    loaded = load_settings(tmp_path)
    assert loaded.halo.client_secret == Secret(PASTED_SECRET)
    assert loaded.has_plaintext_secrets is True
    assert not (tmp_path / KEY_FILE_NAME).exists(), "loading creates nothing"
    save_settings(loaded)
    assert PASTED_SECRET not in (tmp_path / SETTINGS_FILE_NAME).read_text()
    assert load_settings(tmp_path).has_plaintext_secrets is False


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


@pytest.mark.parametrize(
    ("key", "url"),
    [
        ("Url", "http://admin:pa55-word@127.0.0.1:8080"),
        ("Url", "https://admin:pa55-word@acme.halopsa.com"),
        ("Url", "https://pa55-word@acme.halopsa.com"),
        ("Url", "admin:pa55-word@acme.halopsa.com"),  # no scheme: still not echoed
        ("AuthUrl", "https://admin:pa55-word@auth.haloservicedesk.com"),
    ],
)
def test_a_url_with_a_user_or_password_is_refused_without_echoing_it(
    tmp_path: Path, key: str, url: str
) -> None:
    error = load_error(write_json(tmp_path, minimal_document(**{key: url})))
    assert error.field == f"Halo.{key}"
    assert "user name or password" in str(error)
    assert "pa55-word" not in f"{error} {error.hint}"


def test_url_problem_accepts_an_instance_address_and_names_user_info() -> None:
    assert url_problem("https://acme.halopsa.com") is None
    assert url_problem("http://127.0.0.1:8080") is None
    problem = url_problem("http://admin:pa55-word@127.0.0.1:8080")
    assert problem is not None and "pa55-word" not in problem and "admin" not in problem


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


def test_a_number_too_large_for_a_float_is_refused_with_its_field(tmp_path: Path) -> None:
    path = tmp_path / SETTINGS_FILE_NAME
    text = json.dumps(minimal_document()).replace(
        '"ClientId"', '"WindowSeconds": 1e999, "ClientId"'
    )
    path.write_text(text)
    error = load_error(path)
    assert error.field == "Halo.WindowSeconds" and "above 0, not" in str(error)


def test_a_folder_named_appsettings_json_is_called_a_folder(tmp_path: Path) -> None:
    (tmp_path / SETTINGS_FILE_NAME).mkdir()
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path / SETTINGS_FILE_NAME)
    error = caught.value
    assert "is a folder, not a settings file" in str(error)
    assert f"{SETTINGS_FILE_NAME}/{SETTINGS_FILE_NAME}" not in str(error)


def test_a_module_name_that_cannot_name_files_is_refused(tmp_path: Path) -> None:
    document = minimal_document()
    document["Modules"] = [{"Name": "../../etc", "Type": "csv"}]
    error = load_error(write_json(tmp_path, document))
    assert error.field == "Modules[0].Name" and "not a module name" in str(error)

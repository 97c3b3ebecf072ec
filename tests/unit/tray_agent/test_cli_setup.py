"""``module enable --secret`` refuses a secret too short for the logs to mask safely."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.errors import ConfigError
from core.modules import registry
from core.modules.base import SyncModule
from core.modules.options import option
from core.run.context import RunContext
from core.settings.model import SETTINGS_FILE_NAME, HaloConnection, Settings
from core.settings.reader import load_settings
from core.settings.secrets import MIN_SECRET_LENGTH, Secret
from core.settings.writer import save_settings
from tray_agent.cli import parse_arguments
from tray_agent.cli_setup import dispatch


@dataclass(frozen=True)
class TokenOptions:
    token: Secret = option(help="The source's API token.")


class TokenModule(SyncModule):
    """A module with a secret option; the registry has none yet, so the test brings one."""

    type_name = "tokens"
    display_name = "Token source"
    description = "For tests."
    Options = TokenOptions

    def run(self, context: RunContext) -> None:
        raise NotImplementedError


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setitem(registry.MODULES, TokenModule.type_name, TokenModule)
    halo = HaloConnection("https://acme.halopsa.com", "client-id", Secret("client-secret-1"))
    save_settings(Settings.new(tmp_path / SETTINGS_FILE_NAME, halo))
    return tmp_path


def enable(folder: Path) -> int:
    """``module enable tokens --secret token``, its value from $HALO_SECRET_TOKEN."""
    arguments = ["module", "enable", TokenModule.type_name, "--settings", str(folder)]
    return dispatch(parse_arguments([*arguments, "--secret", "token"]))


def test_a_module_secret_shorter_than_the_minimum_is_refused_and_nothing_saved(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = (folder / SETTINGS_FILE_NAME).read_bytes()
    short = "t0k" + "n" * (MIN_SECRET_LENGTH - 4)
    monkeypatch.setenv("HALO_SECRET_TOKEN", short)
    with pytest.raises(ConfigError) as refused:
        enable(folder)
    assert f"shorter than {MIN_SECRET_LENGTH} characters" in str(refused.value)
    assert "Nothing was saved" in refused.value.hint
    assert short not in f"{refused.value} {refused.value.hint}"
    assert (folder / SETTINGS_FILE_NAME).read_bytes() == before


def test_a_module_secret_of_the_minimum_length_is_stored_encrypted(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "t0k" + "n" * (MIN_SECRET_LENGTH - 3)
    monkeypatch.setenv("HALO_SECRET_TOKEN", secret)
    assert enable(folder) == 0
    assert secret not in (folder / SETTINGS_FILE_NAME).read_text()
    stored = json.loads((folder / SETTINGS_FILE_NAME).read_text())["Modules"][0]["Options"]
    assert stored["token"].startswith("enc:v1:")
    assert load_settings(folder).modules[0].options["token"] == Secret(secret)


def test_a_mapping_of_secrets_is_read_as_json_and_each_value_stored_encrypted(
    folder: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    password = "Ad-service-pa55word"
    monkeypatch.setenv("HALO_SECRET_ENVIRONMENT", json.dumps({"AD_PASSWORD": password}))
    scripts = tmp_path / "scripts"
    arguments = ["module", "enable", "powershell", "--settings", str(folder)]
    arguments += ["--set", f"scripts_folder={scripts}", "--secret", "environment"]
    assert dispatch(parse_arguments(arguments)) == 0
    text = (folder / SETTINGS_FILE_NAME).read_text()
    stored = json.loads(text)["Modules"][0]["Options"]["environment"]
    assert password not in text and stored["AD_PASSWORD"].startswith("enc:v1:")
    entry = load_settings(folder).modules[0]
    assert entry.options["environment"] == {"AD_PASSWORD": Secret(password)}
    assert password in entry.secret_values()  # so every run log masks it


def test_module_show_says_when_an_option_applies(capsys) -> None:
    from tray_agent.cli_setup import show_module

    assert show_module("csv", None) == 0
    shown = capsys.readouterr().out
    asset_type = shown[shown.index("  assettype_id") :].splitlines()
    assert asset_type[2].strip() == "Only when target is assets."
    assert "Only when deactivate_missing is True." in shown

"""The ``.bak`` kept on every save never holds a secret in clear, even one pasted by hand."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from core.agent import Agent
from core.modules import registry
from core.modules.base import SyncModule
from core.modules.options import option
from core.run.context import RunContext
from core.settings.model import SETTINGS_FILE_NAME, HaloConnection, ModuleSettings, Settings
from core.settings.reader import load_settings
from core.settings.secrets import Secret
from core.settings.writer import save_settings

PASTED_CLIENT_SECRET = "pasted-client-secret-4711"
PASTED_TOKEN = "pasted-module-token-0815"
STORED_DEEP_SECRET = "stored-deep-secret-2342"
BACKUP_NAME = SETTINGS_FILE_NAME + ".bak"


@dataclass(frozen=True)
class TokenOptions:
    token: Secret = option(help="The source's API token.")
    extra: dict[str, Any] = field(default_factory=dict, metadata={"help": "anything"})


class TokenModule(SyncModule):
    """A module with a secret option; the registry has none yet, so the test brings one."""

    type_name = "tokens"
    display_name = "Token source"
    description = "For tests."
    Options = TokenOptions

    def run(self, context: RunContext) -> None:
        raise NotImplementedError


@pytest.fixture(autouse=True)
def token_module(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.MODULES, TokenModule.type_name, TokenModule)


def saved_folder(folder: Path) -> Path:
    """A folder saved the normal way, then edited by hand: both secrets pasted in clear."""
    halo = HaloConnection("https://acme.halopsa.com", "client-id", Secret("replaced-later-1"))
    settings = Settings.new(folder / SETTINGS_FILE_NAME, halo)
    deep = {"levels": [{"secret": Secret(STORED_DEEP_SECRET)}]}
    options = {"token": Secret("replaced-later-2"), "extra": deep}
    settings.modules.append(ModuleSettings(name=TokenModule.type_name, options=options))
    save_settings(settings)
    document = json.loads(settings.path.read_text())
    document["Halo"]["ClientSecret"] = PASTED_CLIENT_SECRET
    document["Modules"][0]["Options"]["token"] = PASTED_TOKEN
    settings.path.write_text(json.dumps(document, indent=4))
    return folder


def test_secrets_pasted_in_clear_are_encrypted_in_the_file_and_its_backup(tmp_path: Path) -> None:
    folder = saved_folder(tmp_path / "5 Mins")
    loaded = Agent(folder).settings  # notices the pasted secrets and saves again
    assert loaded.module(TokenModule.type_name).options["token"] == Secret(PASTED_TOKEN)  # type: ignore[union-attr]
    for name in (SETTINGS_FILE_NAME, BACKUP_NAME):
        raw = (folder / name).read_bytes()
        assert PASTED_CLIENT_SECRET.encode() not in raw, name
        assert PASTED_TOKEN.encode() not in raw, name
        assert STORED_DEEP_SECRET.encode() not in raw, name

    backup = load_settings(folder / BACKUP_NAME)
    assert backup.has_plaintext_secrets is False
    assert backup.halo.client_secret == Secret(PASTED_CLIENT_SECRET)
    [module] = backup.modules
    assert module.options["token"] == Secret(PASTED_TOKEN)
    assert module.options["extra"]["levels"][0]["secret"] == Secret(STORED_DEEP_SECRET)


def test_a_backup_without_pasted_secrets_keeps_the_previous_bytes(tmp_path: Path) -> None:
    folder = saved_folder(tmp_path)
    Agent(folder).reload()  # saves again, encrypting what was pasted
    previous = (folder / SETTINGS_FILE_NAME).read_bytes()
    save_settings(load_settings(folder))
    assert (folder / BACKUP_NAME).read_bytes() == previous


def test_a_pasted_number_in_a_secret_field_is_encrypted_too(tmp_path: Path) -> None:
    folder = saved_folder(tmp_path)
    path = folder / SETTINGS_FILE_NAME
    document = json.loads(path.read_text())
    document["Modules"][0]["Options"]["token"] = 987654321987
    path.write_text(json.dumps(document))
    save_settings(load_settings(folder))
    assert b"987654321987" not in (folder / BACKUP_NAME).read_bytes()
    assert load_settings(folder / BACKUP_NAME).modules[0].options["token"] == Secret("987654321987")


def test_a_broken_file_replaced_from_the_dialog_is_kept_with_its_secrets_encrypted(
    tmp_path: Path,
) -> None:
    folder = saved_folder(tmp_path)
    path = folder / SETTINGS_FILE_NAME
    broken = path.read_text().replace('"Modules"', '"Modules" oops', 1)
    path.write_text(broken)
    save_settings(Settings.new(path, HaloConnection("https://a.halopsa.com", "id", None)))
    kept = (folder / BACKUP_NAME).read_text()
    assert PASTED_CLIENT_SECRET not in kept and PASTED_TOKEN not in kept
    assert '"Modules" oops' in kept, "the rest of the broken file is kept as it was"
    repaired = folder / "repaired.json"
    repaired.write_text(kept.replace('"Modules" oops', '"Modules"'))
    assert load_settings(repaired).halo.client_secret == Secret(PASTED_CLIENT_SECRET)


def test_a_file_too_broken_to_check_is_not_kept_and_the_older_backup_stays(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = saved_folder(tmp_path)
    Agent(folder).reload()  # saves again, encrypting what was pasted
    older_backup = (folder / BACKUP_NAME).read_bytes()
    path = folder / SETTINGS_FILE_NAME
    path.write_text('{"Halo": {"ClientSecret": "' + PASTED_CLIENT_SECRET + "\n}")  # no quote
    with caplog.at_level(logging.WARNING, logger="core.settings.writer"):
        save_settings(Settings.new(path, HaloConnection("https://a.halopsa.com", "id", None)))
    assert (folder / BACKUP_NAME).read_bytes() == older_backup
    assert "may hold a secret in clear" in caplog.text
    assert PASTED_CLIENT_SECRET not in caplog.text

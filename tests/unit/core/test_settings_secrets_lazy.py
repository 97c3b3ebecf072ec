"""Secrets read from a settings file stay encrypted until revealed, so the tray (which reads
its settings all day and never needs a plaintext) never loads cryptography; a wrong key or a
damaged token is still reported when the file is read."""

from __future__ import annotations

import base64
import logging
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from core.errors import SecretKeyError
from core.run.logs import RedactingFormatter
from core.settings.model import HaloConnection, ModuleSettings, Settings
from core.settings.reader import load_settings
from core.settings.secrets import ENCRYPTED_PREFIX, Secret, SecretBox
from core.settings.writer import save_settings

CLIENT_SECRET = "client-secret-4242"
PASSWORD = "bind-password-777"


def saved_settings(folder: Path) -> Path:
    connection = HaloConnection("https://halo.example.com", "id", Secret(CLIENT_SECRET))
    settings = Settings.new(folder / "appsettings.json", connection)
    settings.modules.append(
        ModuleSettings(
            name="ldap",
            type="ldap",
            options={"server": "ldap://dc01", "bind_password": Secret(PASSWORD)},
        )
    )
    save_settings(settings)
    return folder / "appsettings.json"


def test_a_secret_read_from_the_file_is_decrypted_only_when_revealed(tmp_path: Path) -> None:
    settings = load_settings(saved_settings(tmp_path))
    secret = settings.halo.client_secret
    assert secret is not None and not secret.is_decrypted
    assert secret  # never empty: the writer stores no empty secret
    assert settings.secret_values(decrypt=False) == []
    assert secret.reveal() == CLIENT_SECRET
    assert secret.is_decrypted
    assert settings.secret_values(decrypt=False) == [CLIENT_SECRET]
    assert sorted(settings.secret_values()) == sorted([CLIENT_SECRET, PASSWORD])


def test_reading_settings_and_their_status_loads_no_cryptography(tmp_path: Path) -> None:
    saved_settings(tmp_path)
    probe = (
        "import sys\n"
        "from core.agent import Agent\n"
        "agent = Agent(sys.argv[1], origin='tray')\n"
        "agent.reload()\n"
        "agent.statuses()\n"
        "print(sorted(m for m in sys.modules if m.startswith('cryptography')))\n"
        "print(agent.settings.halo.client_secret.reveal())\n"
        "print(any(m.startswith('cryptography') for m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert done.stdout.split("\n")[:3] == ["[]", CLIENT_SECRET, "True"]


def test_a_value_of_another_key_is_refused_when_read_not_when_revealed(tmp_path: Path) -> None:
    five_minutes = SecretBox.for_folder(tmp_path / "5 Mins", create=True)
    daily = SecretBox.for_folder(tmp_path / "Daily", create=True)
    with pytest.raises(SecretKeyError, match="cannot decrypt a secret with the key file"):
        daily.decrypt(five_minutes.encrypt("hunter2-hunter2"))


@pytest.mark.parametrize("where", ["version", "time", "iv", "ciphertext", "hmac"])
def test_a_token_changed_anywhere_is_refused_when_read(tmp_path: Path, where: str) -> None:
    box = SecretBox.for_folder(tmp_path, create=True)
    token = bytearray(base64.urlsafe_b64decode(box.encrypt("hunter2-hunter2")[7:]))
    offset = {"version": 0, "time": 3, "iv": 12, "ciphertext": 30, "hmac": len(token) - 1}[where]
    token[offset] ^= 0x01
    with pytest.raises(SecretKeyError):
        box.decrypt(ENCRYPTED_PREFIX + base64.urlsafe_b64encode(bytes(token)).decode())


def test_a_token_cut_short_is_refused_when_read(tmp_path: Path) -> None:
    box = SecretBox.for_folder(tmp_path, create=True)
    encrypted = box.encrypt("hunter2-hunter2")
    token = base64.urlsafe_b64decode(encrypted[7:])
    for length in (0, 1, 40, len(token) - 33):
        short = base64.urlsafe_b64encode(token[:length]).decode()
        with pytest.raises(SecretKeyError):
            box.decrypt(ENCRYPTED_PREFIX + short)


def test_saving_unchanged_settings_keeps_each_secret_as_it_was_written(tmp_path: Path) -> None:
    path = saved_settings(tmp_path)
    before = path.read_text()
    settings = load_settings(path)
    save_settings(settings)
    assert path.read_text() == before
    assert settings.halo.client_secret is not None
    assert not settings.halo.client_secret.is_decrypted  # saving decrypted nothing


def test_a_secret_saved_into_another_folder_is_encrypted_with_that_folders_key(
    tmp_path: Path,
) -> None:
    settings = load_settings(saved_settings(tmp_path / "5 Mins"))
    other = tmp_path / "Daily"
    other.mkdir()
    settings.path = other / "appsettings.json"
    save_settings(settings)
    copied = load_settings(other / "appsettings.json")
    assert copied.halo.client_secret is not None
    assert copied.halo.client_secret.reveal() == CLIENT_SECRET
    assert sorted(copied.secret_values()) == sorted([CLIENT_SECRET, PASSWORD])


def test_a_secret_revealed_later_is_masked_in_the_logs_from_then_on(tmp_path: Path) -> None:
    password = f"never-seen-{secrets.token_hex(8)}"  # no other test revealed this one
    connection = HaloConnection("https://halo.example.com", "id", Secret(password))
    save_settings(Settings.new(tmp_path / "appsettings.json", connection))
    secret = load_settings(tmp_path).halo.client_secret
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "bind with %s", (password,), None)
    formatter = RedactingFormatter("%(message)s")
    assert secret is not None and not secret.is_decrypted
    assert formatter.format(record) == f"bind with {password}"  # not known to the logs yet
    secret.reveal()
    assert formatter.format(record) == "bind with ********"

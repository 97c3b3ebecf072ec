"""The Windows path, tested at its boundaries: DPAPI and icacls are fakes, everything else real.

No Windows machine runs these tests; what they prove is that the key file holds only what the
(fake) DPAPI sealed, that reading unseals it, that an older plain key is upgraded, that every
private file is restricted to its owner before anything is written into it, and that the
ctypes structures and icacls arguments are the ones Windows documents.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import subprocess
from base64 import b64decode
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from cryptography.fernet import Fernet

from core.errors import ConfigError, SecretKeyError
from core.settings.model import SETTINGS_FILE_NAME, HaloConnection, Settings
from core.settings.reader import load_settings
from core.settings.secrets import KEY_FILE_NAME, Secret, SecretBox
from core.settings.windows_protection import (
    CRYPTPROTECT_UI_FORBIDDEN,
    KEY_DESCRIPTION,
    PROTECTED_KEY_HEADER,
    Dlls,
    WindowsProtection,
    platform_protection,
    protect,
    restrict_to_owner,
    unprotect,
)
from core.settings.writer import save_settings

SEAL = b"sealed-for-this-account:"
CLIENT_SECRET = "client-secret-on-windows"


class FakeWindows:
    """Stands in for DPAPI and icacls: seals by tagging and reversing, records ACL calls."""

    def __init__(self) -> None:
        self.restricted: list[tuple[Path, int]] = []  # (path, its size when restricted)
        self.unsealed = 0

    def protect(self, data: bytes) -> bytes:
        return SEAL + data[::-1]

    def unprotect(self, data: bytes) -> bytes:
        if not data.startswith(SEAL):
            raise OSError("CryptUnprotectData failed (Windows error 13)")
        self.unsealed += 1
        return data[len(SEAL) :][::-1]

    def restrict_to_owner(self, path: Path) -> None:
        self.restricted.append((path, path.stat().st_size))

    def restricted_targets(self) -> list[str]:
        """The files the restricted temp files became (``.appsettings.key.x1y2`` -> key)."""
        return [path.name[1:].rsplit(".", 1)[0] for path, _ in self.restricted]


def sealed_key(folder: Path) -> bytes:
    """The Fernet key inside a key file sealed by FakeWindows."""
    stored = (folder / KEY_FILE_NAME).read_bytes().strip()
    assert stored.startswith(PROTECTED_KEY_HEADER)
    return FakeWindows().unprotect(b64decode(stored[len(PROTECTED_KEY_HEADER) :]))


def new_settings(folder: Path) -> Settings:
    halo = HaloConnection("https://acme.halopsa.com", "client-id", Secret(CLIENT_SECRET))
    return Settings.new(folder / SETTINGS_FILE_NAME, halo)


# --- the key file on Windows ------------------------------------------------------------


def test_on_windows_a_new_key_is_stored_sealed_and_never_in_plain(tmp_path: Path) -> None:
    windows = FakeWindows()
    box = SecretBox.for_folder(tmp_path, create=True, protection=windows)
    stored = (tmp_path / KEY_FILE_NAME).read_bytes()
    key = sealed_key(tmp_path)
    Fernet(key)  # a valid key went into the seal
    assert key not in stored
    assert Fernet(key).decrypt(box.encrypt("value")[len("enc:v1:") :].encode()) == b"value"
    assert windows.restricted_targets() == [KEY_FILE_NAME]


def test_on_windows_reading_the_key_unseals_it(tmp_path: Path) -> None:
    encrypted = SecretBox.for_folder(tmp_path, create=True, protection=FakeWindows()).encrypt("v")
    windows = FakeWindows()
    assert SecretBox.for_folder(tmp_path, protection=windows).decrypt(encrypted) == Secret("v")
    assert windows.unsealed == 1


def test_a_plain_key_from_an_older_version_is_read_then_sealed_at_the_next_save(
    tmp_path: Path,
) -> None:
    plain_key = Fernet.generate_key()
    (tmp_path / KEY_FILE_NAME).write_bytes(plain_key + b"\n")
    encrypted = "enc:v1:" + Fernet(plain_key).encrypt(b"old secret").decode()
    windows = FakeWindows()

    assert SecretBox.for_folder(tmp_path, protection=windows).decrypt(encrypted).reveal() == (
        "old secret"
    )
    assert (tmp_path / KEY_FILE_NAME).read_bytes() == plain_key + b"\n", "reading changes nothing"

    save_settings(new_settings(tmp_path), protection=windows)
    assert plain_key not in (tmp_path / KEY_FILE_NAME).read_bytes()
    assert sealed_key(tmp_path) == plain_key, "the same key, so stored secrets still decrypt"
    assert SecretBox.for_folder(tmp_path, protection=windows).decrypt(encrypted).reveal() == (
        "old secret"
    )
    assert KEY_FILE_NAME in windows.restricted_targets()
    assert [path.name for path in tmp_path.iterdir() if path.name.startswith(".")] == []


def test_the_key_settings_and_backup_files_are_owner_only_before_a_byte_is_written(
    tmp_path: Path,
) -> None:
    windows = FakeWindows()
    settings = new_settings(tmp_path)
    save_settings(settings, protection=windows)
    save_settings(settings, protection=windows)
    assert sorted(windows.restricted_targets()) == sorted(
        [KEY_FILE_NAME, SETTINGS_FILE_NAME, SETTINGS_FILE_NAME, SETTINGS_FILE_NAME + ".bak"]
    )
    assert all(size == 0 for _, size in windows.restricted)
    assert all(path.parent == tmp_path for path, _ in windows.restricted)


def test_settings_saved_on_windows_load_and_keep_the_secret_out_of_every_file(
    tmp_path: Path,
) -> None:
    windows = FakeWindows()
    save_settings(new_settings(tmp_path), protection=windows)
    stored = json.loads((tmp_path / SETTINGS_FILE_NAME).read_text())["Halo"]["ClientSecret"]
    box = SecretBox.for_folder(tmp_path, protection=windows)
    assert box.decrypt(stored) == Secret(CLIENT_SECRET)
    for path in tmp_path.iterdir():
        assert CLIENT_SECRET.encode() not in path.read_bytes()


def test_a_key_sealed_for_another_account_is_a_secret_key_error(tmp_path: Path) -> None:
    (tmp_path / KEY_FILE_NAME).write_bytes(PROTECTED_KEY_HEADER + b"b3RoZXI=\n")  # "other"
    with pytest.raises(SecretKeyError) as caught:
        SecretBox.for_folder(tmp_path, protection=FakeWindows())
    assert str(tmp_path / KEY_FILE_NAME) in str(caught.value)
    assert "another Windows account" in str(caught.value)
    assert "configure" in caught.value.hint


@pytest.mark.skipif(os.name == "nt", reason="the POSIX side of a folder copied from Windows")
def test_a_sealed_key_copied_to_linux_is_a_secret_key_error_saying_why(tmp_path: Path) -> None:
    SecretBox.for_folder(tmp_path, create=True, protection=FakeWindows())
    with pytest.raises(SecretKeyError, match="sealed with Windows DPAPI"):
        SecretBox.for_folder(tmp_path)


def test_a_refused_acl_saves_nothing_and_leaves_no_temp_file(tmp_path: Path) -> None:
    class RefusingAcl(FakeWindows):
        def restrict_to_owner(self, path: Path) -> None:
            raise ConfigError("cannot make the file readable by its owner only", path=str(path))

    with pytest.raises(ConfigError, match="owner only"):
        save_settings(new_settings(tmp_path), protection=RefusingAcl())
    assert list(tmp_path.iterdir()) == []


def test_a_plain_key_that_cannot_be_sealed_keeps_working_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    class NoDpapi(FakeWindows):
        def protect(self, data: bytes) -> bytes:
            raise OSError("CryptProtectData failed (Windows error 5)")

    plain_key = Fernet.generate_key() + b"\n"
    (tmp_path / KEY_FILE_NAME).write_bytes(plain_key)
    with caplog.at_level(logging.WARNING, logger="core.settings.secrets"):
        save_settings(new_settings(tmp_path), protection=NoDpapi())
    assert "Could not seal the key file" in caplog.text
    assert (tmp_path / KEY_FILE_NAME).read_bytes() == plain_key
    assert load_settings(tmp_path).halo.client_secret == Secret(CLIENT_SECRET)


# --- POSIX stays as it was --------------------------------------------------------------


def test_only_windows_gets_dpapi_and_acls() -> None:
    assert isinstance(platform_protection("nt"), WindowsProtection)
    assert platform_protection("posix") is None


@pytest.mark.skipif(os.name == "nt", reason="POSIX behaviour")
def test_on_posix_the_key_file_stays_a_plain_fernet_key(tmp_path: Path) -> None:
    save_settings(new_settings(tmp_path))
    stored = (tmp_path / KEY_FILE_NAME).read_bytes()
    assert not stored.startswith(PROTECTED_KEY_HEADER)
    Fernet(stored.strip())


# --- the ctypes boundary: CryptProtectData / CryptUnprotectData / LocalFree --------------


class FakeDpapiDlls:
    """crypt32 and kernel32 as ctypes would call them: DATA_BLOB in, DATA_BLOB out."""

    def __init__(self, *, succeed: bool = True) -> None:
        self.succeed = succeed
        self.calls: list[tuple[Any, ...]] = []
        self.allocated: list[int] = []
        self.freed: list[int | None] = []
        self._buffers: list[ctypes.Array[ctypes.c_char]] = []
        crypt32 = SimpleNamespace(
            CryptProtectData=self._function("CryptProtectData", lambda data: b"dpapi:" + data),
            CryptUnprotectData=self._function("CryptUnprotectData", lambda data: data[6:]),
        )
        kernel32 = SimpleNamespace(LocalFree=lambda pointer: self.freed.append(pointer.value))
        self.dlls = Dlls(crypt32, kernel32)

    def _function(self, name: str, transform: Any) -> Any:
        def call(blob_in: Any, description: Any, *rest: Any) -> int:
            entropy, reserved, prompt, flags, blob_out = rest  # byref(): ._obj is the blob
            data = ctypes.string_at(blob_in._obj.pbData, blob_in._obj.cbData)
            self.calls.append((name, data, description, entropy, reserved, prompt, flags))
            if not self.succeed:
                return 0
            result = transform(data)
            buffer = ctypes.create_string_buffer(result, len(result))  # "LocalAlloc"
            self._buffers.append(buffer)
            self.allocated.append(ctypes.addressof(buffer))
            blob_out._obj.cbData = len(result)
            blob_out._obj.pbData = ctypes.cast(buffer, ctypes.POINTER(ctypes.c_char))
            return 1

        call.__name__ = name
        return call


def test_protect_passes_data_blobs_forbids_prompts_and_frees_the_output() -> None:
    fake = FakeDpapiDlls()
    sealed = protect(b"fernet key\x00bytes", fake.dlls)
    assert sealed == b"dpapi:fernet key\x00bytes"
    assert unprotect(sealed, fake.dlls) == b"fernet key\x00bytes"
    assert fake.calls == [
        ("CryptProtectData", b"fernet key\x00bytes", KEY_DESCRIPTION, None, None, None,
         CRYPTPROTECT_UI_FORBIDDEN),
        ("CryptUnprotectData", sealed, None, None, None, None, CRYPTPROTECT_UI_FORBIDDEN),
    ]  # fmt: skip
    assert fake.freed == fake.allocated, "each output blob is released with LocalFree"


def test_a_failed_dpapi_call_raises_os_error_and_frees_nothing() -> None:
    fake = FakeDpapiDlls(succeed=False)
    with pytest.raises(OSError, match="CryptUnprotectData failed"):
        unprotect(b"sealed elsewhere", fake.dlls)
    assert fake.freed == []


# --- the icacls boundary ------------------------------------------------------------------

SID = "S-1-5-21-1004336348-1177238915-682003330-1001"


class FakeRunner:
    """subprocess.run for whoami.exe and icacls.exe, recording each command line."""

    def __init__(self, *, icacls_code: int = 0, whoami_output: bytes | None = None) -> None:
        self.commands: list[list[str]] = []
        self.icacls_code = icacls_code
        self.whoami_output = whoami_output or f'"jumpbox\\admin","{SID}"\r\n'.encode()

    def __call__(self, command: list[str], **options: Any) -> subprocess.CompletedProcess[bytes]:
        assert options.get("check") is False and options.get("capture_output") is True
        self.commands.append(command)
        if command[0].endswith("whoami.exe"):
            return subprocess.CompletedProcess(command, 0, self.whoami_output, b"")
        message = b"Successfully processed 1 files" if self.icacls_code == 0 else b"Access denied."
        return subprocess.CompletedProcess(command, self.icacls_code, message, b"")


def test_restrict_to_owner_grants_the_current_account_alone_and_drops_inheritance(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SYSTEMROOT", raising=False)
    runner = FakeRunner()
    restrict_to_owner(tmp_path / "appsettings.json", runner)
    assert runner.commands == [
        [r"C:\Windows\System32\whoami.exe", "/user", "/fo", "csv", "/nh"],
        [r"C:\Windows\System32\icacls.exe", str(tmp_path / "appsettings.json"),
         "/inheritance:r", "/grant:r", f"*{SID}:(F)"],
    ]  # fmt: skip


def test_a_refused_icacls_is_a_config_error_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        restrict_to_owner(tmp_path / "appsettings.key", FakeRunner(icacls_code=5))
    assert str(tmp_path / "appsettings.key") in str(caught.value)
    assert "Access denied." in str(caught.value)


def test_an_unknown_account_is_a_config_error_and_icacls_is_never_run(tmp_path: Path) -> None:
    runner = FakeRunner(whoami_output=b"ERROR: no user\r\n")
    with pytest.raises(ConfigError, match="which Windows account"):
        restrict_to_owner(tmp_path / "appsettings.key", runner)
    assert len(runner.commands) == 1

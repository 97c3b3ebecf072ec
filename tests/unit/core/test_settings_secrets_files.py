"""The key file's edges: who may read it, where its temporary file lives, what each error says.

``test_settings_secrets.py`` covers the ``Secret`` type and the box; the Windows path is in
``test_windows_protection.py``. These pin what a mutation check found unasserted.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from core.errors import SecretKeyError
from core.settings import secrets
from core.settings.secrets import ENCRYPTED_PREFIX, KEY_FILE_NAME, Secret, SecretBox
from core.settings.windows_protection import PROTECTED_KEY_HEADER

posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
SEAL = b"sealed:"


class RecordingProtection:
    """A stand-in for DPAPI and ACLs that remembers which files it restricted."""

    def __init__(self) -> None:
        self.restricted: list[Path] = []

    def protect(self, data: bytes) -> bytes:
        return SEAL + data

    def unprotect(self, data: bytes) -> bytes:
        if not data.startswith(SEAL):
            raise OSError("not sealed for this account")
        return data[len(SEAL) :]

    def restrict_to_owner(self, path: Path) -> None:
        self.restricted.append(path)


def plain_key_file(folder: Path) -> bytes:
    """An older version's key file: the Fernet key in plain, owner-only."""
    key = Fernet.generate_key() + b"\n"
    (folder / KEY_FILE_NAME).write_bytes(key)
    (folder / KEY_FILE_NAME).chmod(0o600)
    return key


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


# -- the Secret type -----------------------------------------------------------------------------


def test_secrets_with_other_values_hash_apart() -> None:
    assert hash(Secret("a")) != hash(Secret("b"))
    assert hash(Secret("a")) == hash(Secret("a"))


def test_a_secret_refusing_bytes_names_the_type_it_got() -> None:
    with pytest.raises(TypeError, match=r"^Secret wraps a str, not bytes$"):
        Secret(b"x")  # type: ignore[arg-type]


def test_a_secret_compared_with_text_is_not_equal() -> None:
    assert Secret("a").__eq__("a") is NotImplemented
    assert Secret("a") != "a"


def test_a_box_shows_its_key_file_and_never_the_key(tmp_path: Path) -> None:
    box = SecretBox.for_folder(tmp_path, create=True)
    key = (tmp_path / KEY_FILE_NAME).read_text().strip()
    assert repr(box) == f"SecretBox(key_path={str(tmp_path / KEY_FILE_NAME)!r})"
    assert key not in repr(box)


# -- who may read the key file -------------------------------------------------------------------


@posix_only
def test_an_owner_only_key_file_logs_no_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    SecretBox.for_folder(tmp_path, create=True)
    for mode in (0o600, 0o400, 0o700):
        (tmp_path / KEY_FILE_NAME).chmod(mode)
        with caplog.at_level(logging.DEBUG, logger="core.settings.secrets"):
            SecretBox.for_folder(tmp_path)
    assert warnings_of(caplog) == []


@posix_only
@pytest.mark.parametrize("mode", [0o640, 0o604, 0o610, 0o601])
def test_a_key_file_group_or_others_can_use_warns_with_the_fix(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, mode: int
) -> None:
    SecretBox.for_folder(tmp_path, create=True)
    key_path = tmp_path / KEY_FILE_NAME
    key_path.chmod(mode)
    with caplog.at_level(logging.WARNING, logger="core.settings.secrets"):
        SecretBox.for_folder(tmp_path)
    assert warnings_of(caplog) == [
        f"The key file {key_path} can be read by other accounts (mode {mode:o}); "
        f"run: chmod 600 {key_path}"
    ]


def test_windows_has_no_mode_bits_to_warn_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    SecretBox.for_folder(tmp_path, create=True)
    (tmp_path / KEY_FILE_NAME).chmod(0o644)
    monkeypatch.setattr(secrets.os, "name", "nt")
    with caplog.at_level(logging.WARNING, logger="core.settings.secrets"):
        secrets._warn_if_readable_by_others(tmp_path / KEY_FILE_NAME)
    assert warnings_of(caplog) == []


# -- the new key's temporary file ----------------------------------------------------------------


def test_a_new_key_is_written_beside_its_final_name_then_linked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    linked: list[tuple[Path, Path]] = []
    real_link = os.link

    def spy(source: os.PathLike[str], target: os.PathLike[str]) -> None:
        linked.append((Path(source), Path(target)))
        real_link(source, target)

    monkeypatch.setattr(secrets.os, "link", spy)
    folder = tmp_path / "settings"
    SecretBox.for_folder(folder, create=True)
    [(temporary, target)] = linked
    assert target == folder / KEY_FILE_NAME
    # Beside the key (a link cannot cross file systems), hidden, and gone afterwards.
    assert temporary.parent == folder
    assert temporary.name.startswith(f".{KEY_FILE_NAME}.")
    assert sorted(p.name for p in folder.iterdir()) == [KEY_FILE_NAME]
    Fernet((folder / KEY_FILE_NAME).read_bytes().strip())


def test_a_sealed_key_is_restricted_while_still_empty_in_its_own_folder(tmp_path: Path) -> None:
    protection = RecordingProtection()
    SecretBox.for_folder(tmp_path, create=True, protection=protection)
    [temporary] = protection.restricted
    assert temporary.parent == tmp_path
    assert temporary.name.startswith(f".{KEY_FILE_NAME}.")
    stored = (tmp_path / KEY_FILE_NAME).read_bytes()
    assert stored.startswith(PROTECTED_KEY_HEADER) and stored.endswith(b"\n")


def test_a_key_another_process_linked_first_is_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    key_path = tmp_path / KEY_FILE_NAME
    theirs = Fernet.generate_key() + b"\n"
    key_path.write_bytes(theirs)
    with caplog.at_level(logging.DEBUG, logger="core.settings.secrets"):
        secrets._create_key_file(key_path, None)
    assert key_path.read_bytes() == theirs
    assert [p.name for p in tmp_path.iterdir()] == [KEY_FILE_NAME]
    assert f"Another process created {key_path} first; using its key" in caplog.text


def test_a_plain_key_is_written_with_a_newline(tmp_path: Path) -> None:
    SecretBox.for_folder(tmp_path, create=True)
    stored = (tmp_path / KEY_FILE_NAME).read_bytes()
    assert stored.endswith(b"\n") and stored.count(b"\n") == 1


# -- sealing an older plain key ------------------------------------------------------------------


def test_a_plain_key_that_cannot_be_replaced_keeps_working_and_leaves_no_temp_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_path = tmp_path / KEY_FILE_NAME
    plain = plain_key_file(tmp_path)

    def busy(source: os.PathLike[str], target: os.PathLike[str]) -> None:
        raise PermissionError(13, "the key file is open in another process")

    monkeypatch.setattr(secrets.os, "replace", busy)
    with caplog.at_level(logging.WARNING, logger="core.settings.secrets"):
        box = SecretBox.for_folder(tmp_path, create=True, protection=RecordingProtection())
    assert key_path.read_bytes() == plain
    assert [p.name for p in tmp_path.iterdir()] == [KEY_FILE_NAME]
    assert warnings_of(caplog) == [
        f"Could not seal the key file {key_path} with DPAPI: "
        "[Errno 13] the key file is open in another process"
    ]
    assert box.decrypt(box.encrypt("x")) == Secret("x")


def test_a_plain_key_dpapi_cannot_seal_is_named_in_the_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    class NoDpapi(RecordingProtection):
        def protect(self, data: bytes) -> bytes:
            raise OSError("CryptProtectData failed")

    key_path = tmp_path / KEY_FILE_NAME
    plain_key_file(tmp_path)
    with caplog.at_level(logging.WARNING, logger="core.settings.secrets"):
        SecretBox.for_folder(tmp_path, create=True, protection=NoDpapi())
    assert warnings_of(caplog) == [
        f"Could not seal the key file {key_path} with DPAPI: cannot seal a key with Windows "
        "DPAPI: CryptProtectData failed. Run the integrator as an ordinary Windows account "
        "with a loaded profile."
    ]


def test_reading_a_plain_key_without_saving_never_seals_it(tmp_path: Path) -> None:
    key_path = tmp_path / KEY_FILE_NAME
    key_path.write_bytes(Fernet.generate_key() + b"\n")
    protection = RecordingProtection()
    SecretBox.for_folder(tmp_path, protection=protection)
    assert protection.restricted == []
    assert not key_path.read_bytes().startswith(PROTECTED_KEY_HEADER)


def test_a_sealed_key_is_not_sealed_again_at_the_next_save(tmp_path: Path) -> None:
    protection = RecordingProtection()
    SecretBox.for_folder(tmp_path, create=True, protection=protection)
    stored = (tmp_path / KEY_FILE_NAME).read_bytes()
    SecretBox.for_folder(tmp_path, create=True, protection=protection)
    assert len(protection.restricted) == 1
    assert (tmp_path / KEY_FILE_NAME).read_bytes() == stored


# -- what each error says ------------------------------------------------------------------------


def test_a_missing_key_says_what_to_copy_or_do(tmp_path: Path) -> None:
    with pytest.raises(SecretKeyError) as caught:
        SecretBox.for_folder(tmp_path)
    assert caught.value.message == f"the key file {tmp_path / KEY_FILE_NAME} is missing"
    assert caught.value.hint == (
        "Copy the appsettings.key that belongs to this settings file beside it, or enter the "
        "secrets again with `halo-integrator configure` (which creates a key)."
    )


def test_an_unreadable_key_names_the_reason_and_the_account_to_use(tmp_path: Path) -> None:
    (tmp_path / KEY_FILE_NAME).mkdir()
    with pytest.raises(SecretKeyError) as caught:
        SecretBox.for_folder(tmp_path)
    assert caught.value.message == (
        f"cannot read the key file {tmp_path / KEY_FILE_NAME}: Is a directory"
    )
    assert caught.value.hint == "Run the integrator as the account that owns the settings folder."


def test_a_garbled_key_says_to_restore_or_re_enter(tmp_path: Path) -> None:
    (tmp_path / KEY_FILE_NAME).write_text("garbage")
    with pytest.raises(SecretKeyError) as caught:
        SecretBox.for_folder(tmp_path)
    assert caught.value.message == (
        f"the key file {tmp_path / KEY_FILE_NAME} does not hold a valid key"
    )
    assert caught.value.hint == (
        "Restore it from a backup, or delete it and enter the secrets again with "
        "`halo-integrator configure`."
    )


def test_a_value_of_another_key_says_which_key_file_to_fetch(tmp_path: Path) -> None:
    box = SecretBox.for_folder(tmp_path / "a", create=True)
    other = SecretBox.for_folder(tmp_path / "b", create=True)
    with pytest.raises(SecretKeyError) as caught:
        other.decrypt(box.encrypt("x"))
    assert caught.value.message == (
        f"cannot decrypt a secret with the key file {tmp_path / 'b' / KEY_FILE_NAME}"
    )
    assert caught.value.hint == (
        "The value was encrypted with another key or is damaged: put the matching "
        "appsettings.key beside the settings file, or enter the secret again with "
        "`halo-integrator configure`."
    )


def test_a_plain_value_is_not_decrypted_and_the_error_says_why(tmp_path: Path) -> None:
    box = SecretBox.for_folder(tmp_path, create=True)
    with pytest.raises(SecretKeyError) as caught:
        box.decrypt("hunter2")
    assert caught.value.message == "the value is not encrypted (it does not start with enc:v1:)"


def test_a_value_with_characters_no_token_has_is_damaged_not_a_crash(tmp_path: Path) -> None:
    box = SecretBox.for_folder(tmp_path, create=True)
    with pytest.raises(SecretKeyError, match="cannot decrypt"):
        box.decrypt(ENCRYPTED_PREFIX + "gAAAA€")


def test_secrets_round_trip_beyond_ascii(tmp_path: Path) -> None:
    box = SecretBox.for_folder(tmp_path, create=True)
    assert box.decrypt(box.encrypt(Secret("pässwörd-€"))).reveal() == "pässwörd-€"


def test_a_sealed_key_read_on_posix_says_where_it_can_be_read(tmp_path: Path) -> None:
    SecretBox.for_folder(tmp_path, create=True, protection=RecordingProtection())
    with pytest.raises(SecretKeyError) as caught:
        secrets._unseal((tmp_path / KEY_FILE_NAME).read_bytes().strip(), tmp_path, None)
    assert caught.value.message == (
        f"the key file {tmp_path} is sealed with Windows DPAPI and can only be read on the "
        "Windows machine and account that saved it"
    )
    assert caught.value.hint == (
        "Run the integrator there, or delete the key file and enter the secrets again with "
        "`halo-integrator configure`."
    )


@pytest.mark.parametrize("body", [b"not base64 !", b"b3RoZXI="])
def test_a_sealed_key_that_cannot_be_unsealed_says_whose_it_may_be(
    tmp_path: Path, body: bytes
) -> None:
    key_path = tmp_path / KEY_FILE_NAME
    with pytest.raises(SecretKeyError) as caught:
        secrets._unseal(PROTECTED_KEY_HEADER + body, key_path, RecordingProtection())
    assert caught.value.message == (
        f"cannot unseal the key file {key_path}: it was sealed for another Windows account "
        "or machine, or is damaged"
    )
    assert caught.value.hint == (
        "Run the integrator as the account that saved the settings, or delete the key file "
        "and enter the secrets again with `halo-integrator configure`."
    )

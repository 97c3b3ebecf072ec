from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest

from core.errors import SecretKeyError
from core.settings.secrets import ENCRYPTED_PREFIX, KEY_FILE_NAME, Secret, SecretBox, is_encrypted

posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")


def test_a_secret_never_shows_its_value_in_repr_or_str() -> None:
    secret = Secret("hunter2")
    assert repr(secret) == "Secret('********')"
    assert str(secret) == "********"
    assert "hunter2" not in f"{secret} {secret!r} {[secret]} { ({'k': secret}) }"
    assert secret.reveal() == "hunter2"


def test_secrets_compare_and_hash_by_value_and_empty_is_false() -> None:
    assert Secret("a") == Secret("a")
    assert Secret("a") != Secret("b")
    assert Secret("a") != "a"
    assert len({Secret("a"), Secret("a")}) == 1
    assert not Secret("")
    assert Secret("x")


def test_a_secret_refuses_anything_but_text() -> None:
    with pytest.raises(TypeError):
        Secret(b"bytes")  # type: ignore[arg-type]


def test_a_box_round_trips_a_secret_with_a_prefixed_token(tmp_path: Path) -> None:
    box = SecretBox.for_folder(tmp_path, create=True)
    encrypted = box.encrypt(Secret("pässword"))
    assert encrypted.startswith(ENCRYPTED_PREFIX)
    assert "pässword" not in encrypted
    assert is_encrypted(encrypted)
    assert box.decrypt(encrypted) == Secret("pässword")
    assert box.decrypt(box.encrypt("plain str")).reveal() == "plain str"


def test_is_encrypted_only_recognises_prefixed_strings() -> None:
    assert not is_encrypted("hunter2")
    assert not is_encrypted(None)
    assert not is_encrypted(42)


@posix_only
def test_the_key_file_is_created_owner_only_even_with_a_loose_umask(tmp_path: Path) -> None:
    previous_umask = os.umask(0)
    try:
        SecretBox.for_folder(tmp_path, create=True)
    finally:
        os.umask(previous_umask)
    key_path = tmp_path / KEY_FILE_NAME
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert [path.name for path in tmp_path.iterdir()] == [KEY_FILE_NAME]


def test_creating_again_keeps_the_existing_key(tmp_path: Path) -> None:
    first = SecretBox.for_folder(tmp_path, create=True)
    key_bytes = (tmp_path / KEY_FILE_NAME).read_bytes()
    second = SecretBox.for_folder(tmp_path, create=True)
    assert (tmp_path / KEY_FILE_NAME).read_bytes() == key_bytes
    assert second.decrypt(first.encrypt("x")).reveal() == "x"


def test_a_missing_key_raises_secret_key_error_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(SecretKeyError) as caught:
        SecretBox.for_folder(tmp_path)
    assert str(tmp_path / KEY_FILE_NAME) in str(caught.value)
    assert "configure" in caught.value.hint
    assert not (tmp_path / KEY_FILE_NAME).exists()


def test_another_folders_key_cannot_decrypt_and_the_error_hides_the_value(tmp_path: Path) -> None:
    five_minutes = SecretBox.for_folder(tmp_path / "5 Mins", create=True)
    daily = SecretBox.for_folder(tmp_path / "Daily", create=True)
    encrypted = five_minutes.encrypt("hunter2")
    with pytest.raises(SecretKeyError) as caught:
        daily.decrypt(encrypted)
    message = str(caught.value)
    assert str(tmp_path / "Daily" / KEY_FILE_NAME) in message
    assert "hunter2" not in message
    assert encrypted not in message


def test_a_damaged_value_or_plaintext_cannot_be_decrypted(tmp_path: Path) -> None:
    box = SecretBox.for_folder(tmp_path, create=True)
    with pytest.raises(SecretKeyError):
        box.decrypt(ENCRYPTED_PREFIX + "not-a-token")
    with pytest.raises(SecretKeyError):
        box.decrypt("hunter2")


def test_a_garbled_key_file_raises_secret_key_error(tmp_path: Path) -> None:
    (tmp_path / KEY_FILE_NAME).write_text("garbage")
    with pytest.raises(SecretKeyError, match="does not hold a valid key"):
        SecretBox.for_folder(tmp_path)


@posix_only
def test_a_key_readable_by_others_logs_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    SecretBox.for_folder(tmp_path, create=True)
    (tmp_path / KEY_FILE_NAME).chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="core.settings.secrets"):
        SecretBox.for_folder(tmp_path)
    assert "chmod 600" in caplog.text

"""Secrets in settings: a string type that never prints itself, and the key that encrypts it.

Each settings folder has its own key file, ``appsettings.key``, beside ``appsettings.json``.
The key never goes into the settings file, so copying a settings file to another folder (or
attaching it to a support ticket) reveals nothing. On POSIX the key file is created 0600 and a
warning is logged when group or others can read it. Windows has no such permission bits: there
the key file inherits the folder's ACL, which for the default per-user config folder already
limits it to the owner; admins who choose another folder must restrict it themselves.
"""

from __future__ import annotations

import hmac
import logging
import os
import stat
import tempfile
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from core.errors import SecretKeyError
from core.private_files import private_folder

KEY_FILE_NAME = "appsettings.key"
ENCRYPTED_PREFIX = "enc:v1:"
KEY_FILE_MODE = 0o600
# Logs mask secrets by their value; a shorter one would be masked inside ordinary words
# ("pro********y" for "x"), which mangles the message and gives the secret away, so
# configure refuses it and the logs never try. Halo's client secrets are far longer.
MIN_SECRET_LENGTH = 8
_MASK = "********"

logger = logging.getLogger(__name__)


class Secret:
    """A secret string whose repr/str never show it, so logs and tracebacks stay clean.

    The value is only reachable through ``reveal()``, which makes every place that needs the
    plaintext easy to find with a search.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError(f"Secret wraps a str, not {type(value).__name__}")
        self._value = value

    def reveal(self) -> str:
        """Return the plaintext; call it only where the value leaves for its real use."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{_MASK}')"

    def __str__(self) -> str:
        return _MASK

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash((Secret, self._value))

    def __bool__(self) -> bool:
        return bool(self._value)


def is_encrypted(value: object) -> bool:
    """Return True for a string written by ``SecretBox.encrypt`` (it carries our prefix)."""
    return isinstance(value, str) and value.startswith(ENCRYPTED_PREFIX)


class SecretBox:
    """Fernet (cryptography) encryption with the key file beside the settings.

    One box per settings folder: two folders side by side ("5 Mins" and "Daily") have two
    keys, and a value encrypted for one cannot be decrypted with the other.
    """

    def __init__(self, key: bytes, key_path: Path) -> None:
        try:
            self._fernet = Fernet(key)
        except ValueError as exc:
            raise SecretKeyError(
                f"the key file {key_path} does not hold a valid key",
                hint="Restore it from a backup, or delete it and enter the secrets again "
                "with `halo-integrator configure`.",
            ) from exc
        self.key_path = key_path

    def __repr__(self) -> str:
        return f"SecretBox(key_path={str(self.key_path)!r})"

    @classmethod
    def for_folder(cls, folder: Path, *, create: bool = False) -> SecretBox:
        """Return the box for a settings folder, reading its key file.

        With ``create=True`` a missing key is generated (0600, never overwriting one another
        process made at the same moment). Raises SecretKeyError when the key is missing
        (and not created) or unreadable, naming the key file and what to do.
        """
        key_path = Path(folder) / KEY_FILE_NAME
        if create and not key_path.exists():
            _create_key_file(key_path)
        return cls(_read_key_file(key_path), key_path)

    def encrypt(self, secret: Secret | str) -> str:
        """Return ``enc:v1:<fernet token>`` for a secret; Fernet adds a fresh IV each time."""
        plaintext = secret.reveal() if isinstance(secret, Secret) else secret
        token = self._fernet.encrypt(plaintext.encode("utf-8"))
        return ENCRYPTED_PREFIX + token.decode("ascii")

    def decrypt(self, value: str) -> Secret:
        """Return the Secret inside an ``enc:v1:`` value.

        Raises SecretKeyError (naming the key file, never the value) when the value is not
        ours, is damaged, or was encrypted with another folder's key.
        """
        if not is_encrypted(value):
            raise SecretKeyError(
                f"the value is not encrypted (it does not start with {ENCRYPTED_PREFIX})"
            )
        token = value[len(ENCRYPTED_PREFIX) :].encode("ascii", errors="replace")
        try:
            plaintext = self._fernet.decrypt(token)
        except InvalidToken as exc:
            raise SecretKeyError(
                f"cannot decrypt a secret with the key file {self.key_path}",
                hint="The value was encrypted with another key or is damaged: put the "
                "matching appsettings.key beside the settings file, or enter the secret "
                "again with `halo-integrator configure`.",
            ) from exc
        return Secret(plaintext.decode("utf-8"))


def _read_key_file(key_path: Path) -> bytes:
    """Read the key, warning about loose permissions; SecretKeyError when it cannot be read."""
    try:
        key = key_path.read_bytes().strip()
    except FileNotFoundError as exc:
        raise SecretKeyError(
            f"the key file {key_path} is missing",
            hint="Copy the appsettings.key that belongs to this settings file beside it, or "
            "enter the secrets again with `halo-integrator configure` (which creates a key).",
        ) from exc
    except OSError as exc:
        raise SecretKeyError(
            f"cannot read the key file {key_path}: {exc.strerror}",
            hint="Run the integrator as the account that owns the settings folder.",
        ) from exc
    _warn_if_readable_by_others(key_path)
    return key


def _warn_if_readable_by_others(key_path: Path) -> None:
    """Log a warning when group/others have access; Windows has no mode bits to check."""
    if os.name != "posix":
        return
    mode = stat.S_IMODE(key_path.stat().st_mode)
    if mode & 0o077:
        logger.warning(
            "The key file %s can be read by other accounts (mode %o); run: chmod 600 %s",
            key_path,
            mode,
            key_path,
        )


def _create_key_file(key_path: Path) -> None:
    """Write a new key to a private temporary file, then link it into place.

    Linking fails when the key already exists, so two processes saving at once both end up
    with the same key, and no reader ever sees a half-written key file.
    """
    private_folder(key_path.parent)
    descriptor, temporary_name = tempfile.mkstemp(prefix=".appsettings.key.", dir=key_path.parent)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(descriptor, KEY_FILE_MODE)  # mkstemp already uses 0600; keep it explicit
        with os.fdopen(descriptor, "wb") as key_file:
            key_file.write(Fernet.generate_key() + b"\n")
            key_file.flush()
            os.fsync(key_file.fileno())
        try:
            os.link(temporary_name, key_path)
        except FileExistsError:
            logger.debug("Another process created %s first; using its key", key_path)
    finally:
        os.unlink(temporary_name)

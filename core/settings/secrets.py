"""Secrets in settings: a string type that never prints itself, and the key that encrypts it.

Each settings folder has its own key file, ``appsettings.key``, beside ``appsettings.json``.
The key never goes into the settings file, so copying a settings file to another folder (or
attaching it to a support ticket) reveals nothing. On POSIX the key file is created 0600 and a
warning is logged when group or others can read it. Windows ignores those bits, so there the
key is sealed with DPAPI for the account that saves the settings and the file gets an
owner-only ACL (``core.settings.windows_protection``); a plain key file from an older version
is still read, and sealed the next time settings are saved.

Reading settings does not decrypt: a secret read from the file stays encrypted in memory (its
token and its folder's box) until ``reveal()``, after the token's HMAC proved at read time
that this folder's key made it (so a wrong key is still reported when the file is read). The tray
reads its settings all day and never needs a plaintext, so it never loads cryptography
(7 MiB; see bench/tray_idle.py); a plaintext that is never revealed is never in memory.
"""

from __future__ import annotations

import binascii
import hmac
import logging
import os
import stat
import tempfile
from base64 import b64decode, b64encode, urlsafe_b64decode
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import ConfigError, SecretKeyError
from core.private_files import private_folder
from core.settings.windows_protection import (
    PROTECTED_KEY_HEADER,
    FileProtection,
    platform_protection,
)

if TYPE_CHECKING:
    from cryptography.fernet import Fernet

KEY_FILE_NAME = "appsettings.key"
ENCRYPTED_PREFIX = "enc:v1:"
KEY_FILE_MODE = 0o600
# Logs mask secrets by their value; a shorter one would be masked inside ordinary words
# ("pro********y" for "x"), which mangles the message and gives the secret away, so
# configure refuses it and the logs never try. Halo's client secrets are far longer.
MIN_SECRET_LENGTH = 8
_MASK = "********"
# Fernet tokens: version (1 byte), time (8), IV (16), ciphertext, HMAC-SHA256 (32).
_FERNET_VERSION = 0x80
_HMAC_BYTES = 32
_FERNET_KEY_BYTES = 32
_reveal_listeners: list[Callable[[str], None]] = []

logger = logging.getLogger(__name__)


class Secret:
    """A secret string whose repr/str never show it, so logs and tracebacks stay clean.

    The value is only reachable through ``reveal()``, which makes every place that needs the
    plaintext easy to find with a search. A secret read from a settings file stays encrypted
    until then (see the module docstring).
    """

    __slots__ = ("_token", "_value")

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError(f"Secret wraps a str, not {type(value).__name__}")
        self._value: str | None = value
        self._token: tuple[bytes, SecretBox] | None = None

    @classmethod
    def from_token(cls, token: bytes, box: SecretBox) -> Secret:
        """A secret that ``box`` decrypts from ``token`` when first revealed."""
        secret = cls.__new__(cls)
        secret._value, secret._token = None, (token, box)
        return secret

    def reveal(self) -> str:
        """Return the plaintext; call it only where the value leaves for its real use."""
        if self._value is None:
            assert self._token is not None
            token, box = self._token
            self._value = box.open(token)
            for listener in list(_reveal_listeners):
                listener(self._value)
        return self._value

    @property
    def is_decrypted(self) -> bool:
        """False until the first ``reveal()`` of a secret read from a settings file."""
        return self._value is not None

    def token_for(self, box: SecretBox) -> bytes | None:
        """The token this secret was read as, when ``box`` holds the same key; else None."""
        if self._token is not None and self._token[1].same_key(box):
            return self._token[0]
        return None

    def __repr__(self) -> str:
        return f"Secret('{_MASK}')"

    def __str__(self) -> str:
        return _MASK

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self.reveal().encode(), other.reveal().encode())

    def __hash__(self) -> int:
        return hash((Secret, self.reveal()))

    def __bool__(self) -> bool:
        # One read from a file is never empty: the writer stores no empty secret.
        return self._token is not None or bool(self._value)


def when_revealed(listener: Callable[[str], None]) -> None:
    """Call ``listener`` with the plaintext of each secret read from a file, the moment it is
    first revealed: the logs mask it from then on (before, no plaintext is here to leak)."""
    _reveal_listeners.append(listener)


def as_secret(value: object) -> Secret | None:
    """A secret option's value as a Secret (None when unset): options parsed from the file
    are Secrets already, defaults and values built in code may be plain text."""
    if isinstance(value, Secret):
        return value
    return Secret(str(value)) if value else None


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
            raw = urlsafe_b64decode(key)
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) != _FERNET_KEY_BYTES:  # what Fernet(key) would refuse
            raise SecretKeyError(
                f"the key file {key_path} does not hold a valid key",
                hint="Restore it from a backup, or delete it and enter the secrets again "
                "with `halo-integrator configure`.",
            )
        self._key = key
        self._signing_key = raw[:16]
        self.key_path = key_path

    @cached_property
    def _fernet(self) -> Fernet:
        from cryptography.fernet import Fernet  # only when a secret is encrypted or revealed

        return Fernet(self._key)

    def same_key(self, other: SecretBox) -> bool:
        return hmac.compare_digest(self._key, other._key)

    def __repr__(self) -> str:
        return f"SecretBox(key_path={str(self.key_path)!r})"

    @classmethod
    def for_folder(
        cls, folder: Path, *, create: bool = False, protection: FileProtection | None = None
    ) -> SecretBox:
        """Return the box for a settings folder, reading its key file.

        ``create=True`` is for a caller about to save: a missing key is generated (private,
        never overwriting one another process made at the same moment), and on Windows a
        plain key from an older version is sealed. ``protection`` defaults to the platform's
        (DPAPI and ACLs on Windows, none on POSIX). Raises SecretKeyError when the key is
        missing (and not created) or unreadable, naming the key file and what to do.
        """
        protection = protection or platform_protection()
        key_path = Path(folder) / KEY_FILE_NAME
        if create and not key_path.exists():
            _create_key_file(key_path, protection)
        stored = _read_key_file(key_path)
        box = cls(_unseal(stored, key_path, protection), key_path)
        if create and protection and not stored.startswith(PROTECTED_KEY_HEADER):
            _seal_plain_key(key_path, stored, protection)
        return box

    def encrypt(self, secret: Secret | str) -> str:
        """Return ``enc:v1:<fernet token>`` for a secret; Fernet adds a fresh IV each time.

        A secret read with this key keeps the token it was read as: saving unchanged
        settings decrypts nothing and leaves its secrets' lines as they were.
        """
        if isinstance(secret, Secret) and (token := secret.token_for(self)) is not None:
            return ENCRYPTED_PREFIX + token.decode("ascii")
        plaintext = secret.reveal() if isinstance(secret, Secret) else secret
        token = self._fernet.encrypt(plaintext.encode("utf-8"))
        return ENCRYPTED_PREFIX + token.decode("ascii")

    def decrypt(self, value: str) -> Secret:
        """Return the Secret inside an ``enc:v1:`` value, decrypted when first revealed.

        Raises SecretKeyError (naming the key file, never the value) when the value is not
        ours, is damaged, or was encrypted with another folder's key: the token's HMAC is
        checked now, with the standard library, and the plaintext decrypted at ``reveal()``.
        """
        if not is_encrypted(value):
            raise SecretKeyError(
                f"the value is not encrypted (it does not start with {ENCRYPTED_PREFIX})"
            )
        token = value[len(ENCRYPTED_PREFIX) :].encode("ascii", errors="replace")
        if not self._signed_here(token):
            raise self._cannot_decrypt()
        return Secret.from_token(token, self)

    def open(self, token: bytes) -> str:
        """The plaintext of a token ``decrypt`` accepted (for ``Secret.reveal``)."""
        from cryptography.fernet import InvalidToken

        try:
            return self._fernet.decrypt(token).decode("utf-8")
        except (InvalidToken, UnicodeDecodeError) as exc:
            raise self._cannot_decrypt() from exc

    def _signed_here(self, token: bytes) -> bool:
        """True when ``token`` is a Fernet token whose HMAC this folder's key made."""
        try:
            data = urlsafe_b64decode(token)
        except (binascii.Error, ValueError):
            return False
        if len(data) < 1 + 8 + 16 + 16 + _HMAC_BYTES or data[0] != _FERNET_VERSION:
            return False
        signed, signature = data[:-_HMAC_BYTES], data[-_HMAC_BYTES:]
        expected = hmac.digest(self._signing_key, signed, "sha256")
        return hmac.compare_digest(signature, expected)

    def _cannot_decrypt(self) -> SecretKeyError:
        return SecretKeyError(
            f"cannot decrypt a secret with the key file {self.key_path}",
            hint="The value was encrypted with another key or is damaged: put the "
            "matching appsettings.key beside the settings file, or enter the secret "
            "again with `halo-integrator configure`.",
        )


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


def _unseal(stored: bytes, key_path: Path, protection: FileProtection | None) -> bytes:
    """Return the Fernet key in a key file's bytes: as is, or unsealed with DPAPI."""
    if not stored.startswith(PROTECTED_KEY_HEADER):
        return stored
    if protection is None:
        raise SecretKeyError(
            f"the key file {key_path} is sealed with Windows DPAPI and can only be read on "
            "the Windows machine and account that saved it",
            hint="Run the integrator there, or delete the key file and enter the secrets "
            "again with `halo-integrator configure`.",
        )
    try:
        return protection.unprotect(b64decode(stored[len(PROTECTED_KEY_HEADER) :], validate=True))
    except (binascii.Error, OSError) as exc:
        raise SecretKeyError(
            f"cannot unseal the key file {key_path}: it was sealed for another Windows "
            "account or machine, or is damaged",
            hint="Run the integrator as the account that saved the settings, or delete the "
            "key file and enter the secrets again with `halo-integrator configure`.",
        ) from exc


def _sealed(key: bytes, protection: FileProtection | None) -> bytes:
    """Return what goes into the key file for ``key``: sealed on Windows, plain on POSIX."""
    if protection is None:
        return key + b"\n"
    try:
        return PROTECTED_KEY_HEADER + b64encode(protection.protect(key)) + b"\n"
    except OSError as exc:
        raise SecretKeyError(
            f"cannot seal a key with Windows DPAPI: {exc}",
            hint="Run the integrator as an ordinary Windows account with a loaded profile.",
        ) from exc


def _create_key_file(key_path: Path, protection: FileProtection | None) -> None:
    """Write a new key to a private temporary file, then link it into place.

    Linking fails when the key already exists, so two processes saving at once both end up
    with the same key, and no reader ever sees a half-written key file.
    """
    private_folder(key_path.parent)
    temporary = _private_temporary(key_path, _sealed(_new_key(), protection), protection)
    try:
        os.link(temporary, key_path)
    except FileExistsError:
        logger.debug("Another process created %s first; using its key", key_path)
    finally:
        temporary.unlink()


def _seal_plain_key(key_path: Path, key: bytes, protection: FileProtection) -> None:
    """Replace a plain key file (an older version's) by the same key, sealed and owner-only.

    Only a caller about to save does this, so a scheduled run as another account never seals
    the key away from the admin. A failure leaves the plain key working, with a warning.
    """
    try:
        temporary = _private_temporary(key_path, _sealed(key, protection), protection)
    except (OSError, ConfigError) as exc:
        logger.warning("Could not seal the key file %s with DPAPI: %s", key_path, exc)
        return
    try:
        os.replace(temporary, key_path)
    except OSError as exc:  # e.g. another process has the key file open
        temporary.unlink(missing_ok=True)
        logger.warning("Could not seal the key file %s with DPAPI: %s", key_path, exc)


def _private_temporary(key_path: Path, data: bytes, protection: FileProtection | None) -> Path:
    """Write ``data`` to a new owner-only file beside the key (its ACL set while empty)."""
    descriptor, name = tempfile.mkstemp(prefix=f".{key_path.name}.", dir=key_path.parent)
    temporary = Path(name)
    try:
        with os.fdopen(descriptor, "wb") as key_file:
            if hasattr(os, "fchmod"):
                os.fchmod(descriptor, KEY_FILE_MODE)  # mkstemp uses 0600; keep it explicit
            if protection is not None:
                protection.restrict_to_owner(temporary)
            key_file.write(data)
            key_file.flush()
            os.fsync(key_file.fileno())
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return temporary


def _new_key() -> bytes:
    """A Fernet key: 32 random bytes, url-safe base64 (what ``Fernet.generate_key`` makes)."""
    from cryptography.fernet import Fernet

    return Fernet.generate_key()

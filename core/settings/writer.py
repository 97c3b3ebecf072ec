"""Writing ``appsettings.json``: secrets encrypted, the file replaced atomically.

The on-disk shape is the one ``core.settings.reader`` reads; saving keeps the previous file as
``.bak`` and never leaves a half-written file behind, because a broken settings file stops
every scheduled run until an admin notices. A secret an admin pasted into the previous file
is encrypted in the ``.bak`` too: the backup is kept for good, so it must never hold one in
clear.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from core.private_files import private_folder
from core.settings.model import Settings
from core.settings.reader import every_secret_option_name, secret_option_names
from core.settings.secrets import ENCRYPTED_PREFIX, Secret, SecretBox, is_encrypted
from core.settings.windows_protection import FileProtection, platform_protection

BACKUP_SUFFIX = ".bak"
SETTINGS_FILE_MODE = 0o600
CLIENT_SECRET_KEY = "ClientSecret"  # noqa: S105 - a key name

logger = logging.getLogger(__name__)


def settings_to_json(settings: Settings, box: SecretBox) -> dict[str, Any]:
    """Return the on-disk shape of ``settings``, every Secret encrypted with ``box``."""
    halo = settings.halo
    secret = halo.client_secret
    return {
        "Halo": {
            "Url": halo.url,
            "AuthUrl": halo.auth_url,
            "Tenant": halo.tenant,
            "ClientId": halo.client_id,
            "ClientSecret": box.encrypt(secret) if secret else None,
            "Scope": halo.scope,
            "AllowInsecureHttp": halo.allow_insecure_http,
            "VerifyTls": halo.verify_tls,
            "CaBundle": halo.ca_bundle,
            "RequestsPerWindow": halo.requests_per_window,
            "WindowSeconds": _plain_number(halo.window_seconds),
            "BatchSize": halo.batch_size,
            "TimeoutSeconds": _plain_number(halo.timeout_seconds),
            "DeadlineSeconds": _plain_number(halo.deadline_seconds),
        },
        "LogFolder": _relative_to_folder(settings.log_folder, settings.folder),
        "Modules": [
            {
                "Name": module.name,
                "Type": module.type,
                "Id": module.id,
                "Enabled": module.enabled,
                "Interval": module.interval.text,
                "HaloRecordId": module.halo_record_id,
                "Options": _encrypt_secrets(module.options, box),
            }
            for module in settings.modules
        ],
    }


def _plain_number(value: float) -> float | int:
    """Write 300 rather than 300.0, as an admin would type it."""
    return int(value) if float(value).is_integer() else value


def _relative_to_folder(path: Path, folder: Path) -> str:
    """Store folders inside the settings folder relatively, so the folder can be moved."""
    try:
        return Path(path).relative_to(folder).as_posix() or "."
    except ValueError:
        return str(path)


def _encrypt_secrets(value: Any, box: SecretBox) -> Any:
    """Return ``value`` with every Secret (at any depth) replaced by its encrypted form."""
    if isinstance(value, Secret):
        return box.encrypt(value)
    if isinstance(value, dict):
        return {key: _encrypt_secrets(item, box) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_encrypt_secrets(item, box) for item in value]
    return value


def save_settings(settings: Settings, *, protection: FileProtection | None = None) -> None:
    """Write the settings atomically and owner-only, keeping the previous file as ``.bak``.

    Creates the folder (0700) and the key file when missing. A crash at any moment leaves
    either the old or the new complete file in place, never a mix. ``protection`` defaults
    to the platform's: on Windows the files get an owner-only ACL and the key is sealed with
    DPAPI; on POSIX mode 0600 does the job.
    """
    protection = protection or platform_protection()
    folder = settings.folder
    private_folder(folder)
    box = SecretBox.for_folder(folder, create=True, protection=protection)
    text = json.dumps(settings_to_json(settings, box), indent=2, ensure_ascii=False) + "\n"
    if settings.path.exists():
        _keep_backup(settings.path, box, protection)
    _write_atomically(settings.path, text.encode("utf-8"), protection)
    settings.has_plaintext_secrets = False
    settings.assigned_ids = False


def _keep_backup(path: Path, box: SecretBox, protection: FileProtection | None) -> None:
    """Keep the file about to be replaced as ``.bak``, any secret pasted into it encrypted.

    When the file is too broken to tell whether a secret is still in clear, the older
    backup is left as it is (with a warning) rather than replaced by one that may hold it.
    """
    backup = path.with_name(path.name + BACKUP_SUFFIX)
    kept = _without_plaintext_secrets(path.read_bytes(), box)
    if kept is None:
        logger.warning(
            "%s is not a readable settings file and may hold a secret in clear, so it is not "
            "kept as %s",
            path,
            backup.name,
        )
        return
    _write_atomically(backup, kept, protection)


def _without_plaintext_secrets(previous: bytes, box: SecretBox) -> bytes | None:
    """Return ``previous`` with every pasted secret encrypted, or None when that cannot be
    made sure of. Unchanged bytes when none was pasted, so an admin's layout is kept."""
    try:
        text = previous.decode("utf-8-sig")
        document = json.loads(text)
    except UnicodeDecodeError:
        return None
    except json.JSONDecodeError:
        return _encrypt_in_broken_text(text, box)
    if not isinstance(document, dict):
        return _encrypt_in_broken_text(text, box)
    pasted = False
    for mapping, key in _secret_fields(document):
        if _is_pasted(mapping[key]):
            mapping[key] = box.encrypt(str(mapping[key]))
            pasted = True
    if not pasted:
        return previous
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _secret_fields(document: dict[str, Any]) -> Iterator[tuple[dict[str, Any], str]]:
    """Yield (object, key) for the client secret and each module's secret options."""
    halo = document.get("Halo")
    if isinstance(halo, dict) and CLIENT_SECRET_KEY in halo:
        yield halo, CLIENT_SECRET_KEY
    modules = document.get("Modules")
    for module in modules if isinstance(modules, list) else []:
        options = module.get("Options") if isinstance(module, dict) else None
        type_name = (module.get("Type") or module.get("Name")) if isinstance(module, dict) else None
        if isinstance(options, dict) and isinstance(type_name, str):
            for key in secret_option_names(type_name) & options.keys():
                yield options, key


def _is_pasted(value: Any) -> bool:
    """A secret field holding anything but nothing, "" or our encrypted form (numbers too)."""
    if isinstance(value, str):
        return bool(value) and not is_encrypted(value)
    return isinstance(value, int | float) and not isinstance(value, bool)


# In text that does not parse: a JSON string or number (group 2) after a secret key (group 1).
_KEY_PATTERN = r'"(?:{names})"\s*:'
_VALUE_PATTERN = r'({key}\s*)("(?:[^"\\\n]|\\.)*"|-?\d[\w.+-]*)'
_IN_CLEAR_PATTERN = r'{key}(?!\s*(?:null\b|""|"{prefix}))'


def _encrypt_in_broken_text(text: str, box: SecretBox) -> bytes | None:
    """Encrypt the values after secret keys in text that is not a settings object; None
    when a secret key is still followed by anything but null, "" or an encrypted value."""
    names = {CLIENT_SECRET_KEY, *every_secret_option_name()}
    key = _KEY_PATTERN.format(names="|".join(re.escape(name) for name in sorted(names)))

    def encrypt(match: re.Match[str]) -> str:
        try:
            value = json.loads(match.group(2))
        except ValueError:
            return match.group(0)  # left for the check below to refuse
        if not _is_pasted(value):
            return match.group(0)
        return match.group(1) + json.dumps(box.encrypt(str(value)))

    scrubbed = re.sub(_VALUE_PATTERN.format(key=key), encrypt, text)
    in_clear = _IN_CLEAR_PATTERN.format(key=key, prefix=re.escape(ENCRYPTED_PREFIX))
    return None if re.search(in_clear, scrubbed) else scrubbed.encode("utf-8")


def _write_atomically(target: Path, data: bytes, protection: FileProtection | None) -> None:
    """Write a private temp file in the target's folder, fsync it, then rename it over.

    The temp file is made owner-only (mode 0600, or its ACL on Windows) while still empty,
    and a rename keeps that, so the target is never readable by others for a moment.
    """
    descriptor, temporary_name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(descriptor, "wb") as temporary_file:
            if hasattr(os, "fchmod"):
                os.fchmod(descriptor, SETTINGS_FILE_MODE)
            if protection is not None:
                protection.restrict_to_owner(Path(temporary_name))
            temporary_file.write(data)
            temporary_file.flush()
            os.fsync(temporary_file.fileno())
        os.replace(temporary_name, target)
    except BaseException:
        Path(temporary_name).unlink(missing_ok=True)
        raise
    _fsync_folder(target.parent)


def _fsync_folder(folder: Path) -> None:
    """Make the rename durable on POSIX; Windows cannot open a folder, and needs no such step."""
    if os.name != "posix":
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)

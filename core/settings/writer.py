"""Writing ``appsettings.json``: secrets encrypted, the file replaced atomically.

The on-disk shape is the one ``core.settings.reader`` reads; saving keeps the previous file as
``.bak`` and never leaves a half-written file behind, because a broken settings file stops
every scheduled run until an admin notices.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from core.private_files import private_folder
from core.settings.model import Settings
from core.settings.secrets import Secret, SecretBox

BACKUP_SUFFIX = ".bak"
SETTINGS_FILE_MODE = 0o600


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
        },
        "LogFolder": _relative_to_folder(settings.log_folder, settings.folder),
        "Modules": [
            {
                "Name": module.name,
                "Type": module.type,
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


def save_settings(settings: Settings) -> None:
    """Write the settings atomically (0600), keeping the previous file as ``.bak``.

    Creates the folder (0700) and the key file when missing. A crash at any moment leaves
    either the old or the new complete file in place, never a mix.
    """
    folder = settings.folder
    private_folder(folder)
    box = SecretBox.for_folder(folder, create=True)
    text = json.dumps(settings_to_json(settings, box), indent=2, ensure_ascii=False) + "\n"
    if settings.path.exists():
        backup = settings.path.with_name(settings.path.name + BACKUP_SUFFIX)
        _write_atomically(backup, settings.path.read_bytes())
    _write_atomically(settings.path, text.encode("utf-8"))
    settings.has_plaintext_secrets = False


def _write_atomically(target: Path, data: bytes) -> None:
    """Write a private temp file in the target's folder, fsync it, then rename it over."""
    descriptor, temporary_name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(descriptor, SETTINGS_FILE_MODE)
        with os.fdopen(descriptor, "wb") as temporary_file:
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

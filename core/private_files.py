"""Folders and files only their owner may read, whatever the umask.

A settings folder holds the state DB and run logs (names, e-mail addresses of every synced
user) besides the key and the settings; the state folder holds the pacing history. All of it
is created owner-only, whichever process (tray, AUTO, CLI) happens to create it first: a
service's umask of 022 or 000 must not make it world-readable. SQLite gives its ``-wal``,
``-shm`` and ``-journal`` side files the mode of their database, and a log handler keeps the
mode of the file it appends to, so creating those files first is enough. Existing folders
and files are left as the admin set them; a settings folder that other accounts can open is
reported once per process.
"""

from __future__ import annotations

import logging
import os
import shlex
import stat
import threading
from pathlib import Path

log = logging.getLogger("halo_integrator.files")

PRIVATE_FOLDER_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
OTHERS_ACCESS_BITS = 0o077  # any access for the group or for other accounts

_reported_folders: set[Path] = set()
_reported_folders_lock = threading.Lock()


def private_folder(path: Path) -> Path:
    """Create ``path`` and its missing parents owner-only; existing ones stay as they are."""
    path = Path(path)
    missing = []
    for folder in [path, *path.parents]:
        if folder.is_dir():
            break
        missing.append(folder)
    for folder in reversed(missing):
        folder.mkdir(exist_ok=True, mode=PRIVATE_FOLDER_MODE)
        if os.name == "posix":
            folder.chmod(PRIVATE_FOLDER_MODE)  # mkdir's mode is filtered by the umask
    return path


def create_private_file(path: Path) -> bool:
    """Create ``path`` empty and owner-only unless it exists; True when this call created it.

    For files another library opens afterwards (SQLite, logging), which would create them
    with the umask's mode. ``O_EXCL`` never follows a planted symlink and never changes an
    existing file; raises OSError when the folder cannot be written.
    """
    try:
        descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, PRIVATE_FILE_MODE)
    except FileExistsError:
        return False
    try:
        if os.name == "posix":
            os.fchmod(descriptor, PRIVATE_FILE_MODE)  # a umask such as 0277 takes bits away
    finally:
        os.close(descriptor)
    return True


def write_private_text(path: Path, text: str) -> None:
    """Write a small file that is owner-only from the first byte (no chmod afterwards)."""
    descriptor = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, PRIVATE_FILE_MODE)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    if os.name == "posix":
        os.chmod(path, PRIVATE_FILE_MODE)  # an existing file keeps its mode on O_CREAT


def warn_if_open_to_others(folder: Path) -> None:
    """Log a warning, once per process and folder, when other accounts can open ``folder``.

    What the agent creates there is owner-only, but files from older versions or copied in
    by hand may not be, and the folder's listing names every module. Windows has no mode
    bits to check.
    """
    if os.name != "posix":
        return
    folder = Path(folder).absolute()
    with _reported_folders_lock:
        if folder in _reported_folders:
            return
        _reported_folders.add(folder)
    mode = stat.S_IMODE(folder.stat().st_mode)
    if mode & OTHERS_ACCESS_BITS:
        log.warning(
            "The settings folder %s can be opened by other accounts (mode %o), and its state "
            "and logs hold the synced names and e-mail addresses; run: chmod 700 %s",
            folder,
            mode,
            shlex.quote(str(folder)),
        )

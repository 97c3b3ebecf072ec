"""Folders and files only their owner may read.

A settings folder holds the state DB and run logs (names, e-mail addresses of every synced
user) besides the key and the settings: all of it is created owner-only, whichever process
(tray, AUTO, CLI) happens to create it first. Existing folders are left as the admin set them.
"""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE_FOLDER_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


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


def write_private_text(path: Path, text: str) -> None:
    """Write a small file that is owner-only from the first byte (no chmod afterwards)."""
    descriptor = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, PRIVATE_FILE_MODE)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    if os.name == "posix":
        os.chmod(path, PRIVATE_FILE_MODE)  # an existing file keeps its mode on O_CREAT

"""Has ``appsettings.json`` changed since the dialog loaded (or saved) it?

One ``stat`` per poll; the content hash decides when the stamp moved, so touching the file
(or a save that wrote the same bytes) is not a change.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from tray_agent.tray_problems import settings_stamp


def file_digest(path: Path) -> str | None:
    """SHA-256 of the file's bytes; None when it does not exist (or cannot be read)."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


class FileWatch:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.stamp = settings_stamp(path)
        self.digest = file_digest(path)

    def loaded(self) -> None:
        """Call just before reading the file, or just after writing it."""
        self.stamp, self.digest = settings_stamp(self.path), file_digest(self.path)

    def changed(self) -> bool:
        """True when the file's content differs from the last ``loaded()``."""
        stamp = settings_stamp(self.path)
        if stamp == self.stamp:
            return False
        if file_digest(self.path) == self.digest:
            self.stamp = stamp  # touched, not changed
            return False
        return True

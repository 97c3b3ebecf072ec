"""Which file a queued script's ``location`` may name: only one inside the scripts folder.

The location comes from Halo, that is from the cloud, and is turned into a program this jump
box runs, so it is treated as hostile: ``..`` anywhere, an absolute path outside the folder,
a symlink (of the file or of a folder on the way) leading out of it, a world-writable file
or folder (POSIX) and a script not on the allow-list are all refused before anything starts.
Windows-style separators count as separators everywhere, so ``..\\..\\x`` is caught on Linux
as well.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from core.errors import ScriptRefusedError

# "C:\\x", "C:/x", "\\\\server\\share": absolute on Windows even when read on Linux.
_WINDOWS_ABSOLUTE = re.compile(r"^(?:[A-Za-z]:[\\/]|[\\/]{2})")


@dataclass(frozen=True)
class AllowedScript:
    """A script that may run: its real path and its name relative to the scripts folder."""

    path: Path
    name: str  # "reset_password.ps1", "ad/add_to_group.ps1": what allowed_scripts lists

    @property
    def extension(self) -> str:
        return self.path.suffix.lower()


def resolve_script(folder: Path, location: str, allowed_names: Sequence[str] = ()) -> AllowedScript:
    """The script ``location`` names, inside ``folder``; ScriptRefusedError otherwise.

    A relative location is taken below the folder; an absolute one must point into it (an
    admin may paste the full path Halo shows). The real path, symlinks followed, is what is
    checked and what runs.
    """
    root = _real_folder(folder)
    text = location.strip()
    if not text or "\0" in text:
        raise ScriptRefusedError(f"the script location {location!r} names no file")
    parts = [part for part in re.split(r"[\\/]+", text) if part]
    if ".." in parts:
        raise ScriptRefusedError(f"the script location {location!r} contains '..'")
    candidate = _candidate(root, text, parts)
    try:
        real = candidate.resolve(strict=True)
    except (OSError, RuntimeError) as exc:
        raise ScriptRefusedError(f"the script {location!r} does not exist in {root}") from exc
    if not real.is_relative_to(root):
        raise ScriptRefusedError(
            f"the script {location!r} leads outside the scripts folder {root} (to {real})"
        )
    if not real.is_file():
        raise ScriptRefusedError(f"the script {location!r} is not a file")
    _refuse_writable_by_others(real, root)
    name = PurePosixPath(*real.relative_to(root).parts).as_posix()
    if allowed_names and not _listed(name, allowed_names):
        raise ScriptRefusedError(f"the script {name!r} is not in allowed_scripts")
    return AllowedScript(real, name)


def _real_folder(folder: Path) -> Path:
    try:
        root = folder.resolve(strict=True)
    except (OSError, RuntimeError) as exc:
        raise ScriptRefusedError(f"the scripts folder {folder} does not exist") from exc
    if not root.is_dir():
        raise ScriptRefusedError(f"the scripts folder {folder} is not a folder")
    return root


def _candidate(root: Path, text: str, parts: list[str]) -> Path:
    """The path the location names, before symlinks are followed."""
    if _WINDOWS_ABSOLUTE.match(text):
        return Path(text) if os.name == "nt" else Path("/", *parts)
    if text.startswith(("/", "\\")):
        return Path(text) if os.name != "nt" else Path(root.anchor, *parts)
    return root.joinpath(*parts)


def _refuse_writable_by_others(script: Path, root: Path) -> None:
    """On POSIX, a file or folder others may write would let any local user choose what
    runs next; Windows has ACLs instead, which the installer sets on the folder."""
    if os.name == "nt":
        return
    for path in (script, *[p for p in script.parents if p.is_relative_to(root)]):
        if path.stat().st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise ScriptRefusedError(
                f"{path} may be written by other users; only its owner may write the "
                "scripts folder and its scripts"
            )


def _listed(name: str, allowed_names: Sequence[str]) -> bool:
    """Allow-list entries are names below the folder, either separator, any case (as
    Windows compares names)."""
    wanted = name.lower()
    return any(entry.replace("\\", "/").strip("/").lower() == wanted for entry in allowed_names)

"""Reading what imaplib hands back: FETCH, LIST, SEARCH and COPYUID responses.

imaplib returns a command's untagged data as a list mixing ``bytes`` lines and
``(line, literal)`` tuples, and leaves the parsing to its caller. These pure functions do
that parsing (so they are tested without a server); nothing here imports imaplib.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

Untagged = Sequence[bytes | tuple[bytes, bytes] | None]

_FETCH_START = re.compile(rb"^\d+ \(")
_UID = re.compile(rb"\bUID (\d+)")
_SIZE = re.compile(rb"\bRFC822\.SIZE (\d+)")
_LIST_LINE = re.compile(
    rb'^\((?P<flags>[^)]*)\) (?P<delimiter>NIL|"(?:\\.|[^"\\])*") ?(?P<name>.*)$'
)
_COPYUID_CODE = re.compile(rb"\[COPYUID \d+ \S+ (\d+)\]", re.IGNORECASE)
_COPYUID_DATA = re.compile(rb"^\d+ \S+ (\d+)$")
_QUOTED_ESCAPE = re.compile(rb"\\(.)")


@dataclass
class FetchedItem:
    """One message's part of a FETCH answer: its UID, RFC822.SIZE and literal, if sent."""

    uid: int | None = None
    size: int | None = None
    literal: bytes | None = None


@dataclass(frozen=True)
class ListedFolder:
    """One LIST line: the raw (encoded) name, the hierarchy delimiter, the flags."""

    name: str
    delimiter: str | None
    flags: frozenset[str]

    @property
    def selectable(self) -> bool:
        return not {"\\NOSELECT", "\\NONEXISTENT"} & self.flags


def fetched_items(data: Untagged) -> list[FetchedItem]:
    """The messages in a FETCH answer, wherever the server put UID and size (before or after
    the literal): a tuple or a line starting ``n (`` opens a message, other lines close it."""
    items: list[FetchedItem] = []
    current: FetchedItem | None = None
    for part in data:
        if part is None:
            continue
        line, literal = part if isinstance(part, tuple) else (part, None)
        if _FETCH_START.match(line) or current is None:
            current = FetchedItem()
            items.append(current)
        if literal is not None:
            current.literal = literal
        uid, size = _UID.search(line), _SIZE.search(line)
        if uid:
            current.uid = int(uid.group(1))
        if size:
            current.size = int(size.group(1))
    return items


def listed_folders(data: Untagged) -> list[ListedFolder]:
    """The folders in a LIST answer; a name sent as a literal comes as a (line, name) tuple."""
    folders = []
    for part in data:
        if part is None:
            continue
        line, literal = part if isinstance(part, tuple) else (part, None)
        match = _LIST_LINE.match(line)
        if match is None:
            continue
        raw_delimiter = match.group("delimiter")
        delimiter = None if raw_delimiter == b"NIL" else _unquote(raw_delimiter).decode()
        name = literal if literal is not None else _unquote(match.group("name").strip())
        flags = frozenset(flag.upper() for flag in match.group("flags").decode().split())
        folders.append(ListedFolder(name.decode("utf-8", "replace"), delimiter, flags))
    return folders


def search_uids(data: Untagged) -> list[int]:
    """The UIDs of a ``UID SEARCH`` answer, ascending."""
    uids: set[int] = set()
    for part in data:
        if isinstance(part, bytes):
            uids.update(int(token) for token in part.split() if token.isdigit())
    return sorted(uids)


def copied_uid(texts: Sequence[bytes | None]) -> int | None:
    """The new UID of one copied or moved message, from a ``[COPYUID validity source
    destination]`` code (RFC 4315) in a tagged answer or from the code's data as imaplib
    files it among the untagged responses; None when the server sent none."""
    for text in texts:
        if text is None:
            continue
        found = _COPYUID_CODE.search(text) or _COPYUID_DATA.match(text.strip())
        if found:
            return int(found.group(1))
    return None


def quoted(text: str) -> str:
    """``text`` as an IMAP quoted string (imaplib sends arguments exactly as given)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _unquote(raw: bytes) -> bytes:
    if len(raw) >= 2 and raw.startswith(b'"') and raw.endswith(b'"'):
        return _QUOTED_ESCAPE.sub(rb"\1", raw[1:-1])
    return raw

"""The mailbox client: a logged-in IMAP session and work on its folders by UID.

With ``imap_connection`` (TLS and the login) the only code that imports ``imaplib``; its
exceptions and NO answers become ``imap_errors`` here, once, each naming the server, the
user and the folder. Choices made on purpose:

- **Messages are read by UID with BODY.PEEK[]**, so reading marks nothing \\Seen, and a
  message above ``max_message_bytes`` (its RFC822.SIZE, asked first) is never read whole.
- **Moves use the best the server offers**: UID MOVE (RFC 6851), else UID COPY + \\Deleted +
  UID EXPUNGE (UIDPLUS, RFC 4315), else COPY + \\Deleted + EXPUNGE, which also expunges any
  other message someone flagged \\Deleted in that folder (plain IMAP4rev1 cannot do better).
  Messages flagged \\Deleted count as gone: a move that stopped halfway left them so.
- **Folder names** are written with ``/`` between levels and translated to the server's
  hierarchy delimiter and to modified UTF-7 (``imap_utf7``).
- **UIDVALIDITY** comes back from :meth:`ImapMailbox.select`: when it changes, every UID
  known from before means nothing, and the caller must notice.
"""

from __future__ import annotations

import contextlib
import imaplib
import re
from collections.abc import Callable, Sequence
from typing import Any

from core.sources import imap_utf7
from core.sources.imap_connection import (
    SessionOpener,
    reason_of,
    settings_failure,
    shut,
    text_of,
)
from core.sources.imap_errors import (
    MailboxError,
    MailboxFolderNotFoundError,
    connection_lost,
    folder_not_found,
)
from core.sources.imap_oauth import ClientCredentialsTokens
from core.sources.imap_responses import (
    FetchedItem,
    Untagged,
    copied_uid,
    fetched_items,
    listed_folders,
    quoted,
    search_uids,
)
from core.sources.imap_types import (
    FolderState,
    MailboxSettings,
    MailMessage,
    ServerAddress,
)

# What is read of a message above the size cap: its header, up to this much.
MAX_HEADER_BYTES = 256 * 1024
# UIDs per FETCH of sizes, so a command line stays far below servers' line limits.
UIDS_PER_COMMAND = 500
_NAMESPACE_PREFIX = re.compile(rb'^\(\("((?:\\.|[^"\\])*)"')

Response = tuple[str, list[Any]]


class ImapMailbox:
    """A logged-in connection; ``with ImapMailbox(settings) as mailbox:`` logs in and out.

    ``tokens`` is the XOAUTH2 token cache to use (keep one per mailbox across connections,
    so a token is fetched once an hour, not once a run); one is made when not given.
    ``requests_sent`` counts IMAP commands, for a run's and the bench's report.
    """

    def __init__(
        self, settings: MailboxSettings, *, tokens: ClientCredentialsTokens | None = None
    ) -> None:
        self.settings = settings
        self.tokens = tokens
        self.requests_sent = 0
        self.capabilities: frozenset[str] = frozenset()
        self._imap: imaplib.IMAP4 | None = None
        self._delimiter: str | None = None
        self._delimiter_known = False

    def __repr__(self) -> str:
        return f"ImapMailbox({self.settings.server!r}, username={self.settings.username!r})"

    def __enter__(self) -> ImapMailbox:
        self.connect()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def address(self) -> ServerAddress:
        return self.settings.address

    # -- connecting --------------------------------------------------------------------------

    def connect(self) -> None:
        """Connect, STARTTLS when asked, log in, read the capabilities.

        Raises MailboxError for settings that cannot work (each problem on its own line),
        MailboxUnreachableError, MailboxTlsError, MailboxCredentialsError or OAuthTokenError.
        """
        problems = self.settings.problems()
        if problems:
            raise settings_failure(self.settings, problems)
        opener = SessionOpener(self.settings, self.tokens)
        self._imap = opener.open()
        self.tokens = opener.tokens
        self._delimiter_known = False
        self.capabilities = self._read_capabilities()

    def close(self) -> None:
        """Log out; harmless when not connected. Never CLOSE: that would expunge messages."""
        imap, self._imap = self._imap, None
        if imap is not None:
            with contextlib.suppress(imaplib.IMAP4.error, OSError):
                imap.logout()
            shut(imap)

    def _read_capabilities(self) -> frozenset[str]:
        # imaplib's own list is the one from before the login; servers add MOVE etc. after.
        data = self._ok("reading the capabilities", lambda imap: imap.capability())
        return frozenset(_data_text(data[-1:]).upper().split())

    # -- folders -----------------------------------------------------------------------------

    @property
    def delimiter(self) -> str | None:
        """The server's hierarchy delimiter (``/`` or ``.`` mostly); None for a flat server."""
        if not self._delimiter_known:
            data = self._ok("reading the hierarchy delimiter", lambda imap: imap.list('""', '""'))
            folders = listed_folders(data)
            self._delimiter = folders[0].delimiter if folders else None
            self._delimiter_known = True
        return self._delimiter

    def server_name(self, folder: str) -> str:
        """``folder`` (levels split by ``/``) as the server spells it: its delimiter, UTF-7."""
        if folder.upper() == "INBOX":
            return "INBOX"
        return imap_utf7.encode(folder.replace("/", self.delimiter or "/"))

    def list_folders(self) -> list[str]:
        """Every selectable folder, named as :meth:`server_name` takes them (``/``, Unicode)."""
        data = self._ok("listing the folders", lambda imap: imap.list('""', '"*"'))
        return [self._display(f.name) for f in listed_folders(data) if f.selectable]

    def folder_exists(self, folder: str) -> bool:
        name = self.server_name(folder)
        data = self._ok(
            f"looking for the folder {folder!r}", lambda imap: imap.list('""', quoted(name))
        )
        return any(f.name == name and f.selectable for f in listed_folders(data))

    def ensure_folder(self, folder: str) -> bool:
        """Create ``folder`` (and subscribe to it) when missing; True when it was created."""
        if self.folder_exists(folder):
            return False
        name = self.server_name(folder)
        typ, data = self._call(
            f"creating the folder {folder!r}", lambda imap: imap.create(quoted(name))
        )
        if typ != "OK":
            text = _data_text(data)
            if "ALREADYEXISTS" in text.upper():
                return False  # another client created it a moment ago
            raise MailboxError(
                f"{self.address} refused to create the folder {folder!r} for "
                f"{self.settings.username} ({text}).",
                hint=self._prefix_hint(folder),
                server_response=text,
            )
        # Mail clients (Outlook) hide folders nobody subscribed to.
        self._call(f"subscribing to {folder!r}", lambda imap: imap.subscribe(quoted(name)))
        return True

    def select(self, folder: str) -> FolderState:
        """Open ``folder`` read-write; its UIDVALIDITY tells whether known UIDs still hold.

        Raises MailboxFolderNotFoundError (naming some folders that exist) when it is missing.
        """
        name = self.server_name(folder)
        action = f"selecting the folder {folder!r}"
        typ, data = self._call(action, lambda imap: imap.select(quoted(name)))
        if typ != "OK":
            if not self.folder_exists(folder):
                raise folder_not_found(folder, str(self.address), self.list_folders())
            text = _data_text(data)
            raise MailboxError(f"{self.address} refused {action} ({text}).", server_response=text)
        uidvalidity = self._response_number("UIDVALIDITY")
        if uidvalidity is None:
            raise MailboxError(
                f"{self.address} selected {folder!r} without a UIDVALIDITY; messages cannot be "
                "tracked by UID there."
            )
        exists = int(data[-1]) if data and data[-1] else 0
        return FolderState(folder, uidvalidity, self._response_number("UIDNEXT"), exists)

    # -- messages ----------------------------------------------------------------------------

    def list_uids(self, above: int = 0) -> list[int]:
        """The UIDs in the selected folder above ``above``, ascending, without messages
        flagged \\Deleted (they are on their way out: a move that stopped halfway)."""
        criteria = ("UID", f"{above + 1}:*", "UNDELETED") if above else ("UNDELETED",)
        data = self._ok("listing the messages", lambda imap: imap.uid("SEARCH", *criteria))
        return [uid for uid in search_uids(data) if uid > above]

    def contains(self, uid: int) -> bool:
        """Whether message ``uid`` is still in the selected folder (and not flagged \\Deleted)."""
        data = self._ok(
            f"looking for message {uid}",
            lambda imap: imap.uid("SEARCH", "UID", str(uid), "UNDELETED"),
        )
        return uid in search_uids(data)

    def message_sizes(self, uids: Sequence[int]) -> dict[int, int]:
        """RFC822.SIZE of each of ``uids`` still in the selected folder."""
        sizes: dict[int, int] = {}
        for start in range(0, len(uids), UIDS_PER_COMMAND):
            uid_set = ",".join(str(uid) for uid in uids[start : start + UIDS_PER_COMMAND])
            for item in self._fetch_items(uid_set, "(RFC822.SIZE)"):
                if item.uid is not None and item.size is not None:
                    sizes[item.uid] = item.size
        return sizes

    def fetch(self, uid: int) -> MailMessage | None:
        """Message ``uid``'s raw RFC 822 bytes, or None when it is no longer in the folder.

        Nothing is marked \\Seen. A message above the settings' ``max_message_bytes``
        comes back as its header only (``complete`` False): it is never held whole.
        """
        cap = self.settings.max_message_bytes
        if cap is None:
            found = self._fetch_one(uid, "(UID RFC822.SIZE BODY.PEEK[])")
            if found is None:
                return None
            raw = found.literal or b""
            return MailMessage(uid, found.size if found.size is not None else len(raw), raw)
        size = self.message_sizes([uid]).get(uid)
        if size is None:
            return None
        if size > cap:
            header = self._fetch_one(uid, f"(UID BODY.PEEK[HEADER]<0.{MAX_HEADER_BYTES}>)")
            return MailMessage(uid, size, header.literal or b"" if header else b"", complete=False)
        found = self._fetch_one(uid, "(UID BODY.PEEK[])")
        return MailMessage(uid, size, found.literal or b"") if found else None

    def move(self, uid: int, folder: str) -> int | None:
        """Move message ``uid`` from the selected folder to ``folder``; its UID there when the
        server says (UIDPLUS), else None. Moving a message that is no longer there does
        nothing and returns None: :meth:`contains` tells the two apart.

        Raises MailboxFolderNotFoundError when ``folder`` does not exist.
        """
        target = quoted(self.server_name(folder))
        action = f"moving message {uid} to {folder!r}"
        imap = self._require()
        imap.untagged_responses.pop("COPYUID", None)
        # xatom, not uid(): imaplib's uid() drops the tagged answer that carries COPYUID.
        verb = "MOVE" if "MOVE" in self.capabilities else "COPY"
        typ, data = self._call(action, lambda imap: imap.xatom("UID", verb, str(uid), target))
        if typ != "OK":
            self._move_refused(folder, action, _data_text(data))
        new_uid = copied_uid([*_lines(data), *_lines(imap.untagged_responses.pop("COPYUID", []))])
        if verb == "COPY":
            self._ok(
                action, lambda imap: imap.uid("STORE", str(uid), "+FLAGS.SILENT", r"(\Deleted)")
            )
            if "UIDPLUS" in self.capabilities:
                self._ok(action, lambda imap: imap.uid("EXPUNGE", str(uid)))
            else:
                self._ok(action, lambda imap: imap.expunge())
        for name in ("EXPUNGE", "FETCH"):  # not needed; would pile up over a long session
            imap.untagged_responses.pop(name, None)
        return new_uid

    def _move_refused(self, folder: str, action: str, text: str) -> None:
        if "TRYCREATE" in text.upper() or not self.folder_exists(folder):
            raise MailboxFolderNotFoundError(
                f"the folder {folder!r} does not exist on {self.address} ({action}).",
                hint="Create it first (the module creates its Processed and Failed folders).",
                server_response=text,
            )
        raise MailboxError(f"{self.address} refused {action} ({text}).", server_response=text)

    def _fetch_one(self, uid: int, items: str) -> FetchedItem | None:
        # Other messages' unsolicited FETCH (flag changes) may come along: match the UID.
        return next((item for item in self._fetch_items(str(uid), items) if item.uid == uid), None)

    def _fetch_items(self, uid_set: str, items: str) -> list[FetchedItem]:
        data = self._ok(
            f"reading message {uid_set}", lambda imap: imap.uid("FETCH", uid_set, items)
        )
        return fetched_items(data)

    # -- plumbing ----------------------------------------------------------------------------

    def _require(self) -> imaplib.IMAP4:
        if self._imap is None:
            raise MailboxError("not connected to the mailbox (call connect() first).")
        return self._imap

    def _call(self, action: str, command: Callable[[imaplib.IMAP4], Response]) -> Response:
        """Run one command; connection trouble and BAD answers become MailboxErrors, a NO
        answer is returned (its meaning depends on the command)."""
        imap = self._require()
        address = str(self.address)
        self.requests_sent += 1
        try:
            return command(imap)
        except imaplib.IMAP4.readonly as exc:
            raise MailboxError(
                f"{address} opened the folder read-only for {self.settings.username} ({action}).",
                hint="Give the account write access: moving messages out of it needs it.",
            ) from exc
        except imaplib.IMAP4.abort as exc:
            self._drop()
            raise connection_lost(address, action, text_of(exc)) from exc
        except imaplib.IMAP4.error as exc:
            text = text_of(exc)
            raise MailboxError(
                f"{address} refused {action} ({text}).", server_response=text
            ) from exc
        except OSError as exc:
            self._drop()
            raise connection_lost(address, action, reason_of(exc)) from exc

    def _ok(self, action: str, command: Callable[[imaplib.IMAP4], Response]) -> Untagged:
        typ, data = self._call(action, command)
        if typ != "OK":
            text = _data_text(data)
            raise MailboxError(f"{self.address} refused {action} ({text}).", server_response=text)
        return data

    def _drop(self) -> None:
        imap, self._imap = self._imap, None
        if imap is not None:
            shut(imap)

    def _response_number(self, code: str) -> int | None:
        _, values = self._require().response(code)
        value = values[-1] if values else None
        return int(value) if value and value.isdigit() else None

    def _display(self, server_name: str) -> str:
        try:
            name = imap_utf7.decode(server_name)
        except ValueError:
            name = server_name  # not valid UTF-7: show what the server sent
        delimiter = self.delimiter
        return name.replace(delimiter, "/") if delimiter and delimiter != "/" else name

    def _prefix_hint(self, folder: str) -> str:
        """Advice for a refused CREATE: on servers that keep every folder under a personal
        prefix (Courier, Cyrus: ``INBOX.``), a folder name must start with it."""
        if "NAMESPACE" not in self.capabilities:
            return "Check the name and that the account may create folders."
        data = self._ok("reading the namespaces", lambda imap: imap.namespace())
        found = _NAMESPACE_PREFIX.match(data[0]) if data and isinstance(data[0], bytes) else None
        prefix = self._display(found.group(1).decode()) if found else ""
        if prefix and not folder.startswith(prefix):
            return f"This server keeps folders under {prefix!r}: write {prefix}{folder}."
        return "Check the name and that the account may create folders."


def _lines(data: Untagged) -> list[bytes]:
    return [part for part in data if isinstance(part, bytes)]


def _data_text(data: Untagged) -> str:
    parts = [part for part in data if isinstance(part, bytes)]
    return b" ".join(parts).decode("utf-8", "replace").strip()


__all__ = [
    "ClientCredentialsTokens",
    "FolderState",
    "ImapMailbox",
    "MailMessage",
    "MailboxSettings",
    "ServerAddress",
]

"""An incoming e-mail as a Halo ticket or action needs it, read from raw bytes that may be
broken in every way a mailbox sees: wrong or missing charsets, malformed headers, bad
encoded words, HTML only, nested messages, attachments, auto-replies and bounces.

Parsing never raises: a part that cannot be decoded becomes text with replacement
characters and a note in ``defects``, so a malformed message is still delivered (or moved
to Failed with a reason by the caller), never dropped.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import hashlib
import html
import re
from dataclasses import dataclass, field
from email.message import Message
from html.parser import HTMLParser

# What the header parser raises on malformed structured headers instead of a defect
# (``Message-ID: <``, ``From: a@[``): the value is then read as plain text.
_HEADER_ERRORS = (IndexError, AttributeError, LookupError, TypeError, ValueError, UnboundLocalError)
_AUTO_PRECEDENCE = frozenset({"bulk", "junk", "list", "auto_reply"})
_REPORT_TYPES = frozenset({"delivery-status", "disposition-notification"})
MAX_TEXT_CHARACTERS = 200_000


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass(frozen=True)
class IncomingMail:
    """What the mail module needs of one message."""

    message_id: str
    sender: str  # the address, lower-cased; "" when there is none
    sender_name: str
    subject: str
    text: str  # the body as readable text (HTML turned into text)
    html: str  # the HTML body when there is one
    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    auto_reason: str = ""  # why it looks automatic (auto-reply, bounce), or ""
    defects: list[str] = field(default_factory=list)
    digest: str = ""  # sha256 of the raw bytes: a stand-in for a missing Message-ID

    @property
    def dedupe_key(self) -> str:
        """The same message delivered twice has one key: its Message-ID, else its bytes."""
        return self.message_id or f"sha256:{self.digest}"


def parse_mail(raw: bytes) -> IncomingMail:
    """Read ``raw`` (RFC 822 bytes) into an ``IncomingMail``; never raises on bad input."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    defects = [type(defect).__name__ for defect in message.defects]
    sender_name, sender = _address(message, "From", defects)
    text, html_body = _bodies(message, defects)
    return IncomingMail(
        message_id=_header(message, "Message-ID", defects).strip(),
        sender=sender,
        sender_name=sender_name,
        subject=" ".join(_header(message, "Subject", defects).split()),
        text=text[:MAX_TEXT_CHARACTERS],
        html=html_body[:MAX_TEXT_CHARACTERS],
        to=_addresses(message, "To", defects),
        cc=_addresses(message, "Cc", defects),
        attachments=_attachments(message, defects),
        auto_reason=_auto_reason(message, defects),
        defects=defects,
        digest=hashlib.sha256(raw).hexdigest(),
    )


def ticket_id_in(subject: str, start_tag: str = "[ID:", end_tag: str = "]") -> int | None:
    """The Halo ticket id a reply's subject carries between the tags, e.g. ``[ID:1234]``."""
    if not start_tag or not end_tag:
        return None
    pattern = re.escape(start_tag) + r"\s*(\d{1,18})\s*" + re.escape(end_tag)
    found = re.search(pattern, subject, re.IGNORECASE)
    return int(found.group(1)) if found else None


# -- headers ------------------------------------------------------------------------------------


def _header(message: Message, name: str, defects: list[str]) -> str:
    try:
        value = message.get(name)
    except _HEADER_ERRORS:
        defects.append(f"unreadable {name} header")
        return _raw_header(message, name)
    if value is None:
        return ""
    try:
        return str(value)
    except _HEADER_ERRORS:
        defects.append(f"unreadable {name} header")
        return _raw_header(message, name)


def _raw_header(message: Message, name: str) -> str:
    for key, value in message.raw_items():
        if key.lower() == name.lower():
            return str(value).encode("ascii", errors="replace").decode("ascii")
    return ""


def _address(message: Message, name: str, defects: list[str]) -> tuple[str, str]:
    addresses = _parsed_addresses(message, name, defects)
    return addresses[0] if addresses else ("", "")


def _addresses(message: Message, name: str, defects: list[str]) -> list[str]:
    return [address for _, address in _parsed_addresses(message, name, defects) if address]


def _parsed_addresses(message: Message, name: str, defects: list[str]) -> list[tuple[str, str]]:
    text = _header(message, name, defects)
    if not text:
        return []
    try:
        pairs = email.utils.getaddresses([text])
    except _HEADER_ERRORS:
        defects.append(f"unreadable {name} addresses")
        return []
    return [(display.strip(), address.strip().lower()) for display, address in pairs if address]


def _auto_reason(message: Message, defects: list[str]) -> str:
    """Why the message looks sent by a machine (RFC 3834 and common practice), or ""."""
    auto_submitted = _header(message, "Auto-Submitted", defects).strip().lower()
    if auto_submitted and auto_submitted != "no":
        return f"Auto-Submitted: {auto_submitted}"
    precedence = _header(message, "Precedence", defects).strip().lower()
    if precedence in _AUTO_PRECEDENCE:
        return f"Precedence: {precedence}"
    for name in ("X-Autoreply", "X-Autorespond"):
        value = _header(message, name, defects).strip()
        if value:
            return f"{name}: {value}"
    content_type = message.get_content_type()
    report_type = str(message.get_param("report-type") or "").lower()
    if content_type == "multipart/report" and (report_type in _REPORT_TYPES or not report_type):
        return f"a delivery report (multipart/report; {report_type or 'no report-type'})"
    return ""


# -- bodies -----------------------------------------------------------------------------------


def _parts(message: Message) -> list[Message]:
    """The leaf parts, not descending into attached messages (those are attachments)."""
    if message.get_content_type() == "message/rfc822" or not message.is_multipart():
        return [message]
    payload = message.get_payload()
    children = payload if isinstance(payload, list) else []
    return [leaf for child in children if isinstance(child, Message) for leaf in _parts(child)]


def _bodies(message: Message, defects: list[str]) -> tuple[str, str]:
    """The plain text and HTML bodies (the first of each that is not an attachment)."""
    plain, html_body = "", ""
    for part in _parts(message):
        if _is_attachment(part):
            continue
        content_type = part.get_content_type()
        if content_type == "text/plain" and not plain:
            plain = _decoded_text(part, defects)
        elif content_type == "text/html" and not html_body:
            html_body = _decoded_text(part, defects)
    text = plain.strip() or html_to_text(html_body)
    return text, html_body


def _decoded_text(part: Message, defects: list[str]) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return str(part.get_payload() or "")
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:
        defects.append(f"unknown charset {charset!r}")
        return payload.decode("utf-8", errors="replace")


def _is_attachment(part: Message) -> bool:
    disposition = (part.get_content_disposition() or "").lower()
    if disposition == "attachment":
        return True
    main = part.get_content_maintype()
    return main not in ("text", "multipart") or bool(part.get_filename() and disposition)


def _attachments(message: Message, defects: list[str]) -> list[Attachment]:
    found = []
    for number, part in enumerate(_parts(message), start=1):
        if not _is_attachment(part):
            continue
        if part.get_content_type() == "message/rfc822":
            inner = part.get_payload()
            data = (
                inner[0].as_bytes()
                if isinstance(inner, list) and inner and isinstance(inner[0], Message)
                else part.as_bytes()
            )
        else:
            payload = part.get_payload(decode=True)
            data = payload if isinstance(payload, bytes) else b""
        try:
            name = part.get_filename() or ""
        except _HEADER_ERRORS:
            defects.append("unreadable attachment name")
            name = ""
        name = _safe_filename(name) or f"attachment-{number}{_extension(part)}"
        found.append(Attachment(name, part.get_content_type(), data))
    return found


def _safe_filename(name: str) -> str:
    """No folders, no control characters: Halo shows it, an agent's machine may save it."""
    name = re.sub(r"[\x00-\x1f\x7f]", "", name).replace("\\", "/").rsplit("/", 1)[-1]
    return name.strip().strip(".")[:200]


def _extension(part: Message) -> str:
    return {"message/rfc822": ".eml", "text/plain": ".txt", "text/html": ".html"}.get(
        part.get_content_type(), ".bin"
    )


# -- HTML to text -------------------------------------------------------------------------------


class _TextOfHtml(HTMLParser):
    """Readable text of an HTML mail: paragraphs and line breaks kept, scripts dropped."""

    BLOCKS = frozenset({"p", "div", "br", "tr", "h1", "h2", "h3", "h4", "table", "hr"})
    SKIPPED = frozenset({"script", "style", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIPPED:
            self.skipping += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")
        elif tag == "li":
            self.parts.append("\n- ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIPPED and self.skipping:
            self.skipping -= 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def html_to_text(markup: str) -> str:
    if not markup.strip():
        return ""
    parser = _TextOfHtml()
    try:
        parser.feed(markup)
        parser.close()
        text = "".join(parser.parts)
    except (AssertionError, ValueError):  # HTMLParser on hopeless input
        text = html.unescape(re.sub(r"<[^>]*>", " ", markup))
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


__all__ = ["Attachment", "IncomingMail", "html_to_text", "parse_mail", "ticket_id_in"]

"""POST /api/Mail/Integrator/IMAP: the Integrator hands Halo a raw email; Halo threads it.

Halo's rule (halo-api.md section 6): a subject carrying an existing ticket id between the
start and end tags (Control `email_start_tag`/`email_end_tag`, default `[ID:` and `]`)
becomes an action on that ticket; anything else opens a new ticket, whose user is the
user with the sender's address when there is one.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import email
import email.errors
import email.policy
import email.utils
import re
from email.message import EmailMessage
from typing import Any

from aiohttp import web

from halo_emulator.records import PostError, now_text, prepare
from halo_emulator.resources import BY_KEY
from halo_emulator.responses import json_error, parse_id, read_json
from halo_emulator.state import STATE
from halo_emulator.store import Record, Store

EMAIL_UPDATE_OUTCOME = "Email Update"
DEFAULT_START_TAG, DEFAULT_END_TAG = "[ID:", "]"
_UNPARSEABLE_HEADER = (
    email.errors.MessageError,
    IndexError,
    AttributeError,
    LookupError,
    TypeError,
    UnboundLocalError,
    ValueError,
)
"""What the email package's structured-header parser raises on malformed headers such as
`Message-ID: <` (IndexError), `From: a@[` (AttributeError) or `From: < @[ `
(UnboundLocalError), instead of noting a defect."""


class MalformedMail(ValueError):
    """The mimeMessage is not an email we can read."""


async def imap_endpoint(request: web.Request) -> web.Response:
    """Thread one pushed email; answer `{"ticket_id", "action_id", "created"}`."""
    body = await read_json(request)
    if isinstance(body, web.Response):
        return body
    if isinstance(body, list) and len(body) == 1:
        body = body[0]
    if not isinstance(body, dict):
        return json_error(400, "Expected one JSON object", ["expected one object"])
    store = request.app[STATE].store
    mailbox_id = parse_id(body.get("haloMailboxId"))
    if mailbox_id is None or store.get("mailbox", mailbox_id) is None:
        problem = f"haloMailboxId: unknown mailbox {body.get('haloMailboxId')!r}"
        return json_error(400, problem, [problem])
    try:
        message = parse_mime(body.get("mimeMessage"))
        result = thread_message(store, message, mailbox_id, body.get("incomingEmailId"))
    except MalformedMail as error:
        return json_error(400, f"mimeMessage: {error}", [str(error)])
    except PostError as error:
        return json_error(error.status, error.message, error.errors)
    return web.json_response(result)


def parse_mime(text: Any) -> EmailMessage:
    """Parse raw RFC 822 text, or the same base64-encoded; raise MalformedMail otherwise."""
    if not isinstance(text, str) or not text.strip():
        raise MalformedMail("mimeMessage is missing or empty")
    raw = text.encode("utf-8")  # read_json refused lone surrogates
    # Raw RFC 822 text has ':' and spaces, which strict base64 rejects.
    with contextlib.suppress(binascii.Error, ValueError):
        raw = base64.b64decode("".join(text.split()), validate=True)
    message = email.message_from_bytes(raw, policy=email.policy.default)
    if not (header_text(message, "From") or header_text(message, "Subject")):
        raise MalformedMail("no From or Subject header: not an RFC 822 message")
    if message.defects and not message.keys():
        raise MalformedMail(f"unreadable message: {message.defects[0]!r}")
    return message


def header_text(message: EmailMessage, name: str) -> str:
    """The decoded header, or "" when absent; the raw text when it cannot be parsed.

    Halo takes spam with broken headers like any other mail, so a header the parser
    chokes on is used as it came, unfolded, with undecodable bytes replaced.
    """
    try:
        return str(message[name] or "")
    except _UNPARSEABLE_HEADER:
        wanted = name.lower()
        raw = next((value for key, value in message.raw_items() if key.lower() == wanted), "")
        text = raw.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        return " ".join(text.split())


def ticket_ids_in(subject: str, start_tag: str, end_tag: str) -> list[int]:
    """Every ticket id between the tags in a subject ('Re: x [ID:42]' -> [42]), in order:
    a forwarded reply may carry an old tag before the one of a ticket that exists.
    A number too long to be an id (`[ID:` + 20 digits + `]`) names no ticket."""
    pattern = re.escape(start_tag) + r"\s*(\d{1,19})\s*" + re.escape(end_tag)
    found_ids = (parse_id(found) for found in re.findall(pattern, subject))
    return [found for found in found_ids if found is not None]


def thread_message(
    store: Store, message: EmailMessage, mailbox_id: int, incoming_id: Any
) -> dict[str, Any]:
    """Add an action to the tagged ticket or open a new ticket; save both in the store."""
    control = store.get("control", 1) or {}
    subject = header_text(message, "Subject")
    sender_name, sender_address = email.utils.parseaddr(header_text(message, "From"))
    message_id = header_text(message, "Message-ID")
    text = _text_body(message)
    tagged = ticket_ids_in(
        subject,
        _tag(control, "email_start_tag", DEFAULT_START_TAG),
        _tag(control, "email_end_tag", DEFAULT_END_TAG),
    )
    ticket_id = next((found for found in tagged if store.get("tickets", found)), None)
    user = _user_with_address(store, sender_address)
    if ticket_id is not None:
        action = _save(
            store,
            "actions",
            {
                "ticket_id": ticket_id,
                "outcome": EMAIL_UPDATE_OUTCOME,
                "note": text,
                "emailfrom": sender_address,
                "emailsubject": subject,
                "emailbody": text,
                "who": sender_name or sender_address,
                "emaildirection": "in",
                "mailentryid": message_id,
                "actionby_user_id": user["id"] if user else None,
            },
        )
        created, action_id = False, action["id"]
    else:
        mailbox = store.get("mailbox", mailbox_id) or {}
        ticket: Record = {
            "summary": subject or "(no subject)",
            "details": text,
            "mailboxid": mailbox_id,
            "mailentryid": message_id,
            "reportedby": sender_address,
            "tickettype_id": mailbox.get("tickettype_id") or 1,
            "source": "Email",
        }
        if user:
            ticket.update(
                user_id=user["id"],
                client_id=user.get("client_id"),
                site_id=user.get("site_id"),
                user_email=user.get("emailaddress"),
            )
        ticket_id = _save(store, "tickets", ticket)["id"]
        created, action_id = True, None
    _save(
        store,
        "incomingemail",
        {
            "mbid": mailbox_id,
            "mailid": incoming_id,
            "from": sender_address,
            "subject": subject,
            "processed": True,
            "dateprocessed": now_text(),
            "ticket_id": ticket_id,
        },
    )
    return {"ticket_id": ticket_id, "action_id": action_id, "created": created}


def _tag(control: Record, name: str, default: str) -> str:
    """A threading tag from Control; the default when it is unset (or, in a database
    written before Control checked its types, not text)."""
    value = control.get(name)
    return value if isinstance(value, str) and value else default


def _text_body(message: EmailMessage) -> str:
    """The plain-text body (HTML when there is no text part), stripped.

    A body in a charset Python does not know is read as UTF-8 with undecodable bytes
    replaced, so a spammer's charset typo does not lose the mail.
    """
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        return str(part.get_content()).strip()
    except (LookupError, ValueError):
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        return data.decode("utf-8", "replace").strip()


def _user_with_address(store: Store, address: str) -> Record | None:
    """The first active user whose email address matches the sender (case-insensitive)."""
    if not address:
        return None
    wanted = address.lower()
    for user in store.all("users"):
        addresses = (user.get(key) for key in ("emailaddress", "email2", "email3"))
        if not user.get("inactive") and any(str(a or "").lower() == wanted for a in addresses):
            return user
    return None


def _save(store: Store, entity: str, fields: Record) -> Record:
    """Create one record through the same path a POST takes, so server fields are filled."""
    (record,) = prepare(BY_KEY[entity], [fields], store, "Halo Mail")
    store.save(entity, [record])
    return record

"""``imap``: incoming mail from an IMAP mailbox → Halo tickets, and replies → actions.

The integration admins run most often, and the one they trust only if no e-mail is ever
lost or turned into two tickets. So each message goes through the work ledger
(``core.state.ledger``): claimed, written to Halo, its Halo id recorded, moved to the
Processed folder, done, every step committed before the next. After a crash a message
already in Halo is only moved; one whose answer was lost is looked up in Halo by the
reference written with it before anything is sent again; the same message delivered twice
(one Message-ID) becomes one ticket. A message Halo keeps refusing goes to the Failed
folder after ``max_attempts``, with the reason in the run's failures; one broken message
never stops the others, and one failing mailbox (instance) never stops another.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.errors import (
    HaloError,
    HaloNotFoundError,
    HaloValidationError,
    ModuleError,
)
from core.modules.base import StatusRecord, SyncModule
from core.modules.options import option
from core.run.context import QueueTally, RunContext, SourceContext
from core.settings.secrets import as_secret
from core.sources.imap_types import MailboxSettings
from core.sources.mail_message import IncomingMail, parse_mail, ticket_id_in
from core.state.ledger import Claim, WorkLedger

if TYPE_CHECKING:
    from core.halo.client import HaloClient  # its httpx is not needed to import this

EMAIL_UPDATE_OUTCOME = "Email Update"
# After this many sender searches in one run, reading all users once is cheaper.
SEARCHES_BEFORE_LISTING = 20
REFERENCE_PREFIX = "halo-integrator mail "


@dataclass(frozen=True)
class ImapOptions:
    server: str = option(
        "",
        help="imaps://mail.example.com:993, or imap://host:143 with starttls.",
        label="Mail server",
    )
    starttls: bool = option(
        False, help="Upgrade an imap:// connection with STARTTLS.", label="Use STARTTLS"
    )
    ca_file: str = option(
        "",
        help="PEM file of a private CA that signed the server's certificate.",
        label="CA certificate file",
        browse="file",
    )
    username: str = option(
        "", help="The mailbox's login (for Microsoft 365: its address).", label="Mailbox login"
    )
    password: str = option(
        "", help="The mailbox password (not with XOAUTH2).", secret=True, label="Mailbox password"
    )
    oauth_tenant_id: str = option(
        "", help="XOAUTH2: the Entra tenant id (Microsoft 365).", label="OAuth tenant ID"
    )
    oauth_client_id: str = option(
        "", help="XOAUTH2: the app registration's client id.", label="OAuth client ID"
    )
    oauth_client_secret: str = option(
        "", help="XOAUTH2: the app's client secret.", secret=True, label="OAuth client secret"
    )
    oauth_token_url: str = option(
        "", help="XOAUTH2: another token endpoint (not Microsoft).", label="OAuth token URL"
    )
    mode: str = option(
        "tickets",
        help="tickets: the agent makes tickets and actions; halo-mailbox: hand each message "
        "to Halo's mailbox (halo_mailbox_id) and let Halo thread it.",
        choices=("tickets", "halo-mailbox"),
        label="Mode",
    )
    halo_mailbox_id: int = option(
        0,
        help="Halo's Mailbox record: settings read from it, status reported to it.",
        minimum=0,
        label="Halo mailbox ID",
    )
    folder: str = option("INBOX", help="The folder new mail arrives in.", label="Inbox folder")
    processed_folder: str = option(
        "Processed", help="Where handled mail is moved (created).", label="Processed folder"
    )
    failed_folder: str = option(
        "Failed", help="Where mail Halo keeps refusing goes (created).", label="Failed folder"
    )
    ticket_type_id: int = option(
        0,
        help="Halo ticket type for new tickets (0: Halo's default).",
        label="Ticket type ID",
        applies_when={"mode": ("tickets",)},
    )
    client_id: int = option(
        0,
        help="Halo client for new tickets (0: the user's).",
        label="Client ID for tickets",
        applies_when={"mode": ("tickets",)},
    )
    site_id: int = option(
        0,
        help="Halo site for new tickets and new users (0: the user's).",
        label="Site ID for tickets",
        applies_when={"mode": ("tickets",)},
    )
    default_user_id: int = option(
        0,
        help="Halo user for unknown senders (0: create them).",
        label="User for unknown senders",
        applies_when={"mode": ("tickets",)},
    )
    create_unknown_users: bool = option(
        True,
        help="Create a Halo user for an unknown sender.",
        label="Create unknown senders",
        applies_when={"mode": ("tickets",)},
    )
    tag_start: str = option(
        "[ID:",
        help="What precedes a ticket id in a reply's subject.",
        label="Ticket tag start",
        applies_when={"mode": ("tickets",)},
    )
    tag_end: str = option(
        "]", help="What follows it.", label="Ticket tag end", applies_when={"mode": ("tickets",)}
    )
    skip_auto_replies: bool = option(
        True,
        help="Move auto-replies, bounces and delivery reports to Processed unsent.",
        label="Skip auto-replies",
    )
    max_messages_per_run: int = option(
        200, help="At most this many messages a run.", minimum=1, label="Max messages per run"
    )
    max_attachment_bytes: int = option(
        10 * 1024 * 1024,
        help="Larger attachments are named in the ticket, not uploaded.",
        minimum=0,
        label="Max attachment size (bytes)",
    )
    max_attempts: int = option(
        3,
        help="Runs Halo may refuse a message before it goes to Failed.",
        minimum=1,
        label="Attempts before Failed",
    )

    def problems(self) -> list[tuple[str, str]]:
        found = []
        if not self.halo_mailbox_id:
            if not self.server:
                found.append(("server", "required (or set halo_mailbox_id)"))
            if not self.username:
                found.append(("username", "required (or set halo_mailbox_id)"))
        if self.mode == "halo-mailbox" and not self.halo_mailbox_id:
            found.append(("halo_mailbox_id", "required in the halo-mailbox mode"))
        if not self.password and not self.oauth_client_id:
            found.append(("password", "required (or the oauth_* options for XOAUTH2)"))
        if self.processed_folder == self.folder or self.failed_folder == self.folder:
            found.append(("processed_folder", "must differ from folder"))
        return found


class ImapMail(SyncModule):
    type_name = "imap"
    display_name = "Incoming mail (IMAP)"
    description = "E-mail from an IMAP mailbox to Halo tickets, replies to actions, exactly once."
    Options = ImapOptions
    status_record = StatusRecord("Mailbox", id_option="halo_mailbox_id")

    options: ImapOptions

    def check(self, context: SourceContext) -> str:
        from core.sources.imap_mailbox import ImapMailbox

        options = self.options
        if not (options.server and options.username):
            # Validate has no Halo client here; the run reads the record first.
            return (
                f"server and username come from Halo's Mailbox {options.halo_mailbox_id} "
                "at run time (not checked here)"
            )
        with ImapMailbox(self._mailbox_settings(context)) as mailbox:
            state = mailbox.select(options.folder)
        return (
            f"{options.username} on {options.server}: {state.exists} messages in {options.folder}"
        )

    def run(self, context: RunContext) -> None:
        from core.sources.imap_mailbox import ImapMailbox

        options = self.options_for_run(context.client)
        ledger = context.ledger("mail")
        tally = context.queue("Tickets")
        given_up: list[str] = []
        with ImapMailbox(self._mailbox_settings(context)) as mailbox:
            if not context.dry_run:
                mailbox.ensure_folder(options.processed_folder)
                mailbox.ensure_folder(options.failed_folder)
            state = mailbox.select(options.folder)
            self._note_uidvalidity(context, options.folder, state.uidvalidity)
            uids = mailbox.list_uids()[: options.max_messages_per_run]
            context.log.info("%d messages in %s", len(uids), options.folder)
            delivery = _Delivery(context.client, options)
            for uid in uids:
                key = f"{options.folder}/{state.uidvalidity}/{uid}"
                outcome = self._one(context, mailbox, ledger, delivery, key, uid, tally)
                if outcome:
                    given_up.append(outcome)
                context.safe_point()
        if given_up:
            raise ModuleError(
                f"{len(given_up)} message(s) moved to {options.failed_folder} after "
                f"{options.max_attempts} refused attempts: {given_up[0]}",
                hint="Fix the cause (see the run log), then move them back to "
                f"{options.folder} and run again.",
            )

    def _note_uidvalidity(self, context: RunContext, folder: str, uidvalidity: int) -> None:
        """A renumbered folder (UIDVALIDITY changed: restored, or recreated) is said in the
        log; its messages get new keys, and their Message-IDs keep them from being sent
        twice."""
        name = f"uidvalidity:{folder}"
        known = context.checkpoint(name)
        if known is not None and known != str(uidvalidity):
            context.log.warning(
                "%s was renumbered (UIDVALIDITY %s, was %s); messages already in Halo are "
                "recognised by their Message-ID",
                folder,
                uidvalidity,
                known,
            )
        if not context.dry_run:
            context.state.set_checkpoint(context.instance, name, str(uidvalidity))

    # -- one message ----------------------------------------------------------------------------

    def _one(
        self,
        context: RunContext,
        mailbox: Any,
        ledger: WorkLedger,
        delivery: _Delivery,
        key: str,
        uid: int,
        tally: QueueTally,
    ) -> str | None:
        """Handle one message; returns a reason when it was given up and moved to Failed."""
        options = self.options
        fetched = mailbox.fetch(uid)
        if fetched is None:
            return None  # moved or deleted by someone else meanwhile
        mail = parse_mail(fetched.raw)
        label = f"{mail.subject or '(no subject)'} from {mail.sender or '(no sender)'}"
        if context.dry_run:
            context.log.info("Would deliver %s", label)
            tally.done()
            return None
        claim = ledger.claim(key, marker=_reference(mail), label=label, dedupe_key=mail.dedupe_key)
        if claim.given_up:
            mailbox.move(uid, options.failed_folder)
            return None
        if not claim.in_halo and options.skip_auto_replies and mail.auto_reason:
            context.log.info("Not sent to Halo (%s): %s", mail.auto_reason, label)
            mailbox.move(uid, options.processed_folder)
            ledger.done(key)
            tally.done()
            return None
        try:
            self._deliver_once(claim, ledger, delivery, mail, fetched)
        except (HaloValidationError, HaloNotFoundError) as exc:
            item = ledger.failed(key, exc.message, max_attempts=options.max_attempts)
            tally.failed(key, label, exc.message)
            if item.attempts >= options.max_attempts:
                mailbox.move(uid, options.failed_folder)
                return f"{label}: {exc.message}"
            return None
        mailbox.move(uid, options.processed_folder)
        ledger.done(key)
        tally.done()
        return None

    def _deliver_once(
        self,
        claim: Claim,
        ledger: WorkLedger,
        delivery: _Delivery,
        mail: IncomingMail,
        fetched: Any,
    ) -> None:
        """Write the message to Halo unless Halo has it already (or may have: look first)."""
        if claim.in_halo:
            return
        reference = claim.item.marker
        to_mailbox = self.options.mode == "halo-mailbox"
        if claim.interrupted:
            found = (
                delivery.find_in_mailbox(reference, mail)
                if to_mailbox
                else delivery.find(reference, mail)
            )
            if found is not None:
                if not to_mailbox:
                    delivery.ensure_attachments(found, mail)
                ledger.written(claim.item.key, found.record_id)
                return
        if to_mailbox:
            written = delivery.hand_to_mailbox(fetched.raw, reference)
        else:
            written = delivery.write(mail, reference, fetched.complete)
        ledger.written(claim.item.key, written.record_id)

    def options_from_halo(self, record: Mapping[str, Any]) -> dict[str, Any]:
        return options_from_mailbox(record)

    # -- settings ---------------------------------------------------------------------------------

    def _mailbox_settings(self, context: SourceContext) -> MailboxSettings:
        options = self.options
        return MailboxSettings(
            server=options.server,
            username=options.username,
            password=as_secret(options.password),
            starttls=options.starttls,
            ca_file=str(context.resolve(options.ca_file)) if options.ca_file else "",
            oauth_client_id=options.oauth_client_id,
            oauth_client_secret=as_secret(options.oauth_client_secret),
            oauth_tenant_id=options.oauth_tenant_id,
            oauth_token_url=options.oauth_token_url,
        )


@dataclass(frozen=True)
class Written:
    """Where a message went in Halo: a ticket, or an action on one."""

    ticket_id: int
    action_id: int | None = None

    @property
    def record_id(self) -> int:
        return self.action_id if self.action_id is not None else self.ticket_id


class _Delivery:
    """Writes messages to Halo: a reply carrying a ticket's tag as an action on it, anything
    else as a new ticket for the sender's Halo user; attachments after either."""

    def __init__(self, client: HaloClient, options: ImapOptions) -> None:
        self.client = client
        self.options = options
        self._users: dict[str, int | None] = {}
        self._searches = 0
        self._all_users: dict[str, int] | None = None

    def write(self, mail: IncomingMail, reference: str, complete: bool) -> Written:
        ticket_id = self._existing_ticket(mail)
        text = self._text(mail, reference, complete)
        if ticket_id is not None:
            body = {
                "ticket_id": ticket_id,
                "outcome": EMAIL_UPDATE_OUTCOME,
                "emailfrom": mail.sender,
                "emailsubject": mail.subject,
                "note": text,
                "emaildirection": "in",
            }
            [saved] = self.client.post_batch("Actions", [body])
            written = Written(ticket_id, int(saved["id"]))
        else:
            body = {"summary": (mail.subject or "(no subject)")[:250], "details": text}
            body.update(self._placement(mail))
            [saved] = self.client.post_batch("Tickets", [body])
            written = Written(int(saved["id"]))
        self._attach(written, mail, already=set())
        return written

    def hand_to_mailbox(self, raw: bytes, reference: str) -> Written:
        """Halo's own integrator path: the raw message to the mailbox, Halo threads it."""
        body = {
            "haloMailboxId": self.options.halo_mailbox_id,
            "incomingEmailId": reference,
            "mimeMessage": base64.b64encode(raw).decode("ascii"),
        }
        answer = self.client.post("Mail/Integrator/IMAP", [body])
        if isinstance(answer, list):
            answer = answer[0] if answer else {}
        if not isinstance(answer, dict) or not answer.get("ticket_id"):
            raise ModuleError(f"Halo's mailbox answered without a ticket id: {answer!r:.200}")
        action_id = answer.get("action_id")
        return Written(int(answer["ticket_id"]), int(action_id) if action_id else None)

    def find_in_mailbox(self, reference: str, mail: IncomingMail) -> Written | None:
        """A message handed to Halo's mailbox before the answer was lost: its incoming
        e-mail record carries our reference as its id."""
        params = {"search": mail.subject} if mail.subject else {}
        for incoming in self.client.iter_records("IncomingEmail", params):
            if str(incoming.get("mailid") or "") == reference and incoming.get("ticket_id"):
                return Written(int(incoming["ticket_id"]))
        return None

    def find(self, reference: str, mail: IncomingMail) -> Written | None:
        """The ticket or action an interrupted attempt wrote, found by its reference line."""
        ticket_id = self._existing_ticket(mail)
        if ticket_id is not None:
            actions = self.client.iter_records("Actions", {"ticket_id": str(ticket_id)})
            for action in actions:
                if reference in str(action.get("note") or ""):
                    return Written(ticket_id, int(action["id"]))
            return None
        for ticket in self.client.iter_records("Tickets", {"search": reference}):
            if reference in str(ticket.get("details") or ""):
                return Written(int(ticket["id"]))
        return None

    def ensure_attachments(self, written: Written, mail: IncomingMail) -> None:
        """After a lost answer: upload the attachments Halo does not have yet."""
        params = {"ticket_id": str(written.ticket_id)}
        there = {str(a.get("filename")) for a in self.client.iter_records("Attachment", params)}
        self._attach(written, mail, already=there)

    def _attach(self, written: Written, mail: IncomingMail, *, already: set[str]) -> None:
        bodies = [
            {
                "ticket_id": written.ticket_id,
                **({"action_id": written.action_id} if written.action_id else {}),
                "filename": attachment.filename,
                "data_base64": base64.b64encode(attachment.data).decode("ascii"),
                "isimage": attachment.content_type.startswith("image/"),
            }
            for attachment in mail.attachments
            if attachment.size <= self.options.max_attachment_bytes
            and attachment.filename not in already
        ]
        if bodies:
            self.client.post_batch("Attachment", bodies)

    def _look_up_user(self, address: str) -> int | None:
        """The Halo user with this address: searched one by one for the first few senders
        of a run, then all users read once (cheaper than a search per sender)."""
        if self._all_users is None and self._searches >= SEARCHES_BEFORE_LISTING:
            self._all_users = {}
            for user in self.client.iter_records("Users", {}, page_size=1000):
                self._all_users.setdefault(_email_of(user), int(user["id"]))
        if self._all_users is not None:
            return self._all_users.get(address)
        self._searches += 1
        for user in self.client.iter_records("Users", {"search": address}):
            if _email_of(user) == address:
                return int(user["id"])
        return None

    def _existing_ticket(self, mail: IncomingMail) -> int | None:
        ticket_id = ticket_id_in(mail.subject, self.options.tag_start, self.options.tag_end)
        if ticket_id is None:
            return None
        try:
            self.client.get(f"Tickets/{ticket_id}")
        except HaloNotFoundError:
            return None  # a tag for a ticket that does not exist: a new ticket
        return ticket_id

    def _text(self, mail: IncomingMail, reference: str, complete: bool) -> str:
        lines = [mail.text or "(no text)"]
        too_big = [a for a in mail.attachments if a.size > self.options.max_attachment_bytes]
        if too_big:
            names = ", ".join(f"{a.filename} ({a.size:,} bytes)" for a in too_big)
            lines.append(f"Attachments too large to upload: {names}")
        if not complete:
            lines.append("The message was too large to read whole; see the mailbox.")
        lines.append(f"({reference})")
        return "\n\n".join(lines)

    def _placement(self, mail: IncomingMail) -> dict[str, Any]:
        options = self.options
        fields: dict[str, Any] = {}
        user_id = self._user_for(mail)
        if user_id:
            fields["user_id"] = user_id
        else:
            fields["reportedby"] = mail.sender
        for name in ("ticket_type_id", "client_id", "site_id"):
            value = getattr(options, name)
            if value:
                fields["tickettype_id" if name == "ticket_type_id" else name] = value
        return fields

    def _user_for(self, mail: IncomingMail) -> int | None:
        """The sender's Halo user: matched by e-mail, else the default user or a new one."""
        address = mail.sender
        if not address:
            return self.options.default_user_id or None
        if address in self._users:
            return self._users[address]
        found = self._look_up_user(address)
        if found is None and self.options.default_user_id:
            found = self.options.default_user_id
        elif found is None and self.options.create_unknown_users:
            new: dict[str, Any] = {"name": mail.sender_name or address, "emailaddress": address}
            if self.options.site_id:
                new["site_id"] = self.options.site_id
            try:
                [saved] = self.client.post_batch("Users", [new])
                found = int(saved["id"])
            except HaloError:
                found = None  # the ticket still goes in, reported by the address
        self._users[address] = found
        return found


def _email_of(user: Mapping[str, Any]) -> str:
    return str(user.get("emailaddress") or "").strip().lower()


def options_from_mailbox(record: Mapping[str, Any]) -> dict[str, Any]:
    """Our option names for what Halo's Mailbox record holds (halo-api.md 5.4)."""
    found: dict[str, Any] = {}
    host = str(record.get("server") or "").strip()
    if host:
        found["server"] = f"imaps://{host}" if record.get("usetls", True) else f"imap://{host}"
    if record.get("username"):
        found["username"] = str(record["username"])
    if record.get("tickettype_id"):
        found["ticket_type_id"] = record["tickettype_id"]
    if record.get("newuser_default_site"):
        found["site_id"] = record["newuser_default_site"]
    return found


def _reference(mail: IncomingMail) -> str:
    """The line written with the ticket that finds it again after a lost answer."""
    digest = hashlib.sha256(mail.dedupe_key.encode("utf-8", errors="replace")).hexdigest()
    return f"{REFERENCE_PREFIX}{digest[:20]}"

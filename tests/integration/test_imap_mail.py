"""The ``imap`` module against a real Dovecot and the emulator: tickets, replies as actions,
users, attachments, auto-replies, duplicates, lost answers, dry runs."""

from __future__ import annotations

import secrets
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from servers import dovecot as imap_server

from core.halo.client import HaloClient
from core.outcomes import Outcome
from core.run.request import RunRequest
from core.run.runner import ModuleRunResult, Runner
from core.settings.model import ModuleSettings, Settings
from core.settings.reader import load_settings
from core.settings.secrets import Secret
from core.settings.writer import save_settings
from core.state.store import StateStore
from halo_emulator import Emulator

from .conftest import FAST_RETRY, connection_for, halo_users


@pytest.fixture
def mailbox_folder(
    tmp_path: Path, emulator: Emulator, dovecot: imap_server.Dovecot, mail_folder: str
) -> Settings:
    settings = Settings.new(tmp_path / "Halo" / "appsettings.json", connection_for(emulator))
    options = {
        "server": dovecot.url,
        "starttls": True,
        "ca_file": str(dovecot.ca_file),
        "username": "alice",
        "password": Secret(imap_server.USERS["alice"]),
        "folder": mail_folder,
        "processed_folder": f"{mail_folder}-done",
        "failed_folder": f"{mail_folder}-failed",
    }
    settings.modules[:] = [ModuleSettings(name="inbox", type="imap", options=options)]
    save_settings(settings)
    return load_settings(settings.folder)


def run(settings: Settings, **flags: bool) -> ModuleRunResult:
    runner = Runner(settings, client_factory=lambda: HaloClient(settings.halo, retry=FAST_RETRY))
    [result] = runner.run(RunRequest(**flags))
    return result


def records(emulator: Emulator, entity: str, **params: str) -> list[dict[str, Any]]:
    with HaloClient(connection_for(emulator), retry=FAST_RETRY) as halo:
        return list(halo.iter_records(entity, params))


def mail(
    subject: str, body: str = "Hello.\n", sender: str = "Ann Smith <ann@example.com>"
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "support@example.com"
    message["Subject"] = subject
    message["Message-ID"] = f"<{secrets.token_hex(8)}@example.com>"
    message.set_content(body)
    return message


def test_a_message_becomes_a_ticket_for_its_sender_and_is_moved_to_processed(
    emulator: Emulator, dovecot: imap_server.Dovecot, mailbox_folder: Settings, mail_folder: str
) -> None:
    with HaloClient(connection_for(emulator), retry=FAST_RETRY) as halo:
        [ann] = halo.post_batch("Users", [{"name": "Ann Smith", "emailaddress": "ann@example.com"}])
    dovecot.deliver(mail("Printer on fire", "It is on fire.\n").as_bytes(), mail_folder)
    result = run(mailbox_folder)
    assert result.outcome is Outcome.SUCCEEDED, result.error
    assert result.counts.processed == 1
    [ticket] = [t for t in records(emulator, "Tickets") if t["summary"] == "Printer on fire"]
    assert ticket["user_id"] == ann["id"]
    assert ticket["details"].startswith("It is on fire.")
    assert dovecot.uids(mail_folder) == [] and len(dovecot.uids(f"{mail_folder}-done")) == 1
    again = run(mailbox_folder)
    assert again.counts.processed == 0 and len(records(emulator, "Tickets")) == len(
        records(emulator, "Tickets")
    )


def test_an_unknown_sender_becomes_one_user_for_all_their_mail(
    emulator: Emulator, dovecot: imap_server.Dovecot, mailbox_folder: Settings, mail_folder: str
) -> None:
    for n in range(3):
        dovecot.deliver(
            mail(f"Question {n}", sender="New Person <new@example.org>").as_bytes(), mail_folder
        )
    result = run(mailbox_folder)
    assert result.counts.processed == 3
    [user] = [u for u in halo_users(emulator) if u.get("emailaddress") == "new@example.org"]
    assert user["name"] == "New Person"
    tickets = [t for t in records(emulator, "Tickets") if t["summary"].startswith("Question ")]
    assert len(tickets) == 3 and {t["user_id"] for t in tickets} == {user["id"]}


def test_a_reply_with_the_tag_becomes_an_action_on_its_ticket(
    emulator: Emulator, dovecot: imap_server.Dovecot, mailbox_folder: Settings, mail_folder: str
) -> None:
    with HaloClient(connection_for(emulator), retry=FAST_RETRY) as halo:
        [ticket] = halo.post_batch("Tickets", [{"summary": "VPN down"}])
    dovecot.deliver(
        mail(f"RE: VPN down [ID:{ticket['id']}]", "Still down.\n").as_bytes(), mail_folder
    )
    dovecot.deliver(
        mail("RE: gone [ID:987654]", "About a ticket that never was\n").as_bytes(), mail_folder
    )
    result = run(mailbox_folder)
    assert result.counts.processed == 2, result.error
    [action] = records(emulator, "Actions", ticket_id=str(ticket["id"]))
    assert (action["outcome"], action["emailfrom"]) == ("Email Update", "ann@example.com")
    assert action["note"].startswith("Still down.")
    assert any(t["summary"] == "RE: gone [ID:987654]" for t in records(emulator, "Tickets"))


def test_attachments_are_uploaded_and_an_oversized_one_is_named(
    emulator: Emulator, dovecot: imap_server.Dovecot, mailbox_folder: Settings, mail_folder: str
) -> None:
    message = mail("Screenshot attached")
    message.add_attachment(b"\x89PNG small", maintype="image", subtype="png", filename="error.png")
    message.add_attachment(
        b"x" * 20_000, maintype="application", subtype="zip", filename="logs.zip"
    )
    mailbox_folder.modules[0].options["max_attachment_bytes"] = 10_000
    save_settings(mailbox_folder)
    dovecot.deliver(message.as_bytes(), mail_folder)
    result = run(load_settings(mailbox_folder.folder))
    assert result.outcome is Outcome.SUCCEEDED, result.error
    [ticket] = [t for t in records(emulator, "Tickets") if t["summary"] == "Screenshot attached"]
    [attachment] = records(emulator, "Attachment", ticket_id=str(ticket["id"]))
    assert attachment["filename"] == "error.png" and attachment["isimage"] is True
    assert "logs.zip (20,000 bytes)" in ticket["details"]


def test_an_auto_reply_goes_to_processed_without_a_ticket(
    emulator: Emulator, dovecot: imap_server.Dovecot, mailbox_folder: Settings, mail_folder: str
) -> None:
    away = mail("Out of office")
    away["Auto-Submitted"] = "auto-replied"
    dovecot.deliver(away.as_bytes(), mail_folder)
    result = run(mailbox_folder)
    assert result.outcome is Outcome.SUCCEEDED and result.counts.processed == 1
    assert not any(t["summary"] == "Out of office" for t in records(emulator, "Tickets"))
    assert len(dovecot.uids(f"{mail_folder}-done")) == 1


def test_the_same_message_delivered_twice_is_one_ticket(
    emulator: Emulator, dovecot: imap_server.Dovecot, mailbox_folder: Settings, mail_folder: str
) -> None:
    raw = mail("Delivered twice").as_bytes()
    dovecot.deliver(raw, mail_folder)
    dovecot.deliver(raw, mail_folder)
    result = run(mailbox_folder)
    assert result.counts.processed == 2
    assert sum(t["summary"] == "Delivered twice" for t in records(emulator, "Tickets")) == 1
    assert dovecot.uids(mail_folder) == [] and len(dovecot.uids(f"{mail_folder}-done")) == 2


def test_a_lost_answer_is_looked_up_not_resent(
    emulator: Emulator, dovecot: imap_server.Dovecot, mailbox_folder: Settings, mail_folder: str
) -> None:
    with HaloClient(connection_for(emulator), retry=FAST_RETRY) as halo:
        halo.post_batch("Users", [{"name": "Ann Smith", "emailaddress": "ann@example.com"}])
    dovecot.deliver(mail("Answer lost").as_bytes(), mail_folder)
    emulator.set_faults(lose_answer_next=1)  # the ticket is created, its answer lost
    first = run(mailbox_folder)
    emulator.set_faults(lose_answer_next=0)
    assert first.outcome is Outcome.FAILED
    assert dovecot.uids(mail_folder) != []  # not moved: the ledger says "claimed"
    second = run(mailbox_folder)
    assert second.outcome is Outcome.SUCCEEDED, second.error
    assert sum(t["summary"] == "Answer lost" for t in records(emulator, "Tickets")) == 1
    assert dovecot.uids(mail_folder) == []


def test_a_dry_run_writes_and_moves_nothing(
    emulator: Emulator, dovecot: imap_server.Dovecot, mailbox_folder: Settings, mail_folder: str
) -> None:
    dovecot.deliver(mail("Just looking").as_bytes(), mail_folder)
    result = run(mailbox_folder, dry_run=True)
    assert result.outcome is Outcome.DRY_RUN and result.counts.processed == 1
    assert not any(t["summary"] == "Just looking" for t in records(emulator, "Tickets"))
    assert len(dovecot.uids(mail_folder)) == 1


class RefuseSummary(httpx.HTTPTransport):
    """Halo answering 400 to a ticket with this summary (as it does to data it rejects)."""

    def __init__(self, summary: str) -> None:
        super().__init__()
        self.summary = summary.encode()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        posting = request.method == "POST" and request.url.path.endswith("/Tickets")
        if posting and self.summary in request.content:
            return httpx.Response(400, json={"errorMessage": "Invalid ticket data"})
        return super().handle_request(request)


def test_a_message_halo_keeps_refusing_goes_to_failed_and_the_others_go_on(
    emulator: Emulator, dovecot: imap_server.Dovecot, mailbox_folder: Settings, mail_folder: str
) -> None:
    with HaloClient(connection_for(emulator), retry=FAST_RETRY) as halo:
        [ticket] = halo.post_batch("Tickets", [{"summary": "Open one"}])
    settings = mailbox_folder
    transport = RefuseSummary("Refused every time")
    runner = Runner(
        settings,
        client_factory=lambda: HaloClient(settings.halo, retry=FAST_RETRY, transport=transport),
    )
    dovecot.deliver(mail("Refused every time").as_bytes(), mail_folder)
    for attempt in (1, 2):
        reply = mail(f"RE: Open one [ID:{ticket['id']}]", f"reply {attempt}\n")
        dovecot.deliver(reply.as_bytes(), mail_folder)
        [result] = runner.run()
        assert result.outcome is Outcome.SUCCEEDED and result.counts.failed == 1
        assert len(dovecot.uids(mail_folder)) == 1  # kept for the next attempt
    [last] = runner.run()
    assert last.outcome is Outcome.FAILED
    assert "-failed after 3 refused attempts" in (last.error or "")
    assert dovecot.uids(mail_folder) == [] and len(dovecot.uids(f"{mail_folder}-failed")) == 1
    assert len(records(emulator, "Actions", ticket_id=str(ticket["id"]))) == 2
    # Given up: later runs leave it in Failed and do not try again.
    [after] = runner.run()
    assert after.outcome is Outcome.SUCCEEDED and after.counts.failed == 0


def test_xoauth2_with_a_client_credentials_token_reads_the_mailbox(
    emulator: Emulator,
    dovecot: imap_server.Dovecot,
    oauth_endpoint: imap_server.OAuthEndpoint,
    mailbox_folder: Settings,
    mail_folder: str,
) -> None:
    options = dict(mailbox_folder.modules[0].options)
    del options["password"]
    options.update(
        oauth_client_id=imap_server.OAUTH_CLIENT_ID,
        oauth_client_secret=Secret(imap_server.OAUTH_CLIENT_SECRET),
        oauth_token_url=oauth_endpoint.token_url,
    )
    mailbox_folder.modules[0].options = options
    save_settings(mailbox_folder)
    dovecot.deliver(mail("Over OAuth").as_bytes(), mail_folder)
    result = run(load_settings(mailbox_folder.folder))
    assert result.outcome is Outcome.SUCCEEDED, result.error
    assert any(t["summary"] == "Over OAuth" for t in records(emulator, "Tickets"))
    wrong = dict(options, oauth_client_secret=Secret("not-the-secret-at-all"))
    mailbox_folder.modules[0].options = wrong
    save_settings(mailbox_folder)
    refused = run(load_settings(mailbox_folder.folder))
    assert refused.outcome is Outcome.FAILED and "not-the-secret-at-all" not in (
        refused.error or ""
    )
    assert "refused client ID" in (refused.error or "")


@pytest.fixture
def halo_mailbox(emulator: Emulator, mailbox_folder: Settings) -> Settings:
    """The halo-mailbox mode: Halo's Mailbox record holds the rest; the server is local."""
    with HaloClient(connection_for(emulator), retry=FAST_RETRY) as halo:
        [record] = halo.post_batch(
            "Mailbox",
            [
                {
                    "name": "Support",
                    "server": "mail.example.com",
                    "username": "alice",
                    "tickettype_id": 1,
                }
            ],
        )
    options = dict(mailbox_folder.modules[0].options)
    del options["username"]  # from Halo's record
    options.update(mode="halo-mailbox", halo_mailbox_id=record["id"])
    mailbox_folder.modules[0].options = options
    save_settings(mailbox_folder)
    return load_settings(mailbox_folder.folder)


def test_the_halo_mailbox_mode_hands_messages_to_halo_which_threads_them(
    emulator: Emulator, dovecot: imap_server.Dovecot, halo_mailbox: Settings, mail_folder: str
) -> None:
    dovecot.deliver(mail("Via Halo's mailbox", "Please thread me.\n").as_bytes(), mail_folder)
    result = run(halo_mailbox)
    assert result.outcome is Outcome.SUCCEEDED, result.error
    [ticket] = [t for t in records(emulator, "Tickets") if t["summary"] == "Via Halo's mailbox"]
    mailbox_id = halo_mailbox.modules[0].options["halo_mailbox_id"]
    assert (ticket["source"], ticket["mailboxid"]) == ("Email", mailbox_id)
    dovecot.deliver(mail(f"RE: x [ID:{ticket['id']}]", "A reply.\n").as_bytes(), mail_folder)
    assert run(halo_mailbox).counts.processed == 1
    [action] = records(emulator, "Actions", ticket_id=str(ticket["id"]))
    assert action["note"].startswith("A reply.")
    with HaloClient(connection_for(emulator), retry=FAST_RETRY) as halo:
        stored = halo.get(f"Mailbox/{mailbox_id}")
    assert stored.get("halointegrator_lastsync") and not stored.get("halointegrator_lasterror")


class LoseMailboxAnswer(httpx.HTTPTransport):
    """Hands the first message to Halo's mailbox, then loses Halo's answer."""

    def __init__(self) -> None:
        super().__init__()
        self.lost = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        if request.url.path.endswith("/Mail/Integrator/IMAP") and not self.lost:
            response.read()
            self.lost += 1
            raise httpx.ReadError("connection reset after the request was sent")
        return response


def test_the_halo_mailbox_mode_looks_up_a_lost_answer(
    emulator: Emulator, dovecot: imap_server.Dovecot, halo_mailbox: Settings, mail_folder: str
) -> None:
    dovecot.deliver(mail("Lost on the way back").as_bytes(), mail_folder)
    transport = LoseMailboxAnswer()
    runner = Runner(
        halo_mailbox,
        client_factory=lambda: HaloClient(halo_mailbox.halo, retry=FAST_RETRY, transport=transport),
    )
    runner.lease_settle_seconds = 0.1
    [first] = runner.run()
    assert transport.lost == 1 and first.outcome is Outcome.FAILED
    [second] = runner.run()
    assert second.outcome is Outcome.SUCCEEDED, second.error
    assert sum(t["summary"] == "Lost on the way back" for t in records(emulator, "Tickets")) == 1
    assert dovecot.uids(mail_folder) == []


def test_a_malformed_message_still_becomes_a_ticket(
    emulator: Emulator, dovecot: imap_server.Dovecot, mailbox_folder: Settings, mail_folder: str
) -> None:
    raw = (
        b"From: a@[\r\nSubject: =?utf-8?q?broken=ZZ?= help\r\nMessage-ID: <\r\n"
        b"Content-Type: text/plain; charset=x-unknown-9\r\n\r\ncaf\xc3\xa9 is down\r\n"
    )
    dovecot.deliver(raw, mail_folder)
    result = run(mailbox_folder)
    assert result.outcome is Outcome.SUCCEEDED, result.error
    [ticket] = [t for t in records(emulator, "Tickets") if "help" in t["summary"]]
    assert "café is down" in ticket["details"]
    assert dovecot.uids(mail_folder) == []


def test_a_renumbered_folder_does_not_send_its_messages_again(
    emulator: Emulator, dovecot: imap_server.Dovecot, mailbox_folder: Settings, mail_folder: str
) -> None:
    raw = mail("Before the restore").as_bytes()
    dovecot.deliver(raw, mail_folder)
    run(mailbox_folder)
    # A restore: the folder is recreated (new UIDVALIDITY) with the old message in it.
    dovecot.delete_folder(mail_folder)
    dovecot.deliver(raw, mail_folder)
    result = run(mailbox_folder)
    assert result.outcome is Outcome.SUCCEEDED and result.counts.processed == 1
    assert sum(t["summary"] == "Before the restore" for t in records(emulator, "Tickets")) == 1
    assert dovecot.uids(mail_folder) == []


def test_an_html_only_message_becomes_a_ticket_with_readable_text(
    emulator: Emulator, dovecot: imap_server.Dovecot, mailbox_folder: Settings, mail_folder: str
) -> None:
    message = mail("HTML only")
    message.set_content(
        "<html><body><p>Line&nbsp;one</p><p>Line two</p></body></html>", subtype="html"
    )
    dovecot.deliver(message.as_bytes(), mail_folder)
    assert run(mailbox_folder).outcome is Outcome.SUCCEEDED
    [ticket] = [t for t in records(emulator, "Tickets") if t["summary"] == "HTML only"]
    assert ticket["details"].startswith("Line one\n\nLine two")


def test_a_login_that_keeps_failing_is_loud_here_and_in_halo(
    emulator: Emulator, halo_mailbox: Settings
) -> None:
    halo_mailbox.modules[0].options["password"] = Secret("wrong-password-123")
    save_settings(halo_mailbox)
    settings = load_settings(halo_mailbox.folder)
    for _ in range(2):
        result = run(settings)
        assert result.outcome is Outcome.FAILED
        assert "authentication failed for alice" in (result.error or "")
        assert "wrong-password-123" not in (result.error or "")
    status = StateStore(settings.folder).status("inbox")
    assert status is not None and status.consecutive_failures == 2
    mailbox_id = settings.modules[0].options["halo_mailbox_id"]
    with HaloClient(connection_for(emulator), retry=FAST_RETRY) as halo:
        stored = halo.get(f"Mailbox/{mailbox_id}")
    assert "authentication failed for alice" in stored["halointegrator_lasterror"]

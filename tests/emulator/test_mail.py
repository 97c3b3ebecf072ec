"""POST /api/Mail/Integrator/IMAP threading (halo-api.md section 6)."""

from __future__ import annotations

import base64
from email.message import EmailMessage

from .conftest import HaloApi


def mime(subject: str, sender: str = "Ada <ada@example.org>", body: str = "Hello") -> str:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "support@example.org"
    message["Subject"] = subject
    message["Message-ID"] = "<abc@example.org>"
    message.set_content(body)
    return message.as_string()


def push(api: HaloApi, text: str, mailbox: int = 1):
    return api.post(
        "Mail/Integrator/IMAP",
        {"haloMailboxId": mailbox, "incomingEmailId": "42", "mimeMessage": text},
    )


def test_a_new_email_opens_a_ticket_for_the_matching_user(api: HaloApi) -> None:
    user = api.post("Users", [{"name": "Ada", "emailaddress": "ADA@example.org"}]).json()
    result = push(api, mime("Printer on fire", body="Please help")).json()
    assert result["created"] is True and result["action_id"] is None
    ticket = api.get(f"Tickets/{result['ticket_id']}").json()
    assert ticket["summary"] == "Printer on fire"
    assert ticket["details"] == "Please help"
    assert ticket["user_id"] == user["id"]
    assert ticket["mailboxid"] == 1


def test_a_reply_with_the_id_tag_becomes_an_action(api: HaloApi) -> None:
    first = push(api, mime("VPN down", sender="stranger@example.net")).json()
    assert api.get(f"Tickets/{first['ticket_id']}").json().get("user_id") is None
    reply = push(api, mime(f"RE: VPN down [ID:{first['ticket_id']}]", body="Still down")).json()
    assert reply == {
        "ticket_id": first["ticket_id"],
        "action_id": reply["action_id"],
        "created": False,
    }
    actions = api.get("Actions", ticket_id=first["ticket_id"]).json()["actions"]
    assert [a["note"] for a in actions] == ["Still down"]
    assert actions[0]["emailfrom"] == "ada@example.org"
    assert actions[0]["emailsubject"].startswith("RE: VPN down")
    assert api.get("Tickets").json()["record_count"] == 1


def test_a_tag_for_an_unknown_ticket_opens_a_new_ticket(api: HaloApi) -> None:
    result = push(api, mime("Hello [ID:999]")).json()
    assert result["created"] is True


def test_the_first_tag_of_an_existing_ticket_wins(api: HaloApi) -> None:
    ticket = push(api, mime("Laptop")).json()["ticket_id"]
    reply = push(api, mime(f"Fwd: [ID:999] Re: Laptop [ID:{ticket}]", body="more")).json()
    assert (reply["ticket_id"], reply["created"]) == (ticket, False)


def test_base64_mime_is_accepted(api: HaloApi) -> None:
    encoded = base64.b64encode(mime("Encoded").encode()).decode()
    result = push(api, encoded).json()
    assert api.get(f"Tickets/{result['ticket_id']}").json()["summary"] == "Encoded"


def test_the_tags_come_from_control(api: HaloApi) -> None:
    ticket = push(api, mime("First")).json()["ticket_id"]
    api.post("Control", {"email_start_tag": "{Ticket#", "email_end_tag": "}"})
    assert push(api, mime(f"Re [ID:{ticket}]")).json()["created"] is True
    assert push(api, mime(f"Re {{Ticket#{ticket}}}")).json()["created"] is False


def test_malformed_mime_or_mailbox_is_400(api: HaloApi) -> None:
    assert push(api, "this is not an email").status_code == 400
    assert push(api, "").status_code == 400
    assert push(api, mime("ok"), mailbox=77).status_code == 400
    assert api.get("Mail/Integrator/IMAP").status_code == 405
    assert api.get("Tickets").json()["record_count"] == 0

"""Reading incoming mail: every kind a mailbox sees, and broken ones, without an exception."""

from __future__ import annotations

from email.message import EmailMessage

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.sources.mail_message import html_to_text, parse_mail, ticket_id_in


def message(**headers: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = headers.pop("From", "Ann Smith <Ann.Smith@Example.com>")
    mail["To"] = headers.pop("To", "support@example.com")
    mail["Subject"] = headers.pop("Subject", "Printer on fire")
    mail["Message-ID"] = headers.pop("Message_ID", "<m1@example.com>")
    for name, value in headers.items():
        mail[name.replace("_", "-")] = value
    return mail


def test_a_plain_message() -> None:
    mail = message()
    mail.set_content("It is on fire.\nPlease help.")
    parsed = parse_mail(mail.as_bytes())
    assert (parsed.sender, parsed.sender_name) == ("ann.smith@example.com", "Ann Smith")
    assert (parsed.subject, parsed.message_id) == ("Printer on fire", "<m1@example.com>")
    assert parsed.text == "It is on fire.\nPlease help."
    assert parsed.to == ["support@example.com"] and parsed.attachments == []
    assert parsed.auto_reason == "" and parsed.dedupe_key == "<m1@example.com>"


def test_an_html_only_message_becomes_readable_text() -> None:
    mail = message()
    mail.set_content(
        "<html><head><style>p{}</style></head><body><p>Hello&nbsp;there</p>"
        "<ul><li>one</li><li>two</li></ul><script>x()</script></body></html>",
        subtype="html",
    )
    parsed = parse_mail(mail.as_bytes())
    assert parsed.text.splitlines() == ["Hello there", "", "- one", "- two"]
    assert "<p>" in parsed.html


def test_attachments_and_a_forwarded_message() -> None:
    mail = message()
    mail.set_content("see attached")
    mail.add_attachment(
        b"%PDF-1.4 ...", maintype="application", subtype="pdf", filename="../../etc/passwd.pdf"
    )
    inner = message(Subject="Original", Message_ID="<inner@x>")
    inner.set_content("the original")
    mail.add_attachment(inner)
    parsed = parse_mail(mail.as_bytes())
    names = [a.filename for a in parsed.attachments]
    assert names[0] == "passwd.pdf"  # no folders from a sender
    assert parsed.attachments[0].data == b"%PDF-1.4 ..."
    assert names[1].endswith(".eml") and b"the original" in parsed.attachments[1].data
    assert parsed.text == "see attached"


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"Auto_Submitted": "auto-replied"}, "Auto-Submitted: auto-replied"),
        ({"Precedence": "bulk"}, "Precedence: bulk"),
        ({"X_Autoreply": "yes"}, "X-Autoreply: yes"),
        ({"Auto_Submitted": "no"}, ""),
    ],
)
def test_auto_replies_are_recognised(headers: dict[str, str], reason: str) -> None:
    mail = message(**headers)
    mail.set_content("I am away")
    assert parse_mail(mail.as_bytes()).auto_reason == reason


def test_a_bounce_is_a_delivery_report() -> None:
    raw = (
        b"From: MAILER-DAEMON@example.com\r\nTo: support@example.com\r\nSubject: Undelivered\r\n"
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n"
        b"--b\r\nContent-Type: text/plain\r\n\r\nIt bounced.\r\n--b\r\n"
        b"Content-Type: message/delivery-status\r\n\r\nStatus: 5.0.0\r\n--b--\r\n"
    )
    parsed = parse_mail(raw)
    assert parsed.auto_reason.startswith("a delivery report")
    assert parsed.text == "It bounced."


@pytest.mark.parametrize(
    ("subject", "found"),
    [
        ("RE: Printer [ID:1234]", 1234),
        ("[id: 77 ] again", 77),
        ("no tag here", None),
        ("[ID:12345678901234567890123]", None),  # longer than any id: not a tag
    ],
)
def test_the_ticket_tag_in_a_subject(subject: str, found: int | None) -> None:
    assert ticket_id_in(subject) == found


def test_custom_tags() -> None:
    assert ticket_id_in("Re: help {#42#}", "{#", "#}") == 42
    assert ticket_id_in("Re: help [ID:42]", "", "") is None


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not an email at all",
        b"Message-ID: <\r\nFrom: a@[\r\nSubject: =?utf-8?q?broken=ZZ?=\r\n\r\nbody",
        b"From: <\x00@\xff>\r\nContent-Type: text/plain; charset=x-unknown-9\r\n\r\n\xe9t\xe9",
        b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n"
        b"Content-Type: message/rfc822\r\n\r\n",
        b"Subject: " + b"a" * 100_000 + b"\r\n\r\n" + b"b" * 300_000,
        b"Content-Transfer-Encoding: base64\r\n\r\n!!!not base64!!!",
    ],
)
def test_broken_messages_are_read_not_raised(raw: bytes) -> None:
    parsed = parse_mail(raw)
    assert isinstance(parsed.text, str) and len(parsed.text) <= 200_000
    assert parsed.dedupe_key


def test_an_unknown_charset_is_noted_and_the_text_still_read() -> None:
    raw = b"From: a@x.com\r\nContent-Type: text/plain; charset=x-unknown-9\r\n\r\ncaf\xc3\xa9"
    parsed = parse_mail(raw)
    assert parsed.text == "café"
    assert any("x-unknown-9" in defect for defect in parsed.defects)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_no_bytes_make_the_parser_raise(raw: bytes) -> None:
    parse_mail(raw)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=500))
def test_no_header_text_makes_the_parser_raise(value: str) -> None:
    header = value.replace("\r", " ").replace("\n", " ")
    raw = f"From: {header}\r\nSubject: {header}\r\nMessage-ID: {header}\r\n\r\nx".encode(
        "utf-8", errors="replace"
    )
    parse_mail(raw)


def test_html_to_text_of_nothing_and_of_hopeless_markup() -> None:
    assert html_to_text("") == ""
    assert "text" in html_to_text("<p>text<![CDATA[ <x")

"""Mailbox settings: the server address, and every problem named with its option."""

from __future__ import annotations

from typing import Any

import pytest

from core.settings.secrets import Secret
from core.sources.imap_errors import MailboxError
from core.sources.imap_types import (
    AuthKind,
    MailboxSettings,
    MailMessage,
    ServerAddress,
)


def settings(**values: Any) -> MailboxSettings:
    base: dict[str, Any] = {
        "server": "imaps://mail.example.com",
        "username": "helpdesk@example.com",
        "password": Secret("a-long-password"),
    }
    base.update(values)
    return MailboxSettings(**base)


@pytest.mark.parametrize(
    ("url", "host", "port", "use_ssl"),
    [
        ("imaps://mail.example.com", "mail.example.com", 993, True),
        ("imap://mail.example.com", "mail.example.com", 143, False),
        ("IMAPS://outlook.office365.com:993/", "outlook.office365.com", 993, True),
        ("imap://[::1]:1143", "::1", 1143, False),
    ],
)
def test_server_addresses(url: str, host: str, port: int, use_ssl: bool) -> None:
    address = ServerAddress.parse(url)
    assert (address.host, address.port, address.use_ssl) == (host, port, use_ssl)


@pytest.mark.parametrize(
    "url", ["https://mail.example.com", "imaps://", "imap://host:99999", "imaps://h/INBOX"]
)
def test_what_is_not_an_imap_address(url: str) -> None:
    with pytest.raises(MailboxError):
        ServerAddress.parse(url)


def test_loopback_and_display() -> None:
    assert ServerAddress.parse("imap://127.0.0.1:1").loopback
    assert ServerAddress.parse("imap://localhost").loopback
    assert not ServerAddress.parse("imap://10.0.0.1").loopback
    assert str(ServerAddress.parse("imap://[::1]:1143")) == "[::1]:1143"


def test_good_settings_have_no_problems() -> None:
    assert settings().problems() == []
    assert settings(server="imap://mail.example.com", starttls=True).problems() == []
    assert settings(server="imap://127.0.0.1:1143").problems() == []  # loopback: no network


def test_every_problem_is_named_with_its_option() -> None:
    problems = settings(
        server="imap://mail.example.com",
        username="",
        password=None,
        connect_timeout_seconds=0,
        max_message_bytes=0,
    ).problems()
    assert [problem.split(":")[0] for problem in problems] == [
        "username",
        "password",
        "connect_timeout_seconds",
        "max_message_bytes",
        "server",
    ]
    assert "unencrypted" in problems[-1]


def test_xoauth2_settings() -> None:
    oauth = settings(password=None, oauth_client_id="app", oauth_client_secret=Secret("s" * 20))
    assert oauth.auth_kind is AuthKind.XOAUTH2
    assert [p.split(":")[0] for p in oauth.problems()] == ["oauth_tenant_id"]
    tenant = settings(
        password=None,
        oauth_client_id="app",
        oauth_client_secret=Secret("s" * 20),
        oauth_tenant_id="contoso.onmicrosoft.com",
    )
    assert tenant.problems() == []
    assert tenant.token_url == (
        "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
    )
    plain_http = settings(
        password=None,
        oauth_client_id="app",
        oauth_client_secret=Secret("s" * 20),
        oauth_token_url="http://idp.example.com/token",
    )
    assert plain_http.problems() == [
        "oauth_token_url: must be https:// (the client secret goes there)."
    ]
    both = settings(oauth_client_id="app", oauth_client_secret=Secret("s" * 20))
    assert "not both" in both.problems()[0]


def test_starttls_with_imaps_is_a_problem() -> None:
    assert settings(starttls=True).problems()[0].startswith("starttls:")


def test_reprs_show_no_secret_and_no_message_body() -> None:
    shown = repr(settings()) + repr(MailMessage(3, 10, b"secret body"))
    assert "a-long-password" not in shown and "secret body" not in shown

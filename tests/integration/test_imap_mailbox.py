"""The mailbox client against a real Dovecot on loopback: STARTTLS and IMAPS with a
certificate from the test CA, password and XOAUTH2 logins (tokens from a local OAuth
endpoint, checked by Dovecot's oauth2 passdb), and folder work by UID."""

from __future__ import annotations

import re
import socket
import traceback
from collections.abc import Callable
from typing import Any

import pytest
from servers.dovecot import (
    OAUTH_BOB_CLIENT_ID,
    OAUTH_CLIENT_ID,
    OAUTH_CLIENT_SECRET,
    USERS,
    Dovecot,
    OAuthEndpoint,
    free_port,
    message,
)

from core.settings.secrets import Secret
from core.sources.imap_errors import (
    MailboxCredentialsError,
    MailboxError,
    MailboxFolderNotFoundError,
    MailboxTlsError,
    MailboxUnreachableError,
    OAuthTokenError,
)
from core.sources.imap_mailbox import ImapMailbox
from core.sources.imap_oauth import ClientCredentialsTokens
from core.sources.imap_types import DEFAULT_OAUTH_SCOPE, MailboxSettings

WRONG_PASSWORD = "Wr0ng-Mail-Pass!"
NO_MOVE = "IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UIDPLUS"
NO_UIDPLUS = "IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE"


def settings_for(target: Dovecot, **overrides: Any) -> MailboxSettings:
    """alice over IMAPS, verified against the test CA."""
    values: dict[str, Any] = {
        "server": target.imaps_url or target.url,
        "username": "alice",
        "password": Secret(USERS["alice"]),
        "ca_file": str(target.ca_file or ""),
    }
    values.update(overrides)
    return MailboxSettings(**values)


def oauth_settings(target: Dovecot, endpoint: OAuthEndpoint, **overrides: Any) -> MailboxSettings:
    values: dict[str, Any] = {
        "password": None,
        "oauth_client_id": OAUTH_CLIENT_ID,
        "oauth_client_secret": Secret(OAUTH_CLIENT_SECRET),
        "oauth_token_url": endpoint.token_url,
    }
    values.update(overrides)
    return settings_for(target, **values)


def connect_error(settings: MailboxSettings) -> MailboxError:
    with pytest.raises(MailboxError) as caught, ImapMailbox(settings):
        pass
    return caught.value


def everything_said(error: BaseException) -> str:
    """The error's message, repr and whole traceback with its chained causes."""
    return "".join(traceback.format_exception(error)) + repr(error)


# -- logging in ------------------------------------------------------------------------------


def test_a_password_login_over_imaps_reads_the_capabilities_after_login(dovecot: Dovecot) -> None:
    with ImapMailbox(settings_for(dovecot)) as mailbox:
        assert {"MOVE", "UIDPLUS"} <= mailbox.capabilities
        assert mailbox.select("INBOX").uidvalidity > 0


def test_a_password_login_over_starttls(dovecot: Dovecot) -> None:
    with ImapMailbox(settings_for(dovecot, server=dovecot.url, starttls=True)) as mailbox:
        assert mailbox.select("INBOX").name == "INBOX"


def test_a_wrong_password_says_who_and_where_but_never_the_password(dovecot: Dovecot) -> None:
    error = connect_error(settings_for(dovecot, password=Secret(WRONG_PASSWORD)))
    assert isinstance(error, MailboxCredentialsError)
    assert f"authentication failed for alice on 127.0.0.1:{dovecot.imaps_port}" in str(error)
    assert "AUTHENTICATIONFAILED" in str(error) and "XOAUTH2" in error.hint
    assert WRONG_PASSWORD not in everything_said(error)


def test_the_mailbox_and_its_settings_never_show_the_password(dovecot: Dovecot) -> None:
    settings = settings_for(dovecot)
    with ImapMailbox(settings) as mailbox:
        shown = repr(mailbox) + repr(settings) + repr(vars(mailbox)) + repr(vars(mailbox._imap))
    assert USERS["alice"] not in shown


# -- XOAUTH2 ---------------------------------------------------------------------------------


def test_xoauth2_with_a_client_credentials_token_reuses_the_token(
    dovecot: Dovecot, oauth_endpoint: OAuthEndpoint
) -> None:
    settings = oauth_settings(dovecot, oauth_endpoint)
    tokens = ClientCredentialsTokens.for_settings(settings)
    before = len(oauth_endpoint.token_requests)
    for _ in range(2):
        with ImapMailbox(settings, tokens=tokens) as mailbox:
            assert mailbox.select("INBOX").exists >= 0
    requests = oauth_endpoint.token_requests[before:]
    assert len(requests) == 1 and tokens.requests_sent == 1
    assert requests[0]["scope"] == DEFAULT_OAUTH_SCOPE
    assert requests[0]["client_id"] == OAUTH_CLIENT_ID


def test_a_revoked_cached_token_is_replaced_once(
    dovecot: Dovecot, oauth_endpoint: OAuthEndpoint
) -> None:
    settings = oauth_settings(dovecot, oauth_endpoint)
    tokens = ClientCredentialsTokens.for_settings(settings)
    with ImapMailbox(settings, tokens=tokens):
        pass
    oauth_endpoint.revoke_all()
    with ImapMailbox(settings, tokens=tokens) as mailbox:
        assert mailbox.select("INBOX")
    assert tokens.requests_sent == 2


def test_a_token_the_server_refuses_is_an_xoauth2_login_failure_with_its_reason(
    dovecot: Dovecot, oauth_endpoint: OAuthEndpoint
) -> None:
    # The app is granted bob's mailbox only: a valid token, refused for alice.
    settings = oauth_settings(dovecot, oauth_endpoint, oauth_client_id=OAUTH_BOB_CLIENT_ID)
    tokens = ClientCredentialsTokens.for_settings(settings)
    with pytest.raises(MailboxCredentialsError) as caught, ImapMailbox(settings, tokens=tokens):
        pass
    message_text = str(caught.value)
    assert f"authentication failed for alice on 127.0.0.1:{dovecot.imaps_port} with XOAUTH2" in (
        message_text
    )
    assert "server said:" in message_text and "IMAP.AccessAsApp" in caught.value.hint
    token = tokens.token()  # the cached one, which the server refused
    assert token not in everything_said(caught.value)
    assert OAUTH_CLIENT_SECRET not in everything_said(caught.value)


def test_a_wrong_client_secret_is_the_token_endpoints_refusal(
    dovecot: Dovecot, oauth_endpoint: OAuthEndpoint
) -> None:
    wrong = "not-the-client-secret-77"
    error = connect_error(
        oauth_settings(dovecot, oauth_endpoint, oauth_client_secret=Secret(wrong))
    )
    assert isinstance(error, OAuthTokenError) and error.status == 401
    assert "invalid_client: AADSTS7000215: Invalid client secret provided." in str(error)
    assert "Trace ID" not in str(error) and "oauth_client_secret" in error.hint
    assert wrong not in everything_said(error)


def test_an_unreachable_token_endpoint(dovecot: Dovecot, oauth_endpoint: OAuthEndpoint) -> None:
    url = f"http://127.0.0.1:{free_port()}/token"
    error = connect_error(oauth_settings(dovecot, oauth_endpoint, oauth_token_url=url))
    assert isinstance(error, OAuthTokenError)
    assert f"cannot reach the token endpoint {url}" in str(error) and "waited" in str(error)


# -- TLS and reachability --------------------------------------------------------------------


@pytest.mark.parametrize("starttls", [False, True])
def test_a_certificate_the_system_cas_do_not_trust_is_refused(
    dovecot: Dovecot, starttls: bool
) -> None:
    server = dovecot.url if starttls else dovecot.imaps_url
    error = connect_error(settings_for(dovecot, server=server, starttls=starttls, ca_file=""))
    assert isinstance(error, MailboxTlsError)
    assert "is not trusted by the system CAs" in str(error) and "Set ca_file" in error.hint


def test_a_certificate_for_another_name_is_refused(dovecot: Dovecot) -> None:
    error = connect_error(settings_for(dovecot, server=f"imaps://localhost:{dovecot.imaps_port}"))
    assert isinstance(error, MailboxTlsError) and "not valid for that name" in str(error)


def test_imaps_on_the_plain_port_is_a_tls_handshake_failure(dovecot: Dovecot) -> None:
    error = connect_error(settings_for(dovecot, server=f"imaps://127.0.0.1:{dovecot.port}"))
    assert isinstance(error, MailboxTlsError) and "handshake" in str(error)


def test_starttls_on_a_server_without_tls(make_dovecot: Callable[..., Dovecot]) -> None:
    server = make_dovecot(tls=False)
    error = connect_error(settings_for(server, server=server.url, starttls=True))
    assert isinstance(error, MailboxTlsError)
    assert str(error).startswith(f"127.0.0.1:{server.port} does not offer STARTTLS")


def test_a_closed_port_is_unreachable_with_host_port_and_time() -> None:
    port = free_port()
    settings = MailboxSettings(f"imaps://127.0.0.1:{port}", "alice", Secret("x" * 10))
    error = connect_error(settings)
    assert isinstance(error, MailboxUnreachableError)
    assert f"cannot reach the mail server at 127.0.0.1:{port} (" in str(error)
    assert re.search(r"\(Connection refused; waited \d+\.\d s\)", str(error))


def test_a_server_that_never_greets_times_out_after_the_connect_timeout() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        settings = MailboxSettings(
            f"imap://127.0.0.1:{port}", "alice", Secret("x" * 10), connect_timeout_seconds=0.3
        )
        error = connect_error(settings)
    assert isinstance(error, MailboxUnreachableError)
    waited = re.search(r"no answer in time; waited (\d+\.\d) s", str(error))
    assert waited and float(waited.group(1)) >= 0.3


# -- folders and messages --------------------------------------------------------------------


def test_list_fetch_and_move_by_uid_without_marking_anything_seen(
    dovecot: Dovecot, mail_folder: str
) -> None:
    raws = [message(f"number {n}") for n in range(3)]
    uids = [dovecot.deliver(raw, mail_folder) for raw in raws]
    processed = f"{mail_folder}-Processed"
    with ImapMailbox(settings_for(dovecot)) as mailbox:
        state = mailbox.select(mail_folder)
        assert state.exists == 3 and state.uid_next == uids[-1] + 1
        assert mailbox.list_uids() == uids
        assert mailbox.list_uids(above=uids[0]) == uids[1:]
        assert mailbox.list_uids(above=uids[-1]) == []
        fetched = mailbox.fetch(uids[1])
        assert fetched is not None and fetched.complete
        assert fetched.raw == raws[1] and fetched.size == len(raws[1])
        assert mailbox.ensure_folder(processed) is True
        assert mailbox.ensure_folder(processed) is False
        new_uid = mailbox.move(uids[1], processed)
        assert new_uid is not None
        assert not mailbox.contains(uids[1]) and mailbox.contains(uids[0])
        assert mailbox.fetch(uids[1]) is None
        assert mailbox.move(uids[1], processed) is None  # already moved: nothing happens
        assert mailbox.list_uids() == [uids[0], uids[2]]
    assert dovecot.uids(processed) == [new_uid]
    assert "\\Seen" not in dovecot.flags(uids[0], mail_folder)
    assert processed in dovecot.folders()


@pytest.mark.parametrize("capability", [NO_MOVE, NO_UIDPLUS], ids=["uidplus", "plain"])
def test_moving_on_servers_without_move(
    make_dovecot: Callable[..., Dovecot], capability: str
) -> None:
    server = make_dovecot(capability=capability)
    uids = [server.deliver(message(f"m{n}")) for n in range(2)]
    server.create_folder("Processed")
    with ImapMailbox(settings_for(server)) as mailbox:
        assert "MOVE" not in mailbox.capabilities
        mailbox.select("INBOX")
        new_uid = mailbox.move(uids[0], "Processed")
        assert not mailbox.contains(uids[0]) and mailbox.list_uids() == [uids[1]]
    assert server.uids("INBOX") == [uids[1]] and len(server.uids("Processed")) == 1
    if "UIDPLUS" in capability:
        assert new_uid == server.uids("Processed")[0]


def test_a_missing_folder_names_the_folders_that_exist(dovecot: Dovecot) -> None:
    with ImapMailbox(settings_for(dovecot)) as mailbox:
        with pytest.raises(MailboxFolderNotFoundError) as caught:
            mailbox.select("No Such Folder")
    assert f"'No Such Folder' does not exist on 127.0.0.1:{dovecot.imaps_port}" in str(caught.value)
    assert "Folders there: " in caught.value.hint and "INBOX" in caught.value.hint


def test_moving_to_a_missing_folder(dovecot: Dovecot, mail_folder: str) -> None:
    uid = dovecot.deliver(message("stays"), mail_folder)
    with ImapMailbox(settings_for(dovecot)) as mailbox:
        mailbox.select(mail_folder)
        with pytest.raises(MailboxFolderNotFoundError) as caught:
            mailbox.move(uid, "Missing/Target")
        assert mailbox.contains(uid)
    assert "'Missing/Target' does not exist" in str(caught.value)


def test_uidvalidity_changes_when_the_folder_is_recreated(
    dovecot: Dovecot, mail_folder: str
) -> None:
    first_uid = dovecot.deliver(message("before"), mail_folder)
    with ImapMailbox(settings_for(dovecot)) as mailbox:
        before = mailbox.select(mail_folder)
    dovecot.delete_folder(mail_folder)
    dovecot.create_folder(mail_folder)
    again_uid = dovecot.deliver(message("after"), mail_folder)
    with ImapMailbox(settings_for(dovecot)) as mailbox:
        after = mailbox.select(mail_folder)
        assert mailbox.list_uids() == [again_uid]
    assert after.uidvalidity != before.uidvalidity
    assert again_uid == first_uid  # the same UID, another message: only UIDVALIDITY tells


def test_a_folder_name_with_non_ascii_characters(dovecot: Dovecot, mail_folder: str) -> None:
    target = f"{mail_folder}/Erledigt – Größe ✓"
    uid = dovecot.deliver(message("umlauts"), mail_folder)
    with ImapMailbox(settings_for(dovecot)) as mailbox:
        assert mailbox.ensure_folder(target) is True
        assert target in mailbox.list_folders()
        mailbox.select(mail_folder)
        mailbox.move(uid, target)
        assert mailbox.select(target).exists == 1
    raw_name = f"{mail_folder}/Erledigt &IBM- Gr&APYA3w-e &JxM-"
    assert raw_name in dovecot.folders() and len(dovecot.uids(raw_name)) == 1


def test_folders_use_the_servers_hierarchy_delimiter(
    make_dovecot: Callable[..., Dovecot],
) -> None:
    server = make_dovecot(separator=".")
    uid = server.deliver(message("nested"))
    with ImapMailbox(settings_for(server)) as mailbox:
        assert mailbox.delimiter == "."
        assert mailbox.ensure_folder("Processed/2026") is True
        assert "Processed/2026" in mailbox.list_folders()
        mailbox.select("INBOX")
        mailbox.move(uid, "Processed/2026")
    assert "Processed.2026" in server.folders() and len(server.uids("Processed.2026")) == 1


def test_a_message_above_the_size_cap_comes_as_its_header_only(
    dovecot: Dovecot, mail_folder: str
) -> None:
    big = message("a big one", "x" * 76 + "\n") * 1  # header + one line
    big = big + (b"y" * 76 + b"\r\n") * 4000  # about 300 KB
    small = message("a small one")
    big_uid, small_uid = dovecot.deliver(big, mail_folder), dovecot.deliver(small, mail_folder)
    with ImapMailbox(settings_for(dovecot, max_message_bytes=100_000)) as mailbox:
        mailbox.select(mail_folder)
        capped, whole = mailbox.fetch(big_uid), mailbox.fetch(small_uid)
        assert mailbox.message_sizes([big_uid, small_uid]) == {
            big_uid: len(big),
            small_uid: len(small),
        }
    assert capped is not None and not capped.complete and capped.size == len(big)
    assert b"Subject: a big one" in capped.raw and len(capped.raw) < 1000
    assert capped.raw.endswith(b"\r\n\r\n") and "header only" in repr(capped)
    assert whole is not None and whole.complete and whole.raw == small
    with ImapMailbox(settings_for(dovecot, max_message_bytes=None)) as mailbox:
        mailbox.select(mail_folder)
        uncapped = mailbox.fetch(big_uid)
    assert uncapped is not None and uncapped.complete and uncapped.raw == big


def test_a_message_delivered_by_the_mta_is_listed(dovecot: Dovecot, mail_folder: str) -> None:
    dovecot.deliver_lda(message("through the LDA"), mail_folder)
    with ImapMailbox(settings_for(dovecot)) as mailbox:
        mailbox.select(mail_folder)
        (uid,) = mailbox.list_uids()
        fetched = mailbox.fetch(uid)
    assert fetched is not None and b"Subject: through the LDA" in fetched.raw


def test_commands_after_the_server_went_away_are_connection_errors(
    make_dovecot: Callable[..., Dovecot],
) -> None:
    server = make_dovecot()
    mailbox = ImapMailbox(settings_for(server))
    mailbox.connect()
    mailbox.select("INBOX")
    server.stop()
    with pytest.raises(MailboxUnreachableError) as caught:
        mailbox.list_uids()
    mailbox.close()
    assert f"lost the connection to 127.0.0.1:{server.imaps_port} while listing the messages" in (
        str(caught.value)
    )

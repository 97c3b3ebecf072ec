"""A throwaway Dovecot IMAP server on loopback, and a local OAuth endpoint for XOAUTH2.

Adapted from the environment notes' helpers (sections 6 and 9): a generated
``dovecot.conf`` in a temporary folder, users in a passwd-file, mail in Maildirs, started
``dovecot -F`` in the foreground so the test owns its PID, stopped with SIGTERM (about 1 s:
the master waits for its children). The anvil auth penalty is off, so a failed login does
not slow the next one down by seconds.

With a :class:`CertificateAuthority` it offers STARTTLS on ``url``'s port and IMAPS on
``imaps_url``, with a certificate for 127.0.0.1 only. With an :class:`OAuthEndpoint` it
also takes XOAUTH2 / OAUTHBEARER: Dovecot's oauth2 passdb asks the endpoint's
introspection URL whether a bearer token is active and whose it is.

As root, mail processes must not run as UID 0 (Dovecot refuses), so mail belongs to
``nobody`` (65534); as another user everything runs as that user.
"""

from __future__ import annotations

import base64
import grp
import imaplib
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from .certificates import CertificateAuthority
from .ports import free_port

HOST = "127.0.0.1"
USERS = {"alice": "alice-pw-7351", "bob": "bob-pw-2218"}
OAUTH_CLIENT_ID = "halo-integrator-test-app"
OAUTH_CLIENT_SECRET = "oauth-client-secret-5c1e"
# An app registration granted only bob's mailbox: its tokens are valid, but not for alice.
OAUTH_BOB_CLIENT_ID = "bob-only-test-app"
LDA = "/usr/lib/dovecot/dovecot-lda"

CONFIG = """\
instance_name = halo-test-imap-{port}
base_dir = {folder}/run
state_dir = {folder}/state
listen = {host}
protocols = imap
ssl = {ssl}
{ssl_files}
disable_plaintext_auth = no
auth_mechanisms = {mechanisms}
auth_failure_delay = 0
auth_verbose = yes
log_path = {folder}/dovecot.log
{process_users}
{capability}
mail_location = maildir:~/Maildir
passdb {{
  driver = passwd-file
  mechanisms = plain login
  args = scheme=PLAIN username_format=%u {folder}/users
}}
{oauth_passdb}
userdb {{
  driver = passwd-file
  args = username_format=%u {folder}/users
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = {host}
    port = {port}
  }}
  inet_listener imaps {{
    address = {host}
    port = {imaps_port}
  }}
}}
service anvil {{
  chroot =
  # no per-IP penalty after a failed login (it delays the next ones by 2..15 s)
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
namespace inbox {{
  inbox = yes
  separator = {separator}
}}
"""
OAUTH_PASSDB = """\
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {folder}/dovecot-oauth2.conf.ext
}}"""
OAUTH_CONFIG = """\
introspection_mode = post
introspection_url = {url}
username_attribute = username
active_attribute = active
active_value = true
timeout_msecs = 5000
"""


# -- the OAuth endpoint ----------------------------------------------------------------------


class OAuthEndpoint:
    """A client-credentials token endpoint plus the introspection endpoint Dovecot asks.

    ``POST token_url`` (form: grant_type=client_credentials, client_id, client_secret, scope;
    or HTTP Basic) issues a random token for the mailbox user the client is granted
    (``clients``: client id → (secret, user)). ``POST introspection_url`` (token=...)
    answers ``{"active": true, "username": user}`` for a live token, else
    ``{"active": false}``. ``token_requests`` records each token request (without the
    secret); :meth:`revoke_all` makes every issued token inactive; ``failing`` makes the
    introspection answer HTTP 500 (Dovecot then says "temporary failure").
    """

    token_path = "/tenant-test/oauth2/v2.0/token"
    introspection_path = "/introspect"

    def __init__(
        self,
        clients: Mapping[str, tuple[str, str]] | None = None,
        *,
        token_lifetime_seconds: int = 3600,
    ) -> None:
        self.clients = dict(
            clients
            or {
                OAUTH_CLIENT_ID: (OAUTH_CLIENT_SECRET, "alice"),
                OAUTH_BOB_CLIENT_ID: (OAUTH_CLIENT_SECRET, "bob"),
            }
        )
        self.token_lifetime_seconds = token_lifetime_seconds
        self.token_requests: list[dict[str, str]] = []
        self.introspections = 0
        self.failing = False
        self._tokens: dict[str, tuple[str, float]] = {}  # token -> (user, expires at)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((HOST, 0), _handler_for(self))
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.token_url = f"http://{HOST}:{self.port}{self.token_path}"
        self.introspection_url = f"http://{HOST}:{self.port}{self.introspection_path}"
        self._thread: threading.Thread | None = None

    def __enter__(self) -> OAuthEndpoint:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> OAuthEndpoint:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def issue(self, user: str, lifetime_seconds: float | None = None) -> str:
        """A live token for ``user``, as if issued to a client granted that mailbox."""
        token = secrets.token_urlsafe(24)
        lifetime = self.token_lifetime_seconds if lifetime_seconds is None else lifetime_seconds
        with self._lock:
            self._tokens[token] = (user, time.time() + lifetime)
        return token

    def revoke_all(self) -> None:
        with self._lock:
            self._tokens.clear()

    def owner(self, token: str) -> str | None:
        """The user of a live token, None for an unknown, revoked or expired one."""
        with self._lock:
            self.introspections += 1
            user, expires_at = self._tokens.get(token, ("", 0.0))
        return user if user and time.time() < expires_at else None

    def token_response(self, form: Mapping[str, str], basic: str) -> tuple[int, dict[str, Any]]:
        client_id, client_secret = form.get("client_id", ""), form.get("client_secret", "")
        if basic:
            client_id, _, client_secret = base64.b64decode(basic).decode().partition(":")
        with self._lock:
            self.token_requests.append(
                {key: value for key, value in form.items() if key != "client_secret"}
            )
        if form.get("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type"}
        known = self.clients.get(client_id)
        if known is None or known[0] != client_secret:
            return 401, {
                "error": "invalid_client",
                "error_description": "AADSTS7000215: Invalid client secret provided.\r\n"
                "Trace ID: 0000",
            }
        token = self.issue(known[1])
        return 200, {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": self.token_lifetime_seconds,
        }


def _handler_for(endpoint: OAuthEndpoint) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # Dovecot keeps the connection: always a length

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            form = dict(urllib.parse.parse_qsl(body))
            path = urllib.parse.urlsplit(self.path).path
            authorization = self.headers.get("Authorization", "")
            if path == endpoint.token_path:
                basic = authorization[6:] if authorization.startswith("Basic ") else ""
                self._reply(*endpoint.token_response(form, basic))
            elif path == endpoint.introspection_path:
                if endpoint.failing:
                    self._reply(500, {"error": "temporarily_unavailable"})
                    return
                user = endpoint.owner(form.get("token", ""))
                self._reply(200, {"active": True, "username": user} if user else {"active": False})
            else:
                self._reply(404, {"error": "not_found"})

        def _reply(self, status: int, body: Mapping[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


# -- Dovecot -----------------------------------------------------------------------------------


class Dovecot:
    """``with Dovecot(ca=ca, oauth=endpoint) as server:`` then log in to ``server.url``.

    ``url`` is plain IMAP (STARTTLS offered when TLS is on), ``imaps_url`` IMAPS, both on
    127.0.0.1. ``users`` maps user → password (every user also takes XOAUTH2 tokens when
    an OAuth endpoint is given). ``capability`` replaces the capability list the server
    announces after login (to test clients on servers without MOVE or UIDPLUS; Dovecot
    still accepts the commands). ``separator`` is the hierarchy delimiter.
    """

    host = HOST

    def __init__(
        self,
        *,
        ca: CertificateAuthority | None = None,
        users: Mapping[str, str] = USERS,
        oauth: OAuthEndpoint | None = None,
        capability: str | None = None,
        separator: str = "/",
    ) -> None:
        self.users = dict(users)
        self.folder = Path(tempfile.mkdtemp(prefix="dovecot-"))
        self.folder.chmod(0o755)  # login and auth processes run as dovenull / dovecot
        self.port = free_port()
        self.url = f"imap://{HOST}:{self.port}"
        self.imaps_port = free_port() if ca else 0
        self.imaps_url = f"imaps://{HOST}:{self.imaps_port}" if ca else None
        self.ca_file: Path | None = None
        self.separator = separator
        if os.geteuid() == 0:
            self.uid = self.gid = 65534  # mail processes may not run as root
            process_users = ""  # the defaults dovenull / dovecot
        else:
            self.uid, self.gid = os.getuid(), os.getgid()
            me, my_group = pwd.getpwuid(self.uid).pw_name, grp.getgrgid(self.gid).gr_name
            process_users = (
                f"default_login_user = {me}\ndefault_internal_user = {me}\n"
                f"default_internal_group = {my_group}"
            )
        ssl_files = ""
        if ca is not None:
            certificate = ca.issue(f"dovecot-{self.port}", ip_addresses=(HOST,))
            self.ca_file = certificate.ca_file
            ssl_files = (
                f"ssl_cert = <{certificate.certificate_file}\nssl_key = <{certificate.key_file}"
            )
        mechanisms = "plain login"
        oauth_passdb = ""
        if oauth is not None:
            mechanisms += " xoauth2 oauthbearer"
            oauth_passdb = OAUTH_PASSDB.format(folder=self.folder)
            (self.folder / "dovecot-oauth2.conf.ext").write_text(
                OAUTH_CONFIG.format(url=oauth.introspection_url)
            )
        self.config = self.folder / "dovecot.conf"
        self.config.write_text(
            CONFIG.format(
                host=HOST,
                folder=self.folder,
                port=self.port,
                imaps_port=self.imaps_port,
                ssl="yes" if ca else "no",
                ssl_files=ssl_files,
                mechanisms=mechanisms,
                process_users=process_users,
                capability=f"imap_capability = {capability}" if capability else "",
                oauth_passdb=oauth_passdb,
                separator=separator,
            )
        )
        self._write_users()
        self.process: subprocess.Popen[bytes] | None = None

    def _write_users(self) -> None:
        lines = []
        for user, password in self.users.items():
            home = self.folder / "mail" / user
            (home / "Maildir").mkdir(parents=True, exist_ok=True)
            lines.append(f"{user}:{{PLAIN}}{password}:{self.uid}:{self.gid}::{home}::\n")
        (self.folder / "users").write_text("".join(lines))
        if os.geteuid() == 0:
            for root, directories, files in os.walk(self.folder / "mail"):
                for name in [root, *(os.path.join(root, n) for n in directories + files)]:
                    os.chown(name, self.uid, self.gid)

    def __enter__(self) -> Dovecot:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self, timeout_seconds: float = 10) -> Dovecot:
        """Start Dovecot and wait for its greeting; on any failure stop what was started."""
        try:
            return self._start(timeout_seconds)
        except BaseException:
            self.stop()
            raise

    def _start(self, timeout_seconds: float) -> Dovecot:
        self.process = subprocess.Popen(
            ["dovecot", "-F", "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + timeout_seconds
        while True:
            if self.process.poll() is not None:
                assert self.process.stderr is not None
                raise RuntimeError(
                    "dovecot exited: " + self.process.stderr.read().decode() + self.log()
                )
            try:
                # A whole greeting and LOGOUT: a bare connect-and-close makes the stop take 6 s.
                with socket.create_connection((HOST, self.port), 1) as probe:
                    if probe.makefile("rb").readline().startswith(b"* OK"):
                        probe.sendall(b"a LOGOUT\r\n")
                        return self
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process is not None and self.process.stderr is not None:
            self.process.stderr.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def log(self) -> str:
        try:
            return (self.folder / "dovecot.log").read_text(errors="replace")
        except OSError:
            return ""

    # -- the mailbox from a test's side (names as the server spells them: modified UTF-7) ----

    def admin(self, user: str = "alice") -> imaplib.IMAP4:
        """An imaplib connection logged in as ``user`` over plain IMAP, for a test to look
        and change; use it as ``with server.admin() as imap:`` (that logs out)."""
        imap = imaplib.IMAP4(HOST, self.port, timeout=10)
        imap.login(user, self.users[user])
        return imap

    def deliver(
        self, raw: bytes, folder: str = "INBOX", *, user: str = "alice", seen: bool = False
    ) -> int:
        """APPEND ``raw`` to ``folder`` (created when missing); returns the message's UID."""
        with self.admin(user) as imap:
            imap.create(_quoted(folder))  # NO [ALREADYEXISTS] when it is there: fine
            flags = r"(\Seen)" if seen else None
            typ, data = imap.append(_quoted(folder), flags, None, raw)
            assert typ == "OK", data
            found = re.search(rb"APPENDUID \d+ (\d+)", data[0] or b"")
            assert found, data
            return int(found.group(1))

    def deliver_lda(self, raw: bytes, folder: str = "INBOX", *, user: str = "alice") -> None:
        """Deliver ``raw`` as the MTA would, through dovecot-lda."""
        subprocess.run(
            [LDA, "-c", str(self.config), "-d", user, "-m", folder],
            input=raw,
            check=True,
            capture_output=True,
        )

    def create_folder(self, folder: str, *, user: str = "alice") -> None:
        with self.admin(user) as imap:
            typ, data = imap.create(_quoted(folder))
            assert typ == "OK", data

    def delete_folder(self, folder: str, *, user: str = "alice") -> None:
        with self.admin(user) as imap:
            typ, data = imap.delete(_quoted(folder))
            assert typ == "OK", data

    def folders(self, *, user: str = "alice") -> list[str]:
        """Every folder's raw name."""
        with self.admin(user) as imap:
            _, data = imap.list('""', '"*"')
        names = []
        for line in data:
            assert isinstance(line, bytes)
            name = line.rsplit(b' "' + self.separator.encode() + b'" ', 1)[-1]
            names.append(name.strip(b'"').decode())
        return names

    def uids(self, folder: str = "INBOX", *, user: str = "alice") -> list[int]:
        """The UIDs in ``folder`` not flagged \\Deleted."""
        with self.admin(user) as imap:
            typ, _ = imap.select(_quoted(folder), readonly=True)
            assert typ == "OK", folder
            typ, data = imap.uid("SEARCH", "UNDELETED")
        return sorted(int(uid) for uid in (data[0] or b"").split())

    def flags(self, uid: int, folder: str = "INBOX", *, user: str = "alice") -> str:
        with self.admin(user) as imap:
            imap.select(_quoted(folder), readonly=True)
            _, data = imap.uid("FETCH", str(uid), "(FLAGS)")
        return str(data[0])


def _quoted(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def message(subject: str, body: str = "Hello.\n", *, sender: str = "hr@example.com") -> bytes:
    """A small text/plain message with a unique Message-ID."""
    return (
        f"From: {sender}\r\nTo: alice@example.com\r\nSubject: {subject}\r\n"
        f"Message-ID: <{secrets.token_hex(8)}@example.com>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        + body.replace("\n", "\r\n")
    ).encode()

"""One tray per settings folder: a second start asks the first one to show its settings.

Two trays on one folder would run every module twice (the module locks would skip one of
each pair, but the admin would see two icons disagreeing). The first tray holds
``tray.lock`` (an OS file lock, released if the process dies) and listens on a loopback TCP
port written to ``tray.port`` with a random token; a second start finds the lock taken,
sends ``show-settings <token>`` to that port and exits. Loopback TCP works the same on
Windows and Linux, and the token keeps other local users' processes from poking the tray.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import socket
import threading
from collections.abc import Callable
from pathlib import Path

from filelock import FileLock, Timeout

from core.private_files import (
    PRIVATE_FILE_MODE,
    create_private_file,
    private_folder,
    write_private_text,
)

log = logging.getLogger("halo_integrator.tray.single_instance")

LOCK_FILE_NAME = "tray.lock"
PORT_FILE_NAME = "tray.port"
SHOW_SETTINGS = "show-settings"
CONNECT_TIMEOUT_SECONDS = 3.0
# A connection that has not sent its request by then is dropped: each one has its own
# thread, so an idle one (a port scanner, a stuck client) never delays a real request.
RECEIVE_TIMEOUT_SECONDS = 0.5
REQUEST_MAX_BYTES = 256


class SingleInstance:
    """``acquire()`` True: we are the first tray, ``listen(callback)``; False: ask the first."""

    def __init__(self, settings_folder: Path) -> None:
        self.folder = Path(settings_folder)
        self._lock = FileLock(str(self.folder / LOCK_FILE_NAME), timeout=0, mode=PRIVATE_FILE_MODE)
        self._server: socket.socket | None = None
        self._token = secrets.token_hex(16)

    def acquire(self) -> bool:
        """True when this is the first tray on the folder (``tray.lock`` is owner-only)."""
        private_folder(self.folder)
        create_private_file(self.folder / LOCK_FILE_NAME)  # whatever the umask
        try:
            self._lock.acquire()
        except Timeout:
            return False
        return True

    def listen(self, on_show_settings: Callable[[], None]) -> None:
        """Accept requests from later starts on a daemon thread (owned by this object)."""
        server = socket.create_server(("127.0.0.1", 0))
        self._server = server
        port = server.getsockname()[1]
        write_private_text(self.folder / PORT_FILE_NAME, f"{port} {self._token}\n")
        threading.Thread(
            target=self._accept,
            args=(server, on_show_settings),
            name="single-instance",
            daemon=True,
        ).start()

    def _accept(self, server: socket.socket, on_show_settings: Callable[[], None]) -> None:
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return  # closed by release()
            threading.Thread(
                target=self._answer,
                args=(connection, on_show_settings),
                name="single-instance-request",
                daemon=True,
            ).start()

    def _answer(self, connection: socket.socket, on_show_settings: Callable[[], None]) -> None:
        """Serve one request: show the settings if it carries our token, else drop it."""
        with connection:
            connection.settimeout(RECEIVE_TIMEOUT_SECONDS)
            try:
                request = _read_line(connection).split()
                if not self._is_ours(request):
                    log.warning("Refused a request on the tray's port without the right token")
                    return
                log.info("A second start asked for the settings window")
                on_show_settings()
                connection.sendall(b"ok\n")
            except OSError:
                return  # idle too long, or gone before the answer

    def _is_ours(self, request: list[bytes]) -> bool:
        """``show-settings <token>`` with our token, compared in constant time."""
        expected = [SHOW_SETTINGS.encode("ascii"), self._token.encode("ascii")]
        return (
            len(request) == 2
            and request[0] == expected[0]
            and hmac.compare_digest(request[1], expected[1])
        )

    def ask_first_instance(self) -> bool:
        """Ask the running tray to show its settings; False when it did not answer."""
        try:
            port_text, token = (self.folder / PORT_FILE_NAME).read_text("ascii").split()
            with socket.create_connection(
                ("127.0.0.1", int(port_text)), timeout=CONNECT_TIMEOUT_SECONDS
            ) as connection:
                connection.sendall(f"{SHOW_SETTINGS} {token}\n".encode("ascii"))
                return connection.recv(16).startswith(b"ok")
        except (OSError, ValueError):
            return False

    def release(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
            (self.folder / PORT_FILE_NAME).unlink(missing_ok=True)
        if self._lock.is_locked:
            self._lock.release()


def _read_line(connection: socket.socket) -> bytes:
    """Read up to a newline (or ``REQUEST_MAX_BYTES``); the socket's timeout bounds the wait."""
    data = b""
    while b"\n" not in data and len(data) < REQUEST_MAX_BYTES:
        chunk = connection.recv(REQUEST_MAX_BYTES - len(data))
        if not chunk:
            break
        data += chunk
    return data

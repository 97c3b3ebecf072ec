"""One tray per settings folder: a second start asks the first one to show its settings.

Two trays on one folder would run every module twice (the module locks would skip one of
each pair, but the admin would see two icons disagreeing). The first tray holds
``tray.lock`` (an OS file lock, released if the process dies) and listens on a loopback TCP
port written to ``tray.port`` with a random token; a second start finds the lock taken,
sends ``show-settings <token>`` to that port and exits. Loopback TCP works the same on
Windows and Linux, and the token keeps other local users' processes from poking the tray.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import socket
import threading
from collections.abc import Callable
from pathlib import Path

from filelock import FileLock, Timeout

log = logging.getLogger("halo_integrator.tray.single_instance")

LOCK_FILE_NAME = "tray.lock"
PORT_FILE_NAME = "tray.port"
SHOW_SETTINGS = "show-settings"
CONNECT_TIMEOUT_SECONDS = 3.0


class SingleInstance:
    """``acquire()`` True: we are the first tray, ``listen(callback)``; False: ask the first."""

    def __init__(self, settings_folder: Path) -> None:
        self.folder = Path(settings_folder)
        self._lock = FileLock(str(self.folder / LOCK_FILE_NAME), timeout=0)
        self._server: socket.socket | None = None
        self._token = secrets.token_hex(16)

    def acquire(self) -> bool:
        self.folder.mkdir(parents=True, exist_ok=True)
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
        port_file = self.folder / PORT_FILE_NAME
        port_file.write_text(f"{port} {self._token}\n", encoding="ascii")
        with contextlib.suppress(OSError):
            port_file.chmod(0o600)
        threading.Thread(
            target=self._serve,
            args=(server, on_show_settings),
            name="single-instance",
            daemon=True,
        ).start()

    def _serve(self, server: socket.socket, on_show_settings: Callable[[], None]) -> None:
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return  # closed by release()
            with connection:
                connection.settimeout(CONNECT_TIMEOUT_SECONDS)
                try:
                    request = connection.recv(256).decode("ascii", "replace").split()
                except OSError:
                    continue
                if request == [SHOW_SETTINGS, self._token]:
                    log.info("A second start asked for the settings window")
                    on_show_settings()
                    connection.sendall(b"ok\n")

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

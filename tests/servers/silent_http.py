"""A server that accepts every connection and never sends a byte: a hung proxy or a stuck
Halo. A client pointed at it waits out its timeouts and retries until its deadline."""

from __future__ import annotations

import socket
import threading


class SilentServer:
    """Listens on a free loopback port (``url``) until ``close()``."""

    def __init__(self) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        self.connections: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._socket.accept()
            except OSError:
                return
            self.connections.append(connection)

    def close(self) -> None:
        self._socket.close()
        for connection in self.connections:
            connection.close()

"""`GraphStandIn`: the Python facade that runs the Graph stand-in on a background thread.

The same shape as the Halo emulator: ``with GraphStandIn() as graph: ...``; the server has
its own event loop on its own thread, and tests talk to it over a real loopback socket. The
directory, the token issuer and the faults are thread-safe, so the helpers change them
directly from the test's thread.
"""

from __future__ import annotations

import secrets
import socket
import uuid
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

from aiohttp import web
from cryptography import x509

from graph_standin.directory import Directory
from graph_standin.faults import GraphFaults
from graph_standin.server import GraphServer
from graph_standin.tokens import ALL_PERMISSIONS, AppRegistration, TokenIssuer
from halo_emulator.background import BackgroundServer


class GraphStandIn:
    """A local Entra ID token endpoint and Graph API for one tenant and one app registration.

    ``login_url`` and ``graph_url`` are the same server (``http://127.0.0.1:<port>``), as the
    client's ``login_url`` / ``graph_url`` options expect them.
    """

    def __init__(
        self,
        *,
        tenant_id: str | None = None,
        domain: str = "contoso.onmicrosoft.com",
        client_id: str | None = None,
        client_secret: str | None = None,
        certificates: Iterable[x509.Certificate | str | Path] = (),
        permissions: Iterable[str] = ALL_PERMISSIONS,
        changed_properties_only: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.tenant_id = tenant_id or str(uuid.uuid4())
        self.domain = domain
        self.client_id = client_id or str(uuid.uuid4())
        self.client_secret = client_secret or secrets.token_urlsafe(30)
        self.host = host
        self.port = port
        self.directory = Directory(domain=domain, changed_properties_only=changed_properties_only)
        self.faults = GraphFaults()
        self.app = AppRegistration(
            self.client_id,
            secrets={self.client_secret},
            certificates=[_load_certificate(item) for item in certificates],
            permissions=frozenset(permissions),
        )
        self._issuer: TokenIssuer | None = None
        self._server: GraphServer | None = None
        self._background = BackgroundServer("Graph stand-in")

    @property
    def login_url(self) -> str:
        """Where Entra's token endpoint lives: ``{login_url}/{tenant}/oauth2/v2.0/token``."""
        return f"http://{self.host}:{self.port}"

    @property
    def graph_url(self) -> str:
        """Graph's root: the API is ``{graph_url}/v1.0``."""
        return f"http://{self.host}:{self.port}"

    @property
    def token_url(self) -> str:
        """This tenant's token endpoint (the audience a client assertion must name)."""
        return f"{self.login_url}/{self.tenant_id}/oauth2/v2.0/token"

    def start(self) -> GraphStandIn:
        """Start serving; returns once the socket listens. Raises RuntimeError on failure."""
        if self._background.running:
            raise RuntimeError("the Graph stand-in is already running")
        listener = socket.create_server((self.host, self.port))
        self.port = listener.getsockname()[1]
        self._issuer = TokenIssuer(self.tenant_id, self.token_url)
        self._issuer.apps[self.client_id] = self.app
        self._server = GraphServer(
            self.directory,
            self._issuer,
            self.faults,
            self.graph_url,
            {self.tenant_id.lower(), self.domain.lower()},
        )
        self._background.start(listener, self._build_app)
        return self

    def stop(self) -> None:
        """Stop serving; the directory stays readable."""
        self._background.stop()

    def __enter__(self) -> GraphStandIn:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # --- test helpers ---

    def add_user(self, **properties: Any) -> dict[str, Any]:
        """Add a user (see Directory.add_user); returns it with its id."""
        return self.directory.add_user(**properties)

    def add_users(self, count: int, **common: Any) -> list[dict[str, Any]]:
        """Add ``count`` users named user1, user2, ...; returns them."""
        start = len(self.directory.users()) + 1
        return [
            self.directory.add_user(
                onPremisesSamAccountName=f"user{number}",
                displayName=f"User {number}",
                givenName="User",
                surname=str(number),
                **common,
            )
            for number in range(start, start + count)
        ]

    def update_user(self, user_id: str, **changes: Any) -> dict[str, Any]:
        """Change a user's properties; it appears in the next delta round."""
        return self.directory.update_user(user_id, **changes)

    def disable_user(self, user_id: str) -> dict[str, Any]:
        """accountEnabled becomes false."""
        return self.directory.disable_user(user_id)

    def delete_user(self, user_id: str, *, permanently: bool = False) -> None:
        """Delete a user (``@removed`` reason ``changed``, or ``deleted`` when permanent)."""
        self.directory.delete_user(user_id, permanently=permanently)

    def add_group(self, display_name: str, members: Iterable[str] = ()) -> str:
        """Add a group of these user ids; returns its id."""
        return self.directory.add_group(display_name, members)

    def set_group_members(self, group_id: str, members: Iterable[str]) -> None:
        """Replace a group's members."""
        self.directory.set_group_members(group_id, members)

    def expire_delta_tokens(self) -> None:
        """Every delta/skip token issued so far answers 410 syncStateNotFound."""
        self.directory.expire_delta_tokens()

    def expire_access_tokens(self) -> None:
        """Every access token issued so far answers 401 InvalidAuthenticationToken."""
        self._running_server().issuer.expire_all()

    def throttle_next(
        self, count: int, *, status: int = 429, retry_after_seconds: int | None = 1
    ) -> None:
        """The next ``count`` Graph requests answer 429 (or 503) with this Retry-After."""
        self.faults.throttle_next(count, status=status, retry_after_seconds=retry_after_seconds)

    def set_permissions(self, permissions: Iterable[str]) -> None:
        """The application permissions tokens issued from now on carry (e.g. none → 403)."""
        self.app.permissions = frozenset(permissions)

    def add_certificate(self, certificate: x509.Certificate | str | Path) -> None:
        """Register one more certificate credential (an x509 object, PEM text or a PEM file)."""
        self.app.certificates.append(_load_certificate(certificate))

    def request_counts(self) -> dict[str, int]:
        """Requests answered so far by route and status: ``{"users/delta 200": 3, ...}``."""
        return {
            f"{name} {status}": count
            for (name, status), count in sorted(self._running_server().requests.items())
        }

    def reset_request_counts(self) -> None:
        """Zero the request counters."""
        self._running_server().requests.clear()

    # --- internals ---

    def _running_server(self) -> GraphServer:
        if self._server is None:
            raise RuntimeError("the Graph stand-in is not running; call start() first")
        return self._server

    async def _build_app(self) -> web.Application:
        return self._running_server().create_app()


def _load_certificate(item: x509.Certificate | str | Path) -> x509.Certificate:
    if isinstance(item, x509.Certificate):
        return item
    text = Path(item).read_bytes() if isinstance(item, Path) else item.encode()
    return x509.load_pem_x509_certificate(text)

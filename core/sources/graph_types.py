"""What the Graph client is configured with, and what a delta round yields.

A delta round yields :class:`GraphUser` for a user added or changed (every selected property)
and :class:`RemovedUser` for one deleted or moved out of scope; the round's ``delta_link``
is the checkpoint for the next run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.settings.secrets import Secret

DEFAULT_LOGIN_URL = "https://login.microsoftonline.com"
DEFAULT_GRAPH_URL = "https://graph.microsoft.com"
# Graph's largest page for directory objects; fewer pages means fewer throttled requests.
MAX_PAGE_SIZE = 999
USER_SELECT = (
    "id",
    "displayName",
    "givenName",
    "surname",
    "mail",
    "userPrincipalName",
    "accountEnabled",
    "jobTitle",
    "department",
    "companyName",
    "officeLocation",
    "businessPhones",
    "mobilePhone",
    "onPremisesSamAccountName",
)


@dataclass(frozen=True)
class GraphSettings:
    """One app registration in one tenant, and how long to wait for Graph.

    Exactly one credential: ``client_secret``, or ``certificate_path`` (a PEM file holding the
    unencrypted private key and the certificate uploaded to the app).
    """

    tenant_id: str
    client_id: str
    client_secret: Secret | None = None
    certificate_path: Path | None = None
    login_url: str = DEFAULT_LOGIN_URL
    graph_url: str = DEFAULT_GRAPH_URL
    page_size: int = MAX_PAGE_SIZE
    connect_timeout_seconds: float = 15.0
    read_timeout_seconds: float = 60.0
    max_throttle_wait_seconds: float = 600.0
    """The longest a run waits out 429/503 answers in total before it gives up."""

    @property
    def token_url(self) -> str:
        """The tenant's v2.0 token endpoint (also a client assertion's audience)."""
        return f"{self.login_url.rstrip('/')}/{self.tenant_id}/oauth2/v2.0/token"

    @property
    def scope(self) -> str:
        """Client credentials ask for every application permission granted: ``/.default``."""
        return f"{self.graph_url.rstrip('/')}/.default"

    @property
    def api_url(self) -> str:
        """Graph's v1.0 root."""
        return f"{self.graph_url.rstrip('/')}/v1.0"


@dataclass(frozen=True)
class GraphUser:
    """A user added or changed: its object id and the properties Graph sent. In a later round
    Graph promises only the changed ones, so a property missing here is unchanged, not empty."""

    id: str
    properties: Mapping[str, Any] = field(default_factory=dict)

    @property
    def enabled(self) -> bool | None:
        """accountEnabled as sent; None when this entry does not carry it (not selected, or a
        later round that sends changed properties only): keep what is known then."""
        value = self.properties.get("accountEnabled")
        return value if isinstance(value, bool) else None


@dataclass(frozen=True)
class RemovedUser:
    """A user gone from the round's scope: ``reason`` is ``changed`` (soft-deleted, restorable
    for 30 days) or ``deleted`` (permanently)."""

    id: str
    reason: str

    @property
    def permanently(self) -> bool:
        """True when Entra deleted the user for good."""
        return self.reason == "deleted"


DeltaItem = GraphUser | RemovedUser


@dataclass(frozen=True)
class DeltaPage:
    """One page of a round; exactly one of ``next_link`` / ``delta_link`` is set."""

    items: tuple[DeltaItem, ...]
    next_link: str | None
    delta_link: str | None


def delta_item(entry: Mapping[str, Any]) -> DeltaItem:
    """A delta entry as GraphUser or RemovedUser; raises ValueError without an id."""
    object_id = entry.get("id")
    if not isinstance(object_id, str) or not object_id:
        raise ValueError("a delta entry without an id")
    removed = entry.get("@removed")
    if isinstance(removed, Mapping):
        return RemovedUser(object_id, str(removed.get("reason", "changed")))
    properties = {name: value for name, value in entry.items() if not name.startswith("@")}
    return GraphUser(object_id, properties)

"""A lease in Halo on an integration's own record, so two agents never sync one source at once.

Module locks keep two processes on one settings folder apart; they cannot see a second
folder or a second jump box configured for the same AD connection or mailbox. Both would
find nothing in Halo and both would create every record. The integration's Halo record
(an ``LDAPConnection``, a ``Mailbox`` ...) is what both agents share, so the claim lives
there: a holder and an expiry in one text field, written, then read back after a pause so
that of two agents writing at once only the last one proceeds.

The lease expires by itself when its holder dies (killed, jump box off); the same instance
on the same host takes over its own stale lease at once, since its module lock proves the
previous holder is gone. Halo-shared records (``Control``: CSV, Lansweeper) have no lease:
there the twins a second agent makes are reported by the engine instead.
"""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.errors import HaloError, ModuleError
from core.halo.client import HaloClient
from core.modules.base import StatusRecord

log = logging.getLogger("halo_integrator.lease")

LEASE_SECONDS = 300.0
# Long enough for a second agent's write, sent at the same moment, to have landed.
SETTLE_SECONDS = 2.0


class LeaseHeldError(ModuleError):
    """Another agent holds the lease on this integration's Halo record."""

    title = "Run by another agent"


@dataclass(frozen=True)
class LeaseHolder:
    """Who holds a lease: the instance (its Id in appsettings.json), where it runs, a token."""

    instance_id: str
    host: str
    folder: str
    token: str

    @classmethod
    def for_run(cls, instance_id: str, folder: str) -> LeaseHolder:
        return cls(instance_id, socket.gethostname(), folder, f"{time.time_ns():x}")


class SourceLease:
    """Acquire before a run writes, renew at safe points, release at the end."""

    def __init__(
        self,
        client: HaloClient,
        record: StatusRecord,
        record_id: int,
        holder: LeaseHolder,
        *,
        lease_seconds: float = LEASE_SECONDS,
        settle_seconds: float = SETTLE_SECONDS,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.record = record
        self.record_id = record_id
        self.holder = holder
        self.lease_seconds = lease_seconds
        self.settle_seconds = settle_seconds
        self.clock = clock
        self.sleep = sleep
        self.field = f"{record.field_prefix}lease"
        self._renewed_at = 0.0
        self.held = False

    @property
    def path(self) -> str:
        return f"{self.record.endpoint}/{self.record_id}"

    def acquire(self) -> None:
        """Take the lease or raise LeaseHeldError naming the holder and until when."""
        current = self._read()
        if current and not self._may_take(current):
            raise self._held_by(current)
        self._write(self.clock() + self.lease_seconds)
        self.sleep(self.settle_seconds)
        current = self._read()
        if not current or current.get("token") != self.holder.token:
            if not current:
                # Halo does not keep the field (an unknown field on a real Halo): no lease.
                log.warning(
                    "Halo's %s does not keep %s; running without a lease", self.path, self.field
                )
                return
            raise self._held_by(current)
        self.held = True
        self._renewed_at = self.clock()

    def renew_if_due(self) -> None:
        """Extend the lease a third of the way through it; stop if someone else took it."""
        if not self.held or self.clock() - self._renewed_at < self.lease_seconds / 3:
            return
        current = self._read()
        if current and current.get("token") != self.holder.token:
            self.held = False
            raise self._held_by(current, taken_over=True)
        self._write(self.clock() + self.lease_seconds)
        self._renewed_at = self.clock()

    def release(self) -> None:
        if not self.held:
            return
        self.held = False
        try:
            current = self._read()
            if current and current.get("token") == self.holder.token:
                self.client.post(self.record.endpoint, [{"id": self.record_id, self.field: ""}])
        except HaloError as exc:  # it expires by itself
            log.warning("Could not release the lease on %s: %s", self.path, exc)

    # -- helpers ---------------------------------------------------------------------------

    def _may_take(self, current: dict[str, Any]) -> bool:
        expired = float(current.get("until") or 0) <= self.clock()
        ours = (
            current.get("instance_id") == self.holder.instance_id
            and current.get("host") == self.holder.host
        )
        return expired or ours

    def _read(self) -> dict[str, Any] | None:
        record = self.client.get(self.path)
        text = record.get(self.field) if isinstance(record, dict) else None
        if not text or not isinstance(text, str):
            return None
        try:
            value = json.loads(text)
        except ValueError:
            return None
        return value if isinstance(value, dict) else None

    def _write(self, until: float) -> None:
        value = {
            "instance_id": self.holder.instance_id,
            "host": self.holder.host,
            "folder": self.holder.folder,
            "token": self.holder.token,
            "until": round(until, 3),
        }
        body = {"id": self.record_id, self.field: json.dumps(value)}
        self.client.post(self.record.endpoint, [body], idempotent=True)

    def _held_by(self, current: dict[str, Any], *, taken_over: bool = False) -> LeaseHeldError:
        until = time.strftime("%H:%M:%S", time.localtime(float(current.get("until") or 0)))
        who = f"{current.get('host', '?')} ({current.get('folder', '?')})"
        what = "took over" if taken_over else "holds"
        return LeaseHeldError(
            f"Another agent, on {who}, {what} the lease on Halo's {self.path} until {until}; "
            "this run stopped before writing anything more.",
            hint="Two settings folders or jump boxes are configured for one integration: "
            "keep one. A lease of an agent that died expires by itself.",
        )

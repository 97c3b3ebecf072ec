"""Reporting a run back to Halo: Last Sync / Last Error, and per-record integration errors.

Halo's Integrator page shows each integration's ``halointegrator_lastsync`` and
``halointegrator_lasterror``; keeping them current is what lets a Halo admin see a dead jump
box from the cloud side. A failure to report is logged and never fails the run itself.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from core.errors import HaloError
from core.outcomes import RecordFailure

if TYPE_CHECKING:  # a module that reports (powershell) is imported when settings are read
    from core.halo.client import HaloClient
    from core.modules.base import StatusRecord

log = logging.getLogger("halo_integrator.status")

MAX_REPORTED_FAILURES = 100
MAX_ERROR_CHARACTERS = 1000


def report_run(
    client: HaloClient,
    record: StatusRecord | None,
    record_id: int | None,
    *,
    error: str | None,
) -> bool:
    """Write Last Sync (on success) or Last Error to the module's Halo record; True if sent."""
    if record is None or (record.needs_id and record_id is None):
        return False
    prefix = record.field_prefix
    fields: dict[str, object] = {f"{prefix}lasterror": (error or "")[:MAX_ERROR_CHARACTERS]}
    if error is None:
        fields[f"{prefix}lastsync"] = utc_now()
    body = {"id": record_id, **fields} if record.needs_id else fields
    try:
        client.post(record.endpoint, [body], idempotent=True)
    except HaloError as exc:
        log.warning("Could not report the run to Halo %s: %s", record.endpoint, exc)
        return False
    return True


def report_failures(
    client: HaloClient, module: str, entity: str, failures: Sequence[RecordFailure]
) -> bool:
    """Send per-record failures to /IntegrationError in one request; True when Halo took them.

    At most ``MAX_REPORTED_FAILURES`` go in one run; the rest count as sent (a file with
    10,000 bad rows must not flood Halo; the run log lists them all).
    """
    if not failures:
        return True
    now = utc_now()
    bodies = [
        {
            "entity_type": entity,
            "entity_name": failure.label,
            "entity_id": failure.key,
            "endpoint": entity,
            "error": f"[{module}] {failure.message}"[:MAX_ERROR_CHARACTERS],
            "date": now,
        }
        for failure in failures[:MAX_REPORTED_FAILURES]
    ]
    try:
        client.post("IntegrationError", bodies)
    except HaloError as exc:
        log.warning("Could not report %d record errors to Halo: %s", len(bodies), exc)
        return False
    return True


def utc_now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

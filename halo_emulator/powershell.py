"""What Halo does when the Integrator reports a queued PowerShell run (halo-api.md 5.4).

An entry that turns ``processed`` with ``success`` true moves its ticket (``faultid``) to
the script's ``resultstatus``; with ``success`` false, to ``resultfailedstatus``; a status
of 0 or none leaves the ticket as it is [I: the spec names these fields on the script
record, the guide says the integrator reports the result; the move itself is inferred].
Reporting an entry already processed moves nothing again.
"""

from __future__ import annotations

from halo_emulator.responses import parse_id
from halo_emulator.store import Record, Store

QUEUE_ENTITY = "powershellscriptprocessing"


def ticket_moves(store: Store, entries: list[Record]) -> list[Record]:
    """The tickets to save with these posted queue entries, their status changed."""
    moved: dict[int, Record] = {}
    for entry in entries:
        before = store.get(QUEUE_ENTITY, int(entry["id"]))
        if not entry.get("processed") or (before is not None and before.get("processed")):
            continue
        script = store.get("powershellscript", parse_id(entry.get("pssid")) or 0)
        ticket_id = parse_id(entry.get("faultid")) or 0
        ticket = moved.get(ticket_id) or store.get("tickets", ticket_id)
        if script is None or ticket is None:
            continue
        field = "resultstatus" if entry.get("success") else "resultfailedstatus"
        status = parse_id(script.get(field))
        if status:
            moved[ticket_id] = {**ticket, "status_id": status}
    return list(moved.values())

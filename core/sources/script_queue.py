"""Halo's PowerShell queue: what is waiting to run, the script each entry names, the report.

Halo (halo-api.md 5.4) queues a run as a ``/PowerShellScriptProcessing`` entry (``pssid``
the script, ``faultid`` the ticket, ``execution_parameters`` the values of the ticket fields
mapped to the script's parameters, listed only with ``includeparameters=true``); the script
record (``/PowerShellScript``) holds its ``location``, its parameter mappings
(``fieldmappings_powershell``: ``parametername`` per Halo field) and its result rule. The
result goes back on the entry (``processed``, ``success``, ``result_message``,
``run_date``), and Halo moves the ticket to ``resultstatus`` or ``resultfailedstatus``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from core.errors import HaloNotFoundError
from core.sources.script_results import ScriptResult

if TYPE_CHECKING:  # reading the settings (the tray does) must not load the network library
    from core.halo.client import HaloClient

QUEUE_ENDPOINT = "PowerShellScriptProcessing"
SCRIPT_ENDPOINT = "PowerShellScript"


@dataclass(frozen=True)
class ScriptDefinition:
    """The parts of a ``/PowerShellScript`` record that decide how a run goes."""

    id: int
    name: str
    location: str
    parameter_names: tuple[tuple[str, str], ...]  # (parametername, Halo field name)
    result_string: str = ""
    partial_match: bool = False
    use_powershell_seven: bool = True

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> ScriptDefinition:
        mappings = record.get("fieldmappings_powershell") or []
        names = tuple(
            (str(m.get("parametername") or "").strip(), str(m.get("finame") or ""))
            for m in mappings
            if isinstance(m, dict) and str(m.get("parametername") or "").strip()
        )
        return cls(
            id=int(record["id"]),
            name=str(record.get("name") or f"script {record['id']}"),
            location=str(record.get("location") or ""),
            parameter_names=names,
            result_string=str(record.get("resultstring") or ""),
            partial_match=bool(record.get("resultpartialmatch")),
            use_powershell_seven=record.get("usepowershellseven") is not False,
        )

    def parameters(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The script's declared parameters with the entry's values; a parameter the entry
        has no value for is left out (the script's default applies), and a value for a
        name the script does not declare is ignored: only Halo's mapping decides names."""
        chosen: dict[str, Any] = {}
        for name, field_name in self.parameter_names:
            for key in (name, field_name):
                if key and values.get(key) is not None:
                    chosen[name] = values[key]
                    break
        return chosen


@dataclass(frozen=True)
class QueuedRun:
    """One outstanding queue entry."""

    entry_id: int
    script_id: int
    ticket_id: int | None
    values: Mapping[str, Any] = field(default_factory=dict)
    script_name: str = ""

    @property
    def key(self) -> str:
        return str(self.entry_id)

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> QueuedRun:
        values = record.get("execution_parameters")
        if isinstance(values, str):  # some Halo versions may send the dictionary as JSON text
            try:
                values = json.loads(values)
            except ValueError:
                values = {}
        ticket = record.get("faultid")
        return cls(
            entry_id=int(record["id"]),
            script_id=int(record.get("pssid") or 0),
            ticket_id=int(ticket) if ticket else None,
            values=values if isinstance(values, dict) else {},
            script_name=str(record.get("script_name") or ""),
        )


class ScriptQueue:
    """Reads the queue and the script records (each read once per run), posts results."""

    def __init__(self, client: HaloClient) -> None:
        self.client = client
        self._scripts: dict[int, ScriptDefinition | None] = {}

    def outstanding(self) -> list[QueuedRun]:
        """Every entry not processed yet, oldest first, read whole before any is reported
        (a reported entry leaves the list, which would shift the pages under a reader)."""
        params = {"outstandingonly": "true", "includeparameters": "true"}
        records = self.client.iter_records(QUEUE_ENDPOINT, params)
        return sorted((QueuedRun.from_record(r) for r in records), key=lambda r: r.entry_id)

    def script(self, script_id: int) -> ScriptDefinition | None:
        """The script record, or None when Halo has none with that id."""
        if script_id not in self._scripts:
            try:
                record = self.client.get(f"{SCRIPT_ENDPOINT}/{script_id}")
            except HaloNotFoundError:
                record = None
            ok = isinstance(record, dict) and record.get("id") is not None
            self._scripts[script_id] = ScriptDefinition.from_record(record) if ok else None
        return self._scripts[script_id]

    def report(self, run: QueuedRun, result: ScriptResult) -> None:
        """Post the result on the entry; the same report twice is harmless, so it may be
        retried after a lost answer."""
        body = {
            "id": run.entry_id,
            "processed": True,
            "success": result.success,
            "result_message": result.message,  # judge cut it to MAX_RESULT_CHARACTERS
            "run_date": result.run_date,
        }
        self.client.post(QUEUE_ENDPOINT, [body], idempotent=True)

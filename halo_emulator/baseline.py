"""What a fresh Halo instance already contains, written once into a new database.

A new Halo has a default client and site, a handful of asset types, ticket types,
statuses and priorities, the API agent the application logs in as, a Control settings
object, the module list (Features) and a mailbox. Integration code needs these ids to
exist (a user needs a site, a ticket a type), so the emulator starts from the same place.
"""

from __future__ import annotations

from typing import Any

Record = dict[str, Any]


def _named(*names: str, **extra: Any) -> list[Record]:
    return [{"id": index, "name": name, **extra} for index, name in enumerate(names, start=1)]


def baseline_records(created_at: str) -> dict[str, list[Record]]:
    """Entity key -> records of a fresh instance; `created_at` stamps `datecreated`."""
    return {
        "client": [
            {
                "id": 1,
                "name": "Default Client",
                "inactive": False,
                "main_site_id": 1,
                "main_site_name": "Main Site",
                "datecreated": created_at,
            }
        ],
        "site": [
            {
                "id": 1,
                "name": "Main Site",
                "client_id": 1,
                "client_name": "Default Client",
                "inactive": False,
                "datecreated": created_at,
            }
        ],
        "assettype": [
            {**record, "assetgroup_id": 1, "assetgroup_name": "Hardware"}
            for record in _named("Workstation", "Laptop", "Server", "Printer", "Mobile Device")
        ],
        "tickettype": _named("Incident", "Service Request", "Problem", "Change Request"),
        "status": _named("New", "In Progress", "With User", "Closed"),
        "priority": [
            {"id": index, "name": name, "priorityid": index}
            for index, name in enumerate(("Critical", "High", "Medium", "Low"), start=1)
        ],
        "agent": [
            {
                "id": 1,
                "name": "API Agent",
                "isapiagent": True,
                "is_agent": True,
                "isdisabled": False,
                "email": "api@halo.local",
                "team": "API",
            }
        ],
        "lookup": [
            {"id": index, "lookupid": 11, "name": name}
            for index, name in enumerate(("Email", "Phone", "Web", "Integrator"), start=1)
        ],
        "features": [
            {
                "id": index,
                "module_name": name,
                "actual_name": name,
                "enabled": True,
                "licensed": True,
                "halointegratorenabled": False,
            }
            for index, name in enumerate(
                (
                    "Active Directory",
                    "Azure Active Directory",
                    "Lansweeper",
                    "Incoming Email",
                    "PowerShell",
                ),
                start=1,
            )
        ],
        "control": [
            {
                "id": 1,
                "email_start_tag": "[ID:",
                "email_end_tag": "]",
                "client_id_halointegrator": "",
                "hashostedintegrator": False,
                "loginas_halointegrator": 1,
                "halointegrator_integrations": [],
            }
        ],
        "mailbox": [
            {
                "id": 1,
                "name": "Support Mailbox",
                "type": 0,
                "inbound_method": "IMAP",
                "tickettype_id": 1,
                "newuser_default_site": 1,
                "halointegrator_lastsync": None,
                "halointegrator_lasterror": None,
            }
        ],
    }

"""What ``ldap_sync.py`` runs in child processes: the agent's run and the naive client.

Each client runs in a process of its own so that its CPU time is its own: the emulator runs in
the benchmark's process, slapd in its own. ``python ldap_sync_children.py KIND JOB`` (KIND
``agent`` or ``naive``, JOB a JSON object) prints the run's figures as one JSON line.
"""

from __future__ import annotations

import cProfile
import json
import math
import resource
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from core.run.request import RunRequest
from core.run.runner import Runner
from core.settings.reader import load_settings

PEOPLE_FILTER = "(objectClass=inetOrgPerson)"
NAIVE_ATTRIBUTES = ["uid", "cn", "givenName", "sn", "mail", "telephoneNumber"]


# -- the agent ------------------------------------------------------------------------------


def agent_child(job: dict[str, Any]) -> dict[str, Any]:
    """One ``Runner`` run of the settings folder ``job["folder"]``, as ``sync`` would do it;
    under cProfile, dumped to ``job["profile"]``, when that is set."""
    pages, listing_cpu = instrument_ldap_module()
    runner = Runner(load_settings(Path(job["folder"])))
    profiler = cProfile.Profile() if job["profile"] else None
    started_cpu, started_wall = time.process_time(), time.perf_counter()
    if profiler:
        profiler.enable()
    [result] = runner.run(RunRequest())
    if profiler:
        profiler.disable()
        profiler.dump_stats(job["profile"])
    return {
        "outcome": str(result.outcome),
        "error": result.error,
        "counts": asdict(result.counts),
        "cpu_seconds": time.process_time() - started_cpu,
        "wall_seconds": time.perf_counter() - started_wall,
        "process_cpu_seconds": own_cpu_seconds(),
        "ldap_pages": pages[0],
        "listing_cpu_seconds": listing_cpu[0],
    }


def instrument_ldap_module() -> tuple[list[int], list[float]]:
    """Count the LDAP search pages, and the CPU time of the delta run's ids-only listing
    (``LdapImport._present``): two lists of one number each, filled while the agent runs.
    Wrapping costs a call per page and one per run, so the figures stay unprofiled."""
    from core.modules.ldap_import import LdapImport
    from core.sources.ldap_directory import LdapDirectory

    pages, listing_cpu = [0], [0.0]
    search_page, present = LdapDirectory._search_page, LdapImport._present

    def counted_page(self: LdapDirectory, *args: Any, **kwargs: Any) -> Any:
        pages[0] += 1
        return search_page(self, *args, **kwargs)

    def timed_present(self: LdapImport, *args: Any, **kwargs: Any) -> list[str]:
        started = time.process_time()
        try:
            return present(self, *args, **kwargs)
        finally:
            listing_cpu[0] += time.process_time() - started

    LdapDirectory._search_page = counted_page  # type: ignore[method-assign]
    LdapImport._present = timed_present  # type: ignore[method-assign]
    return pages, listing_cpu


# -- the naive client -----------------------------------------------------------------------


def naive_child(job: dict[str, Any]) -> dict[str, Any]:
    """Read ``job["count"]`` people, then a search GET and a POST for each of them."""
    import httpx
    import ldap3

    # Imported first: a constant cost, and these figures are extrapolated per person.
    started_cpu, started_wall = time.process_time(), time.perf_counter()
    tls = ldap3.Tls(ca_certs_file=job["ca_file"])
    server = ldap3.Server(job["ldap_url"], tls=tls)
    people = []
    with ldap3.Connection(server, job["bind_dn"], job["bind_password"]) as directory:
        directory.start_tls()
        directory.bind()
        for entry in directory.extend.standard.paged_search(
            job["base_dn"], PEOPLE_FILTER, attributes=NAIVE_ATTRIBUTES, paged_size=job["page_size"]
        ):
            people.append(entry["attributes"])
            if len(people) == job["count"]:
                break
    with httpx.Client(base_url=job["halo_url"]) as http:
        headers = {"Authorization": f"Bearer {naive_token(http, job)}"}
        for attributes in people:
            naive_upsert(http, headers, attributes)
    return {
        "cpu_seconds": time.process_time() - started_cpu,
        "wall_seconds": time.perf_counter() - started_wall,
        "process_cpu_seconds": own_cpu_seconds(),
        "ldap_pages": math.ceil(len(people) / job["page_size"]),
    }


def naive_token(http: Any, job: dict[str, Any]) -> str:
    form = {
        "grant_type": "client_credentials",
        "client_id": job["client_id"],
        "client_secret": job["client_secret"],
        "scope": "all",
    }
    response = http.post("/auth/token", data=form)
    response.raise_for_status()
    return str(response.json()["access_token"])


def naive_upsert(http: Any, headers: dict[str, str], attributes: dict[str, Any]) -> None:
    """Look the person up by e-mail, then create or overwrite them: two requests, always."""
    mail = attributes["mail"][0]
    found = http.get("/api/Users", params={"search": mail}, headers=headers)
    found.raise_for_status()
    matches = [u for u in found.json()["users"] if u.get("emailaddress") == mail]
    user = {
        "name": attributes["cn"][0],
        "firstname": attributes["givenName"][0],
        "surname": attributes["sn"][0],
        "emailaddress": mail,
        "login": attributes["uid"][0],
        "phonenumber": (attributes.get("telephoneNumber") or [""])[0],
        "site_id": 1,
    }
    if matches:
        user["id"] = matches[0]["id"]
    http.post("/api/Users", json=[user], headers=headers).raise_for_status()


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str]) -> int:
    kind, job = argv
    run = {"agent": agent_child, "naive": naive_child}[kind]
    print(json.dumps(run(json.loads(job))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Options an admin keeps in Halo's web UI, merged under the ones in ``appsettings.json``.

In Halo an admin sets up most integrations on a Halo record (an ``/LDAPConnection``, an
``/azureadconnection``, a ``/Mailbox``, the ``Control`` fields of Lansweeper) and the
locally hosted integrator executes them. A module that can read such a record translates
it into its own option names; the local options then override it field by field and add
what Halo never returns (a bind password). So an admin who configured AD in Halo does not
configure it twice, and one who wants a local difference writes only that difference.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from core.errors import ConfigError, HaloNotFoundError, ModuleError
from core.modules.options import parse_options

if TYPE_CHECKING:
    from core.halo.client import HaloClient  # its httpx is not needed to import this

Translate = Callable[[Mapping[str, Any]], dict[str, Any]]


def read_halo_record(client: HaloClient, entity: str, record_id: int | None) -> dict[str, Any]:
    """The Halo record with the module's configuration (``record_id`` None: a singleton
    such as ``Control``); ModuleError when Halo has none."""
    try:
        record = client.get(entity if record_id is None else f"{entity}/{record_id}")
    except HaloNotFoundError as exc:
        raise ModuleError(
            f"Halo has no {entity} record {record_id}.",
            hint="Check halo_connection_id: it is the id in the record's Halo URL.",
        ) from exc
    if not isinstance(record, dict):
        raise ModuleError(f"Halo answered {entity}/{record_id} with something not a record.")
    return record


def merge_options(
    options_class: type,
    local: Mapping[str, Any],
    from_halo: Mapping[str, Any],
    *,
    source: str,
) -> Any:
    """The options object from Halo's values overridden by the local ones.

    A problem in a value that came from Halo names the record (``source``), so the admin
    knows to fix it in Halo's web UI, not in the settings file.
    """
    merged = {**{k: v for k, v in from_halo.items() if v not in (None, "")}, **local}
    options, problems = parse_options(options_class, merged)
    if options is None:
        lines = [
            f"{path}: {message}"
            + ("" if path.split(".")[0].split("[")[0] in local else f" (from {source})")
            for path, message in problems
        ]
        raise ConfigError("Invalid module options:\n  " + "\n  ".join(lines))
    return options


def options_over_halo_record(
    client: HaloClient,
    options_class: type,
    local: Mapping[str, Any],
    entity: str,
    record_id: int | None,
    translate: Translate,
    *,
    enabled_field: str = "halointegratorenabled",
) -> Any:
    """The module's options for a run: Halo's ``entity`` record translated, the local
    options over it. A record not enabled for the Halo Integrator in Halo does not run, as
    with Halo's own integrator ("enabled here and in Halo"); ``enabled_field`` is where the
    record says so (``integrator_enabled`` on an SQLImport, ``halointegrator_lansweeper``
    on Control)."""
    record = read_halo_record(client, entity, record_id)
    source = f"Halo's {entity}" + ("" if record_id is None else f" {record_id}")
    if record.get(enabled_field) is False:
        raise ModuleError(
            f"{source} ({record.get('name') or 'unnamed'}) is not enabled for the Halo "
            "Integrator in Halo.",
            hint="Tick it for the Halo Integrator on that record in Halo, or unset the "
            "module's Halo record id option.",
        )
    try:
        return merge_options(options_class, local, translate(record), source=source)
    except ConfigError as exc:
        raise ModuleError(exc.message) from exc

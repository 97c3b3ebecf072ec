"""A local stand-in for Microsoft Graph and the Entra ID token endpoint, for tests and the demo.

Graph cannot be reached from the test machines, so this small aiohttp server follows Graph's
documented behaviour for what the ``azure_ad`` module uses: client-credentials tokens (secret
or certificate assertion), ``/v1.0/users``, ``/v1.0/users/delta`` (nextLink, deltaLink,
``@removed``), ``/v1.0/groups/{id}/members``, throttling with ``Retry-After`` and 410 for an
expired delta token. The agent never imports it; it needs the ``emulator`` extra (aiohttp).

    from graph_standin import GraphStandIn
    with GraphStandIn() as graph:
        graph.add_user(displayName="Ada Lovelace")
        ...  # point a client at graph.login_url / graph.graph_url, graph.tenant_id,
             # graph.client_id, graph.client_secret
"""

from __future__ import annotations

from graph_standin.directory import Directory
from graph_standin.faults import GraphFaults
from graph_standin.standin import GraphStandIn

__all__ = ["Directory", "GraphFaults", "GraphStandIn"]

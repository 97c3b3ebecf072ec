"""Microsoft Graph's and Entra ID's error answers, turned into core's error tree.

    ModuleError
    └── GraphError                    anything the Graph client cannot do (status, code)
        ├── GraphUnreachableError     DNS, refused, TLS, timeout: login or Graph never answered
        ├── GraphCredentialsError     Entra refused the app's secret, certificate or client id
        ├── GraphTenantNotFoundError  AADSTS90002: no such tenant
        ├── GraphCertificateError     certificate_path unreadable, or no RSA key + certificate
        ├── GraphPermissionError      403: the app lacks an application permission
        ├── GraphNotFoundError        404: a group id that does not exist
        ├── GraphThrottledError       429/503 still answered after the longest wait allowed
        └── DeltaTokenExpiredError    410 syncStateNotFound: start again with a full round

Messages name the tenant, the app's client id and Entra's AADSTS code, never the secret,
the assertion or a token. No HTTP library is imported here.
"""

from __future__ import annotations

import re
from typing import Any

from core.errors import ModuleError

_AADSTS = re.compile(r"\b(AADSTS\d+)\b")
_MAX_DESCRIPTION_CHARACTERS = 240
_TENANT_NOT_FOUND = {"AADSTS90002", "AADSTS900023"}
_APP_NOT_FOUND = "AADSTS700016"
# AADSTS7000215: a wrong client secret; AADSTS7000222: an expired one.
_REFUSED_SHARED_KEY_CODES = {"AADSTS7000215", "AADSTS7000222"}
_CERTIFICATE_CODES = {"AADSTS700027", "AADSTS700024", "AADSTS700021", "AADSTS700023"}


class GraphError(ModuleError):
    """Graph or Entra ID refused or failed a request; ``status`` and ``code`` when sent."""

    title = "Microsoft Graph error"

    def __init__(
        self, message: str, *, hint: str = "", status: int | None = None, code: str = ""
    ) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.code = code


class GraphUnreachableError(GraphError):
    title = "Cannot reach Microsoft Entra ID / Graph"


class GraphCredentialsError(GraphError):
    title = "Entra ID refused the app's credentials"


class GraphTenantNotFoundError(GraphError):
    title = "Entra ID tenant not found"


class GraphCertificateError(GraphError):
    title = "Certificate credential problem"


class GraphPermissionError(GraphError):
    title = "Graph permission missing"


class GraphNotFoundError(GraphError):
    title = "Not found in Microsoft Graph"


class GraphThrottledError(GraphError):
    title = "Microsoft Graph kept throttling"


class DeltaTokenExpiredError(GraphError):
    """The stored deltaLink is no longer valid: the caller starts a full round instead."""

    title = "Graph delta token expired"


def token_failure(status: int, body: Any, tenant_id: str, client_id: str) -> GraphError:
    """The error for a token endpoint answer other than 200 (``body``: its parsed JSON)."""
    fields = body if isinstance(body, dict) else {}
    error = str(fields.get("error", ""))
    description = _first_line(str(fields.get("error_description", "")))
    match = _AADSTS.search(description)
    aadsts = match.group(1) if match else ""
    detail = f" ({description})" if description else f" (HTTP {status})"
    app = f"app {client_id} in tenant {tenant_id}"
    if aadsts in _TENANT_NOT_FOUND:
        return GraphTenantNotFoundError(
            f"Entra ID has no tenant {tenant_id}{detail}.",
            hint="Check tenant_id: the Directory (tenant) ID on the app's Overview page, or "
            "the tenant's .onmicrosoft.com domain.",
            status=status,
            code=aadsts,
        )
    if aadsts == _APP_NOT_FOUND:
        return GraphCredentialsError(
            f"Entra ID has no app {client_id} in tenant {tenant_id}{detail}.",
            hint="Check app_client_id: the Application (client) ID on the app's Overview page.",
            status=status,
            code=aadsts,
        )
    if aadsts in _REFUSED_SHARED_KEY_CODES:
        return GraphCredentialsError(
            f"Entra ID refused the client secret for {app}{detail}.",
            hint="Create a new secret under App registrations > Certificates & secrets and "
            "paste its Value (not its Secret ID).",
            status=status,
            code=aadsts,
        )
    if aadsts in _CERTIFICATE_CODES:
        return GraphCredentialsError(
            f"Entra ID refused the certificate credential for {app}{detail}.",
            hint="Upload the certificate (the .cer/.pem public part) under App registrations "
            "> Certificates & secrets, and check this machine's clock.",
            status=status,
            code=aadsts,
        )
    if error in ("invalid_client", "unauthorized_client"):
        return GraphCredentialsError(
            f"Entra ID refused the credentials of {app}{detail}.",
            hint="Check app_client_id and the secret or certificate.",
            status=status,
            code=aadsts or error,
        )
    return GraphError(
        f"Entra ID refused a token for {app}{detail}.",
        hint="Check tenant_id, app_client_id and the credential.",
        status=status,
        code=aadsts or error,
    )


def graph_failure(status: int, body: Any, what: str, client_id: str) -> GraphError:
    """The error for a Graph answer other than 2xx to a request for ``what`` ("users")."""
    inner = body.get("error") if isinstance(body, dict) else None
    code = str(inner.get("code", "")) if isinstance(inner, dict) else ""
    message = _first_line(str(inner.get("message", ""))) if isinstance(inner, dict) else ""
    detail = f" ({code}: {message})" if code else f" (HTTP {status})"
    if status == 410 or code == "syncStateNotFound":
        return DeltaTokenExpiredError(
            f"Graph no longer knows the delta token for {what}{detail}.",
            hint="The next run reads every user again (a full round).",
            status=status,
            code=code,
        )
    if status == 403:
        return GraphPermissionError(
            f"Graph refused to list {what} for app {client_id}{detail}.",
            hint="Give the app the Microsoft Graph application permission User.Read.All "
            "(and GroupMember.Read.All for group scoping) under API permissions, then "
            "'Grant admin consent'.",
            status=status,
            code=code,
        )
    if status == 404:
        return GraphNotFoundError(
            f"Graph has no {what}{detail}.",
            hint="Check the group object ids in the module's groups option.",
            status=status,
            code=code,
        )
    return GraphError(
        f"Graph answered HTTP {status} to the request for {what}{detail}.",
        hint="Try again later; if it persists, check Microsoft 365 service health.",
        status=status,
        code=code,
    )


def _first_line(text: str) -> str:
    """The first sentence of Entra's description: the rest is advice, a trace id and a time."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    sentence_end = line.find(". ")
    line = line[: sentence_end + 1] if sentence_end > 0 else line
    if len(line) > _MAX_DESCRIPTION_CHARACTERS:
        return line[: _MAX_DESCRIPTION_CHARACTERS - 1].rstrip() + "…"
    return line

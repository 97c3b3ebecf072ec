"""The directory's errors, and LDAP result codes turned into them.

    ModuleError
    └── DirectoryError                 anything the directory client cannot do
        ├── DirectoryUnreachableError  refused, timed out, connection lost (host:port, time)
        ├── DirectoryTlsError          certificate not trusted / wrong name, StartTLS refused
        ├── DirectoryCredentialsError  invalid credentials (AD: why, from its data code)
        ├── DirectoryBaseNotFoundError the base DN does not exist or is on another server
        └── DirectorySearchCappedError the server stopped a search early (a limit)

Each message names the server and the DN but never the password; ``result_code`` is the LDAP
result code when the server sent one. No LDAP library is imported here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from core.errors import ModuleError

SUCCESS = 0
TIME_LIMIT_EXCEEDED = 3
SIZE_LIMIT_EXCEEDED = 4
STRONGER_AUTH_REQUIRED = 8
REFERRAL = 10
ADMIN_LIMIT_EXCEEDED = 11
NO_SUCH_OBJECT = 32
INVALID_CREDENTIALS = 49
INSUFFICIENT_ACCESS = 50
CAPPING_RESULTS = {
    SIZE_LIMIT_EXCEEDED: "sizeLimitExceeded",
    TIME_LIMIT_EXCEEDED: "timeLimitExceeded",
    ADMIN_LIMIT_EXCEEDED: "adminLimitExceeded",
}
# AD puts the reason of a failed bind in its diagnostic message: "..., data 52e, v4563".
_AD_DATA_CODE = re.compile(r"\bdata ([0-9a-f]{3}),", re.IGNORECASE)
AD_BIND_REASONS = {
    "525": "no such user",
    "52e": "wrong password",
    "530": "logon not permitted at this time",
    "531": "logon not permitted from this workstation",
    "532": "password expired",
    "533": "account disabled",
    "701": "account expired",
    "773": "the password must be changed first",
    "775": "account locked out",
}


class DirectoryError(ModuleError):
    """The directory could not be read; ``result_code`` is LDAP's, when the server sent one."""

    title = "Directory error"

    def __init__(self, message: str, *, hint: str = "", result_code: int | None = None) -> None:
        super().__init__(message, hint=hint)
        self.result_code = result_code


class DirectoryUnreachableError(DirectoryError):
    title = "Cannot reach the directory"


class DirectoryTlsError(DirectoryError):
    title = "Directory TLS problem"


class DirectoryCredentialsError(DirectoryError):
    title = "The directory refused the bind"


class DirectoryBaseNotFoundError(DirectoryError):
    title = "Base DN not found"


class DirectorySearchCappedError(DirectoryError):
    title = "The directory capped a search"


def bind_failure(bind_dn: str, address: str, result: Mapping[str, Any]) -> DirectoryError:
    """The error for a bind the server answered with a non-success ``result``."""
    code = result.get("result")
    detail = _detail(result)
    if code == INVALID_CREDENTIALS:
        reason = AD_BIND_REASONS.get(_ad_data_code(result), "")
        return DirectoryCredentialsError(
            f"invalid credentials for bind DN {bind_dn!r} on {address}"
            + (f" ({reason})." if reason else "."),
            hint="Check bind_dn and bind_password (AD also takes user@domain as bind_dn).",
            result_code=code,
        )
    if code == STRONGER_AUTH_REQUIRED:
        return DirectoryError(
            f"{address} requires an encrypted connection or a signed bind{detail}.",
            hint="Use ldaps://host:636, or set start_tls.",
            result_code=code,
        )
    return DirectoryError(
        f"{address} refused the bind as {bind_dn!r}{detail}.",
        hint="Check bind_dn and that the account may log on.",
        result_code=code if isinstance(code, int) else None,
    )


def search_failure(
    base_dn: str,
    search_filter: str,
    address: str,
    result: Mapping[str, Any],
    received: int,
    page_size: int,
) -> DirectoryError:
    """The error for a search page that ended with a non-success ``result``.

    ``received`` is how many entries had arrived, so the admin sees where the cap was.
    """
    code = result.get("result")
    detail = _detail(result)
    if code in CAPPING_RESULTS:
        message = _message(result)
        limit = CAPPING_RESULTS[code] + (f": {message}" if message else "")
        return DirectorySearchCappedError(
            f"the directory at {address} capped the search under {base_dn!r} after "
            f"{received} entries ({limit}); the result is incomplete, so it must not be "
            "taken for the whole directory.",
            hint=_cap_hint(code, page_size),
            result_code=code,
        )
    if code == NO_SUCH_OBJECT:
        return DirectoryBaseNotFoundError(
            f"the base DN {base_dn!r} does not exist on {address}{detail}.",
            hint="Check base_dns: copy the DN of the OU from the directory.",
            result_code=code,
        )
    if code == REFERRAL:
        return DirectoryBaseNotFoundError(
            f"{address} does not hold the base DN {base_dn!r} and refers elsewhere{detail}.",
            hint="Check base_dns, or connect to a server of the domain that holds it.",
            result_code=code,
        )
    if code == INSUFFICIENT_ACCESS:
        return DirectoryError(
            f"the bind account may not search under {base_dn!r} on {address}{detail}.",
            hint="Give the account read access to that OU.",
            result_code=code,
        )
    return DirectoryError(
        f"the search under {base_dn!r} with filter {search_filter!r} failed on {address}: "
        f"{result.get('description', 'result code ' + str(code))}{detail}.",
        result_code=code if isinstance(code, int) else None,
    )


def _cap_hint(code: int, page_size: int) -> str:
    if code == TIME_LIMIT_EXCEEDED:
        return (
            "Raise the server's time limit for the bind account (slapd: limits ... time=; "
            "AD: MaxQueryDuration), or narrow base_dns / filter."
        )
    return (
        f"Lower page_size (now {page_size}) below the server's page limit, or lift the limit "
        "for the bind account (slapd: limits ... size=unlimited size.prtotal=unlimited; "
        "AD: MaxPageSize / MaxResultSetSize in the LDAP policy)."
    )


def _message(result: Mapping[str, Any]) -> str:
    return str(result.get("message") or "").strip().rstrip("\x00").strip()


def _detail(result: Mapping[str, Any]) -> str:
    message = _message(result)
    return f" ({message})" if message else ""


def _ad_data_code(result: Mapping[str, Any]) -> str:
    found = _AD_DATA_CODE.search(str(result.get("message") or ""))
    return found.group(1).lower() if found else ""

"""Database failures as one sentence an admin can act on.

    ModuleError
    └── DatabaseError                  anything the SQL source cannot do
        ├── DatabaseDriverMissingError the dialect or its driver (pymssql, ODBC) is absent
        ├── DatabaseUnreachableError   refused, timed out, unknown host (host:port)
        ├── DatabaseLoginError         login failed (wrong user or password)
        ├── DatabaseNotFoundError      the database does not exist or the login cannot open it
        ├── DatabaseTimeoutError       the query ran past timeout_seconds and was cancelled
        └── DatabaseQueryError         the query itself (syntax, a missing table): the
                                       database's own message

The driver's exceptions differ (psycopg has SQLSTATEs, pymssql and SQL Server error
numbers, pyodbc ODBC states), so each is recognised by its code first and its text second.
The URL's password never reaches a message: the messages name ``where`` (the URL without
it), and a password found in a driver's text is blanked out.
"""

from __future__ import annotations

import re
from typing import Any

from core.errors import ModuleError


class DatabaseError(ModuleError):
    title = "Database error"


class DatabaseDriverMissingError(DatabaseError):
    pass


class DatabaseUnreachableError(DatabaseError):
    pass


class DatabaseLoginError(DatabaseError):
    pass


class DatabaseNotFoundError(DatabaseError):
    pass


class DatabaseTimeoutError(DatabaseError):
    pass


class DatabaseQueryError(DatabaseError):
    pass


# PostgreSQL SQLSTATEs (psycopg's ``sqlstate``), SQL Server error numbers (pymssql's args,
# "[SQL Server]..." in ODBC text) and ODBC states, by what they mean to an admin.
_LOGIN_STATES = {"28P01", "28000"}
_NOT_FOUND_STATES = {"3D000"}
_TIMEOUT_STATES = {"57014", "HYT00", "HYT01"}
_LOGIN_NUMBERS = {18456, 18452, 18486, 18487, 18488}
_NOT_FOUND_NUMBERS = {4060, 911}
_TIMEOUT_NUMBERS = {-2}
_SQLSERVER_NUMBER = re.compile(r"\((\d{3,5})\)|error (\d{3,5})|msg (\d{3,5})", re.IGNORECASE)

_UNREACHABLE_WORDS = (
    "connection refused",
    "could not connect",
    "unable to connect",
    "adaptive server connection failed",
    "could not translate host name",
    "name or service not known",
    "no route to host",
    "timeout expired",
    "connection timed out",
    "server closed the connection",
    "login timeout expired",
    "08001",
    "08s01",
)
_LOGIN_WORDS = ("password authentication failed", "login failed", "access denied for user")
_NOT_FOUND_WORDS = ("does not exist", "cannot open database", "unknown database")
_TIMEOUT_WORDS = ("statement timeout", "canceling statement", "query timeout", "timed out")


def driver_missing(where: str, dialect: str, missing: str) -> DatabaseDriverMissingError:
    """The dialect or its Python driver is not installed: which one, and how to get it."""
    if "pyodbc" in dialect:
        hint = 'pip install "halo-integrator[sql]" pyodbc, and an ODBC driver for the database'
    else:
        hint = 'pip install "halo-integrator[sql]" (it brings pymssql and psycopg)'
    return DatabaseDriverMissingError(
        f"The database driver for {dialect} is not installed ({missing}): cannot open {where}.",
        hint=hint + "; other databases need their SQLAlchemy driver package.",
    )


def odbc_driver_missing(where: str, text: str) -> DatabaseDriverMissingError:
    return DatabaseDriverMissingError(
        f"The ODBC driver named in the URL is not installed: cannot open {where} ({text}).",
        hint="Install Microsoft's ODBC Driver 18 for SQL Server (or FreeTDS, tdsodbc on "
        "Debian) and name it in the URL's driver= parameter, or use mssql+pymssql:// "
        "which needs no ODBC driver.",
    )


def database_error(
    exc: BaseException, *, where: str, password: str = "", timeout_seconds: float = 0
) -> DatabaseError:
    """The admin's sentence for ``exc`` (a SQLAlchemy error or the driver's own).

    ``where`` is the URL without its password; ``password`` is blanked from any text.
    """
    original = getattr(exc, "orig", None) or exc
    text = _first_line(original, password)
    lowered = text.lower()
    state = str(getattr(original, "sqlstate", "") or _odbc_state(original) or "")
    number = _sqlserver_number(original, text)
    if state == "IM002" or "data source name not found" in lowered:
        return odbc_driver_missing(where, text)
    if state in _LOGIN_STATES or number in _LOGIN_NUMBERS or _has(lowered, _LOGIN_WORDS):
        return DatabaseLoginError(
            f"Login failed at {where}: {text}",
            hint="Check the user and password in database_url (a read-only login is enough).",
        )
    if (
        state in _NOT_FOUND_STATES
        or number in _NOT_FOUND_NUMBERS
        or ("database" in lowered and _has(lowered, _NOT_FOUND_WORDS))
    ):
        return DatabaseNotFoundError(
            f"The database in {where} does not exist or this login cannot open it: {text}",
            hint="Check the database name at the end of database_url, and the login's access.",
        )
    if (
        state in _TIMEOUT_STATES
        or number in _TIMEOUT_NUMBERS
        or (_has(lowered, _TIMEOUT_WORDS) and "connect" not in lowered)
    ):
        limit = f" of {timeout_seconds:g} s" if timeout_seconds else ""
        return DatabaseTimeoutError(
            f"The query at {where} ran past its timeout{limit} and was cancelled.",
            hint="Raise timeout_seconds, or narrow the query (an index on the changed column).",
        )
    if _has(lowered, _UNREACHABLE_WORDS) or state.startswith("08"):
        return DatabaseUnreachableError(
            f"Cannot reach the database server at {where}: {text}",
            hint="Check the host and port in database_url, and that a firewall lets this "
            "machine through (SQL Server: TCP 1433 and TCP/IP enabled).",
        )
    if _is_query_error(exc, original, state):
        return DatabaseQueryError(
            f"The database refused the query at {where}: {text}",
            hint="Fix the query (or the field map's column names); the database's message "
            "says where.",
        )
    return DatabaseError(f"Database error at {where}: {text}")


def _is_query_error(exc: BaseException, original: BaseException, state: str) -> bool:
    names = {type(exc).__name__, type(original).__name__}
    query_names = {"ProgrammingError", "DataError", "IntegrityError", "NotSupportedError"}
    return bool(names & query_names) or state[:2] in {"42", "22", "0A"}


def _has(text: str, words: tuple[str, ...]) -> bool:
    return any(word in text for word in words)


def _first_line(exc: BaseException, password: str) -> str:
    """The driver's message without the SQL echo, the password or noise; one line."""
    text = _message(exc)
    if password:
        text = text.replace(password, "***")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    useful = [line for line in lines if not line.startswith(("DB-Lib error", "[SQL:", "("))]
    line = (useful or lines or [type(exc).__name__])[0]
    # libpq: 'connection failed: connection to server at "h", port 5432 failed: FATAL:  why'
    line = re.split(r"\b(?:FATAL|ERROR):\s+", line)[-1].strip()
    return line[:300]


def _args(exc: BaseException) -> tuple[Any, ...]:
    """The exception's args; pymssql nests them: ``((number, b"message"),)``."""
    args: tuple[Any, ...] = getattr(exc, "args", ())
    if len(args) == 1 and isinstance(args[0], tuple):
        return tuple(args[0])
    return args


def _message(exc: BaseException) -> str:
    args = _args(exc)
    # pymssql: (number, b"message ...") ; pyodbc: (state, "message")
    if len(args) >= 2 and isinstance(args[1], bytes | str):
        value = args[1]
        text = value.decode("utf-8", errors="replace") if isinstance(value, bytes) else value
        return re.sub(r"\[[^\]]*\]", "", text).strip() or str(exc)
    return str(exc)


def _odbc_state(exc: BaseException) -> str:
    args = _args(exc)
    if args and isinstance(args[0], str) and re.fullmatch(r"[0-9A-Z]{5}", args[0]):
        return args[0]
    return ""


def _sqlserver_number(exc: BaseException, text: str) -> int | None:
    args = _args(exc)
    if args and isinstance(args[0], int):
        return args[0]
    found = _SQLSERVER_NUMBER.search(str(exc))
    if found:
        return int(next(group for group in found.groups() if group))
    return None

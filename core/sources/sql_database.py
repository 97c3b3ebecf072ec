"""A SQL source read through SQLAlchemy Core: read-only, time-limited, streamed.

The integrator only ever reads, so each query runs in a read-only transaction where the
database has one (PostgreSQL, MySQL/MariaDB; SQLite's ``query_only``); SQL Server has no
such transaction, so there the login's rights are the guard (a ``db_datareader`` login, as
the README says). Every query has a timeout the database itself enforces where it can
(PostgreSQL's ``statement_timeout``, MySQL's ``MAX_EXECUTION_TIME``) and the driver's query
timeout otherwise (pymssql, pyodbc). Rows are streamed (a server-side cursor where the
driver has one), so 50,000 Lansweeper assets do not sit in memory twice.

SQLAlchemy and the drivers are imported here only, when a module runs or checks.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from core.settings.secrets import Secret
from core.sources.sql_errors import DatabaseError, database_error, driver_missing

log = logging.getLogger(__name__)
STREAM_BATCH = 1000


class SqlDatabase:
    """One database URL (a secret: it may carry the password) and how long a query may run."""

    def __init__(self, url: Secret | str, *, timeout_seconds: float = 60) -> None:
        self._url_text = url.reveal() if isinstance(url, Secret) else str(url)
        self.timeout_seconds = timeout_seconds
        self._engine: Any = None
        self.url, self.where, self._password = _parse(self._url_text)

    @property
    def dialect(self) -> str:
        return str(self.url.drivername)

    def __enter__(self) -> SqlDatabase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def rows(
        self, statement: Any, parameters: Mapping[str, Any] | None = None
    ) -> Iterator[dict[str, Any]]:
        """The statement's rows as column name → value, read in a read-only transaction.

        ``statement`` is a SQLAlchemy Core selectable or an admin's query text.
        """
        from sqlalchemy import text

        if isinstance(statement, str):
            statement = text(statement)
        with self._failures_explained(), self._read_only() as connection:
            result = connection.execution_options(
                stream_results=True, max_row_buffer=STREAM_BATCH
            ).execute(statement, dict(parameters or {}))
            for row in result.mappings():
                yield dict(row)

    def check(self) -> str:
        """Connects and runs the database's cheapest query; what it says is what was found."""
        from sqlalchemy import text

        with self._failures_explained(), self._read_only() as connection:
            connection.execute(text("SELECT 1"))
        return f"connected to {self.where} (read-only)"

    # -- internals ------------------------------------------------------------------------------

    @contextmanager
    def _failures_explained(self) -> Iterator[None]:
        try:
            yield
        except DatabaseError:
            raise
        except Exception as exc:
            if not _is_database_failure(exc):
                raise
            raise database_error(
                exc,
                where=self.where,
                password=self._password,
                timeout_seconds=self.timeout_seconds,
            ) from None

    @contextmanager
    def _read_only(self) -> Iterator[Any]:
        engine = self._open()
        with engine.connect() as connection, connection.begin():
            for statement in _session_statements(self.dialect, self.timeout_seconds):
                connection.exec_driver_sql(statement)
            yield connection

    def _open(self) -> Any:
        if self._engine is not None:
            return self._engine
        from sqlalchemy import create_engine, event
        from sqlalchemy.exc import NoSuchModuleError
        from sqlalchemy.pool import NullPool

        try:
            engine = create_engine(
                self.url,
                poolclass=NullPool,
                connect_args=_connect_args(self.dialect, self.timeout_seconds),
            )
        except NoSuchModuleError as exc:
            raise driver_missing(self.where, self.dialect, str(exc).rpartition(":")[2]) from None
        except ImportError as exc:
            raise driver_missing(self.where, self.dialect, exc.name or str(exc)) from None
        if self.dialect.startswith("mssql+pyodbc"):
            seconds = max(1, int(self.timeout_seconds))

            @event.listens_for(engine, "connect")
            def _query_timeout(dbapi_connection: Any, _record: Any) -> None:
                dbapi_connection.timeout = seconds

        self._engine = engine
        return engine


def _parse(url_text: str) -> tuple[Any, str, str]:
    """The URL, how to name it in messages (no password), and the password to blank out."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(url_text)
    except (ArgumentError, ValueError):
        # SQLAlchemy's own message repeats the whole URL, password and all.
        raise DatabaseError(
            "database_url is not a database URL.",
            hint="Write it as dialect+driver://user:password@host:port/database, e.g. "
            "mssql+pymssql://reader:secret@sql01/lansweeperdb (URL-encode @ : / in the "
            "password).",
        ) from None
    where = url.render_as_string(hide_password=True).replace(":***@", "@")
    return url, where, url.password or ""


def _connect_args(dialect: str, timeout_seconds: float) -> dict[str, Any]:
    """The driver's login and query timeouts, so an unreachable server fails in time."""
    seconds = max(1, int(timeout_seconds))
    connect = min(seconds, 30)
    if dialect.startswith("postgresql"):
        return {"connect_timeout": connect}
    if dialect.startswith("mssql+pymssql"):
        return {"login_timeout": connect, "timeout": seconds}
    if dialect.startswith("mssql+pyodbc"):
        return {"timeout": connect}
    if dialect.startswith(("mysql", "mariadb")):
        return {"connect_timeout": connect, "read_timeout": seconds}
    if dialect.startswith("sqlite"):
        return {"timeout": connect}
    return {}


def _session_statements(dialect: str, timeout_seconds: float) -> list[str]:
    """What makes the transaction read-only and time-limited, where the database can."""
    milliseconds = max(1000, int(timeout_seconds * 1000))
    if dialect.startswith("postgresql"):
        return ["SET TRANSACTION READ ONLY", f"SET LOCAL statement_timeout = {milliseconds}"]
    if dialect.startswith(("mysql", "mariadb")):
        return [
            "SET SESSION TRANSACTION READ ONLY",
            f"SET SESSION MAX_EXECUTION_TIME = {milliseconds}",
        ]
    if dialect.startswith("sqlite"):
        return ["PRAGMA query_only = ON"]
    return []


def _is_database_failure(exc: BaseException) -> bool:
    from sqlalchemy.exc import DBAPIError, SQLAlchemyError

    return isinstance(exc, DBAPIError | SQLAlchemyError | OSError)

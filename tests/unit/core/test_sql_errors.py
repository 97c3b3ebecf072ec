"""SQL Server's failures as the drivers raise them (no SQL Server runs here): the exception
shapes are pymssql's ``((number, b"text"),)`` and pyodbc's ``(state, "text")``, with the
messages SQL Server and the ODBC driver manager send. PostgreSQL's are tested for real in
tests/integration/test_lansweeper.py and test_sql_import.py."""

from __future__ import annotations

import datetime as dt

import pytest

from core.sources import sql_errors
from core.sources.sql_changes import ChangeMark, read_from

WHERE = "mssql+pymssql://reader@sql01/lansweeperdb"


class OperationalError(Exception):
    """Named as the drivers name theirs: the classification reads the name too."""


class ProgrammingError(Exception):
    pass


def pymssql_error(number: int, text: str, kind: type[Exception] = OperationalError) -> Exception:
    return kind((number, text.encode()))


@pytest.mark.parametrize(
    ("exc", "kind", "words"),
    [
        (
            pymssql_error(18456, "Login failed for user 'reader'.DB-Lib error message 20018"),
            sql_errors.DatabaseLoginError,
            "Login failed at mssql+pymssql://reader@sql01/lansweeperdb: Login failed for user",
        ),
        (
            pymssql_error(4060, 'Cannot open database "lsdb" requested by the login.'),
            sql_errors.DatabaseNotFoundError,
            "does not exist or this login cannot open it",
        ),
        (
            pymssql_error(
                20009,
                "DB-Lib error message 20009, severity 9:\nUnable to connect: Adaptive Server "
                "is unavailable or does not exist (sql01)\n",
            ),
            sql_errors.DatabaseUnreachableError,
            "Cannot reach the database server at mssql+pymssql://reader@sql01/lansweeperdb: "
            "Unable to connect",
        ),
        (
            pymssql_error(208, "Invalid object name 'tblAsset'.", ProgrammingError),
            sql_errors.DatabaseQueryError,
            "The database refused the query at mssql+pymssql://reader@sql01/lansweeperdb: "
            "Invalid object name 'tblAsset'.",
        ),
        (
            OperationalError(
                "IM002",
                "[IM002] [unixODBC][Driver Manager]Data source name not found and no default "
                "driver specified (0) (SQLDriverConnect)",
            ),
            sql_errors.DatabaseDriverMissingError,
            "The ODBC driver named in the URL is not installed",
        ),
        (
            OperationalError("HYT00", "[HYT00] [FreeTDS][SQL Server]Query timeout expired (0)"),
            sql_errors.DatabaseTimeoutError,
            "ran past its timeout of 30 s and was cancelled",
        ),
    ],
)
def test_sql_server_failures_become_one_sentence(
    exc: Exception, kind: type[Exception], words: str
) -> None:
    error = sql_errors.database_error(exc, where=WHERE, timeout_seconds=30)
    assert type(error) is kind
    assert words in error.message
    assert "\n" not in error.message


def test_a_password_in_a_drivers_message_is_blanked() -> None:
    exc = OperationalError("could not connect with password s3cr3t-pw to sql01")
    error = sql_errors.database_error(exc, where=WHERE, password="s3cr3t-pw")
    assert "s3cr3t-pw" not in error.message and "***" in error.message


def test_the_change_mark_keeps_the_highest_database_value_and_reads_back_with_overlap() -> None:
    mark = ChangeMark()
    for value in (dt.datetime(2026, 11, 29, 8), None, dt.datetime(2026, 11, 30, 9), "junk"):
        mark.observe(value)
    mark.observe(dt.datetime(2026, 11, 29, 23))  # older than the highest: ignored
    checkpoint = mark.checkpoint("2026-11-01T00:00:00")
    assert checkpoint == "2026-11-30T09:00:00"
    assert read_from(checkpoint) == dt.datetime(2026, 11, 30, 8, 55)
    # Nothing read: the previous mark stays; a rowversion is a number; junk reads all.
    assert ChangeMark().checkpoint("2026-11-01T00:00:00") == "2026-11-01T00:00:00"
    rowversion = ChangeMark()
    rowversion.observe((1234).to_bytes(8, "big"))
    assert read_from(rowversion.checkpoint(None)) == 1234
    assert read_from("not a mark") is None and read_from(None) is None

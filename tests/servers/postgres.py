"""A throwaway PostgreSQL cluster on loopback, and a Lansweeper-shaped database in it.

Adapted from the environment notes' helper (section 7): ``initdb`` into a temporary folder
and ``pg_ctl start`` on a free port of 127.0.0.1 (about 0.6 s), durability off (the data
is thrown away), stopped with ``-m immediate``. ``initdb`` and ``postgres`` refuse to run as
root, so as root the cluster runs as the Debian package's ``postgres`` user.

Logins: the superuser ``postgres`` (trust over the socket only) and, made by ``start``,
``reader`` with :data:`READER_PASSWORD` over TCP (scram), so a wrong password is a real
failed login. No SQL Server can run here; the Lansweeper tables are created with
Lansweeper's table and column names (quoted, so their case is kept, as SQL Server shows it).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .ports import free_port

BIN = Path("/usr/lib/postgresql/15/bin")
HOST = "127.0.0.1"
READER = "reader"
READER_PASSWORD = "rd-pw-8c2f1a"

LANSWEEPER_SCHEMA = """
CREATE TABLE "tsysAssetTypes" ("AssetType" integer PRIMARY KEY, "AssetTypename" text);
CREATE TABLE "tblAssets" (
    "AssetID" integer PRIMARY KEY, "AssetName" text, "AssetUnique" text, "Domain" text,
    "IPAddress" text, "Mac" text, "Username" text, "Lastseen" timestamp,
    "Firstseen" timestamp, "Lastchanged" timestamp, "AssetType" integer
);
CREATE TABLE "tblAssetCustom" (
    "AssetID" integer PRIMARY KEY, "Manufacturer" text, "Model" text, "Serialnumber" text,
    "State" integer, "Lastchanged" timestamp
);
CREATE TABLE "tblOperatingsystem" ("AssetID" integer PRIMARY KEY, "Caption" text);
INSERT INTO "tsysAssetTypes" VALUES
    (-1, 'Windows'), (11, 'Linux'), (16, 'Printer'), (12, 'Switch'), (66, 'Monitor');
"""


def available() -> str | None:
    """Why this machine cannot run PostgreSQL, or None when it can."""
    if not (BIN / "initdb").exists():
        return f"PostgreSQL is not installed ({BIN}/initdb missing: apt-get install postgresql)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no postgres user to run the server as"
    return None


class PostgresCommandError(RuntimeError):
    """A PostgreSQL tool failed; the message carries what it printed."""


class Postgres:
    def __init__(self) -> None:
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="halo-pg-"))
        self.data = self.folder / "data"
        self._prefix: list[str] = []
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.folder, owner.pw_uid, owner.pw_gid)
            self._prefix = [
                "setpriv",
                f"--reuid={owner.pw_uid}",
                f"--regid={owner.pw_gid}",
                "--clear-groups",
                "env",
                f"HOME={self.folder}",
            ]

    def url(self, database: str = "lansweeperdb", *, password: str = READER_PASSWORD) -> str:
        """A SQLAlchemy URL for the reader login (psycopg 3)."""
        return f"postgresql+psycopg://{READER}:{password}@{HOST}:{self.port}/{database}"

    def _run(self, *command: str, stdin: str | None = None) -> str:
        done = subprocess.run(
            [*self._prefix, *command],
            input=stdin,
            capture_output=True,
            text=True,
            cwd=self.folder,
            timeout=60,
        )
        if done.returncode:
            # The tool's own words, not only its exit status: "exit status 3" says nothing.
            said = done.stderr.strip()
            raise PostgresCommandError(f"{command[0]} exited {done.returncode}: {said}")
        return done.stdout

    def start(self) -> Postgres:
        self._run(
            str(BIN / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses={HOST} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off"
        )
        log = str(self.folder / "log")
        self._run(
            str(BIN / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", log, "-w", "start"
        )
        self.sql(f"CREATE ROLE {READER} LOGIN PASSWORD '{READER_PASSWORD}'")
        return self

    def stop(self) -> None:
        with contextlib.suppress(PostgresCommandError, subprocess.TimeoutExpired):
            self._run(str(BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> Postgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def sql(self, statements: str, database: str = "postgres") -> str:
        """Runs ``statements`` as the superuser over the socket (psql, stops on an error)."""
        return self._run(
            "psql",
            "-h",
            str(self.folder),
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-d",
            database,
            "-v",
            "ON_ERROR_STOP=1",
            "-q",
            "-At",
            stdin=statements,
        )

    def create_database(self, name: str, schema: str = "") -> None:
        """A database the reader may read (and only read)."""
        self.sql(f'CREATE DATABASE "{name}"')
        self.sql(
            f"{schema}\nGRANT SELECT ON ALL TABLES IN SCHEMA public TO {READER};\n"
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO {READER};",
            database=name,
        )

    def copy_rows(
        self, database: str, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
    ) -> None:
        """Bulk insert with COPY (50,000 rows in well under a second)."""
        lines = ["\t".join(_copy_value(value) for value in row) for row in rows]
        names = ", ".join(f'"{name}"' for name in columns)
        self.sql(
            f'COPY "{table}" ({names}) FROM STDIN;\n' + "\n".join(lines) + "\n\\.\n",
            database=database,
        )


def _copy_value(value: Any) -> str:
    if value is None:
        return "\\N"
    text = str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def asset_row(asset: Mapping[str, Any]) -> dict[str, Any]:
    """Lansweeper's columns for one asset, with quiet defaults for what a test leaves out."""
    return {
        "AssetID": asset["AssetID"],
        "AssetName": asset.get("AssetName"),
        "AssetUnique": asset.get("AssetUnique", asset.get("AssetName")),
        "Domain": asset.get("Domain", "CONTOSO"),
        "IPAddress": asset.get("IPAddress", "10.0.0.1"),
        "Mac": asset.get("Mac", ""),
        "Username": asset.get("Username", ""),
        # Seen yesterday, whenever the tests run: a fixed date would turn stale one day.
        "Lastseen": asset.get(
            "Lastseen", f"{dt.datetime.now() - dt.timedelta(days=1):%Y-%m-%d %H:%M:%S}"
        ),
        "Firstseen": asset.get("Firstseen", "2025-01-01 08:00:00"),
        "Lastchanged": asset.get("Lastchanged", "2026-11-30 08:00:00"),
        "AssetType": asset.get("AssetType", -1),
    }

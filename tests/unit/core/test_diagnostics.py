"""The diagnostics bundle holds what support needs and not one secret (issue 13).

Known secret values are planted everywhere a secret lives (the client secret, module secret
options, a hand-pasted password, database URLs and connection strings, the key file) and
where one may leak to (a log line, a run's error), then every member of the zip is searched
for each of them.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from core.diagnostics import collect, write_bundle
from core.outcomes import RunCounts
from core.settings.model import HaloConnection, ModuleSettings, Settings
from core.settings.secrets import KEY_FILE_NAME, Secret
from core.settings.writer import save_settings
from core.state.store import StateStore

CLIENT_SECRET = "client-secret-planted-4b1d9e"
BIND_PASSWORD = "bind-password-planted-77aa"
MAIL_PASSWORD = "mail-password-planted-31cc"
OAUTH_SECRET = "oauth-secret-planted-9e0f"
DB_PASSWORD = "dbpass-planted-5521"
ODBC_PASSWORD = "odbcpass-planted-6630"
PASTED_PASSWORD = "pasted-password-planted-8812"
SQL_PASSWORD = "sqlpass-planted-4470"


def planted_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "Daily"
    connection = HaloConnection("https://acme.halopsa.com", "agent-client", Secret(CLIENT_SECRET))
    settings = Settings.new(folder / "appsettings.json", connection)
    settings.modules += [
        ModuleSettings(name="users", type="csv", options={"path": "users.csv"}),
        ModuleSettings(
            name="ad",
            type="ldap",
            options={
                "server": "ldaps://dc1.example.com",
                "bind_dn": "CN=svc,DC=example,DC=com",
                "bind_password": Secret(BIND_PASSWORD),
                "base_dns": ["OU=Staff,DC=example,DC=com"],
            },
        ),
        ModuleSettings(
            name="mail",
            type="imap",
            options={
                "server": "imap.example.com",
                "username": "helpdesk@example.com",
                "password": Secret(MAIL_PASSWORD),
                "oauth_client_secret": Secret(OAUTH_SECRET),
            },
        ),
        ModuleSettings(
            name="hr-db",
            type="sql",
            options={
                "database_url": Secret(f"postgresql+psycopg://reader:{SQL_PASSWORD}@db01/hr"),
                "query": "SELECT mail AS emailaddress FROM staff",
            },
        ),
        # A type this version does not know (a newer version's module): only the names and
        # shapes of its values can tell what is secret.
        ModuleSettings(
            name="inventory",
            type="future_cmdb",
            options={
                "url": f"postgresql://halo:{DB_PASSWORD}@db.example.com:5432/cmdb",
                "odbc": f"Driver={{ODBC Driver 18}};Server=sql1;UID=halo;PWD={ODBC_PASSWORD};",
                "admin_password": PASTED_PASSWORD,
                "query": "SELECT name FROM machines",
            },
        ),
    ]
    save_settings(settings)
    state = StateStore(folder)
    run = state.start_run("ad", "auto")
    error = f"bind failed for CN=svc with {BIND_PASSWORD} at postgresql://u:{DB_PASSWORD}@db"
    state.finish_run(run, "ad", "failed", RunCounts(created=2, failed=1), error)
    logs = folder / "logs" / "ad"
    logs.mkdir(parents=True)
    (logs / "ad-20261201-120000-000001.log").write_text(
        f"2026-12-01 12:00:00 ERROR halo_integrator: leaked {CLIENT_SECRET} and {MAIL_PASSWORD}\n"
        "2026-12-01 12:00:01 INFO  halo_integrator: ad failed: 2 created\n",
        encoding="utf-8",
    )
    (folder / "logs" / "tray.log").write_text("tray started\n", encoding="utf-8")
    return folder


def members(bundle: Path) -> dict[str, str]:
    with zipfile.ZipFile(bundle) as archive:
        return {name: archive.read(name).decode("utf-8") for name in archive.namelist()}


def test_no_planted_secret_is_in_any_member_of_the_bundle(tmp_path: Path) -> None:
    folder = planted_folder(tmp_path)
    key_lines = (folder / KEY_FILE_NAME).read_text().split()
    bundle = write_bundle(folder, tmp_path / "out" / "bundle.zip")
    contents = members(bundle)
    planted = [
        CLIENT_SECRET,
        BIND_PASSWORD,
        MAIL_PASSWORD,
        OAUTH_SECRET,
        DB_PASSWORD,
        ODBC_PASSWORD,
        PASTED_PASSWORD,
        SQL_PASSWORD,
        *key_lines,
    ]
    assert KEY_FILE_NAME not in " ".join(contents) and "state.db" not in contents
    for name, text in contents.items():
        for secret in planted:
            assert secret not in text, f"{secret!r} is in {name}"
        assert "enc:v1:" not in text, f"an encrypted value is in {name}"


def test_the_bundle_holds_versions_settings_runs_and_logs(tmp_path: Path) -> None:
    folder = planted_folder(tmp_path)
    contents = members(write_bundle(folder, tmp_path))
    expected = {"summary.txt", "settings.json", "runs.json", "status.json", "logs/tray.log"}
    assert expected | {"logs/ad/ad-20261201-120000-000001.log"} <= set(contents)
    assert "Halo Integrator: 0.1.0" in contents["summary.txt"]
    settings = json.loads(contents["settings.json"])
    assert settings["Halo"]["ClientId"] == "agent-client"
    assert settings["Halo"]["ClientSecret"] == "(removed: secret)"
    by_name = {module["Name"]: module["Options"] for module in settings["Modules"]}
    assert by_name["ad"]["bind_password"] == "(removed: secret)"
    assert by_name["ad"]["bind_dn"] == "CN=svc,DC=example,DC=com"  # what support needs stays
    assert by_name["inventory"]["url"] == "postgresql://halo:********@db.example.com:5432/cmdb"
    assert by_name["inventory"]["query"] == "SELECT name FROM machines"
    assert by_name["hr-db"]["database_url"] == "(removed: secret)"
    assert by_name["hr-db"]["query"] == "SELECT mail AS emailaddress FROM staff"
    [run] = json.loads(contents["runs.json"])
    assert (run["module"], run["outcome"], run["created"]) == ("ad", "failed", 2)
    assert "bind failed for CN=svc" in run["error"]
    [status] = json.loads(contents["status.json"])
    assert (status["module"], status["consecutive_failures"]) == ("ad", 1)
    assert status["last_error_at_utc"]


def test_a_broken_folder_still_gives_a_bundle_that_says_what_is_wrong(tmp_path: Path) -> None:
    folder = tmp_path / "Broken"
    folder.mkdir()
    (folder / "appsettings.json").write_text(
        '{"Halo": {"ClientSecret": "' + CLIENT_SECRET + '",}', encoding="utf-8"
    )
    diagnostics = collect(folder)
    assert "could not be read as JSON" in str(diagnostics.settings)
    assert CLIENT_SECRET not in diagnostics.as_text()
    assert dict(diagnostics.summary)["Settings problem"]
    assert diagnostics.runs == [] and not (folder / "state.db").exists()


def test_the_clipboard_text_lists_the_last_runs_without_secrets(tmp_path: Path) -> None:
    text = collect(planted_folder(tmp_path)).as_text()
    assert "ad failed: 2 created, 0 updated, 0 deactivated, 1 failed" in text
    assert BIND_PASSWORD not in text and CLIENT_SECRET not in text


def test_only_the_agents_own_logs_are_bundled_from_a_shared_log_folder(tmp_path: Path) -> None:
    """``LogFolder`` may be a folder other programs write to: their logs stay out."""
    folder = planted_folder(tmp_path)
    logs = folder / "logs"
    (logs / "tray.log.1").write_text("rotated\n")
    (logs / "postgres").mkdir()
    (logs / "postgres" / "postgresql-2026-12-01.log").write_text("another program\n")
    (logs / "ad" / "notes.log").write_text("not a run log\n")
    (logs / "syslog").write_text("not ours\n")
    names = set(collect(folder).logs)
    assert names == {"tray.log", "tray.log.1", "ad/ad-20261201-120000-000001.log"}


def test_a_folder_whose_key_is_lost_still_bundles_its_settings_without_ciphertext(
    tmp_path: Path,
) -> None:
    """The secrets cannot be decrypted (so not scrubbed by value): the fields go by shape."""
    folder = planted_folder(tmp_path)
    (folder / KEY_FILE_NAME).unlink()
    diagnostics = collect(folder)
    assert "Secret key problem" in dict(diagnostics.summary)
    text = diagnostics.as_text()
    assert "enc:v1:" not in text and CLIENT_SECRET not in text
    assert diagnostics.settings["Halo"]["ClientSecret"] == "(removed: secret)"

"""The ``halo-integrator`` command as an admin or a scheduler runs it: a real process."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from halo_emulator import Emulator

from .conftest import SECRET, halo_users, user_rows, write_csv

COMMAND = str(Path(sys.executable).with_name("halo-integrator"))


def cli(
    *args: str, secret: str | None = None, stdin: str = "", **kwargs
) -> subprocess.CompletedProcess:
    env = {**os.environ}
    env.pop("HALO_CLIENT_SECRET", None)
    if secret is not None:
        env["HALO_CLIENT_SECRET"] = secret
    return subprocess.run(
        [COMMAND, *args], input=stdin, capture_output=True, text=True, env=env, timeout=60, **kwargs
    )


def configure(folder: Path, emu: Emulator, **cli_options: Any) -> subprocess.CompletedProcess:
    """``configure`` as a deployment script runs it: the secret in the environment (unless
    ``secret=None`` and ``stdin`` say otherwise)."""
    cli_options.setdefault("secret", emu.client_secret)
    return cli(
        "configure", "--settings", str(folder), "--url", emu.base_url, "--client-id", emu.client_id,
        **cli_options,
    )  # fmt: skip


def configured_folder(tmp_path: Path, emu: Emulator, users: int = 10) -> Path:
    folder = tmp_path / "Daily"
    done = configure(folder, emu)
    assert done.returncode == 0, done.stderr
    write_csv(folder / "users.csv", user_rows(users))
    enabled = cli(
        "module",
        "enable",
        "csv",
        "--settings",
        str(folder),
        "--interval",
        "5m",
        "--set",
        "path=users.csv",
        "--set",
        "target=users",
    )
    assert enabled.returncode == 0, enabled.stderr
    return folder


def test_configure_enable_and_auto_sync_into_halo(tmp_path: Path, emulator: Emulator) -> None:
    folder = configured_folder(tmp_path, emulator)
    run = cli("AUTO", str(folder / "appsettings.json"))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "csv: succeeded: 10 created" in run.stdout
    assert (
        len([u for u in halo_users(emulator) if u["emailaddress"].endswith("@example.com")]) == 10
    )

    status = cli("status", "--json", "--settings", str(folder))
    [entry] = json.loads(status.stdout)
    assert entry["module"] == "csv" and entry["health"] == "ok" and entry["last_success_at"]


def test_the_secret_is_in_no_file_log_or_process_argument(
    tmp_path: Path, emulator: Emulator
) -> None:
    folder = configured_folder(tmp_path, emulator)
    # Each answer takes half a second: once Halo has the first request, the run is still
    # going for as long as it takes to look at its arguments.
    emulator.set_faults(latency_ms=500)
    emulator.reset_stats()  # configure's requests were counted
    env = {k: v for k, v in os.environ.items() if k != "HALO_CLIENT_SECRET"}
    process = subprocess.Popen(
        [COMMAND, "auto", str(folder)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while emulator.stats()["total"] == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert process.poll() is None, "the run ended before its arguments could be read"
    arguments = Path(f"/proc/{process.pid}/cmdline").read_bytes().decode()
    listing = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    assert process.poll() is None, "the run ended while its arguments were read"
    assert "auto" in arguments.split("\0") and str(folder) in arguments
    assert any(line.split(None, 1)[0] == str(process.pid) for line in listing.splitlines()[1:])
    output, errors = process.communicate(timeout=60)
    assert process.returncode == 0, output + errors
    assert SECRET not in arguments and SECRET not in listing

    settings_text = (folder / "appsettings.json").read_text()
    assert SECRET not in settings_text and "enc:v1:" in settings_text
    logs = list((folder / "logs").glob("*.log"))
    assert logs and all(SECRET not in log.read_text() for log in logs)
    assert SECRET not in output + errors
    for private in ("appsettings.json", "appsettings.key"):
        assert stat.S_IMODE((folder / private).stat().st_mode) == 0o600


def test_configure_refuses_a_wrong_secret_and_saves_nothing(
    tmp_path: Path, emulator: Emulator
) -> None:
    folder = tmp_path / "s"
    done = configure(folder, emulator, secret=None, stdin="not-the-secret\n")
    assert done.returncode == 1
    assert done.stdout.lower().count("invalid client credentials") == 1
    assert "Traceback" not in done.stdout + done.stderr
    assert not (folder / "appsettings.json").exists()


def test_auto_with_a_corrupt_settings_file_exits_2_and_leaves_it_alone(
    tmp_path: Path, emulator: Emulator
) -> None:
    folder = configured_folder(tmp_path, emulator)
    path = folder / "appsettings.json"
    lines = path.read_text().splitlines()
    lines[3] = lines[3].rstrip(",")  # a comma lost while editing by hand
    path.write_text("\n".join(lines) + "\n")
    before = path.read_bytes()
    run = cli("AUTO", str(path))
    assert run.returncode == 2
    assert str(path) in run.stderr and "line 4" in run.stderr
    assert "Traceback" not in run.stderr
    assert path.read_bytes() == before


def test_a_failing_module_exits_1(tmp_path: Path, emulator: Emulator) -> None:
    folder = configured_folder(tmp_path, emulator)
    (folder / "users.csv").unlink()
    run = cli("sync", "--settings", str(folder))
    assert run.returncode == 1
    assert "does not exist" in run.stdout


def test_concurrent_runs_of_one_module_one_runs_one_is_skipped(
    tmp_path: Path, emulator: Emulator
) -> None:
    folder = configured_folder(tmp_path, emulator, users=5)
    emulator.set_faults(latency_ms=300)
    env = {k: v for k, v in os.environ.items() if k != "HALO_CLIENT_SECRET"}
    first = subprocess.Popen(
        [COMMAND, "sync", "--settings", str(folder)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 20
    while not list((folder / "logs").glob("csv/csv-*.log")) and time.monotonic() < deadline:
        time.sleep(0.05)  # the first run has its lock once its run log exists
    second = cli("AUTO", str(folder))
    first_output, _ = first.communicate(timeout=60)
    assert "already running" in second.stdout + second.stderr
    assert second.returncode == 0
    assert "csv: succeeded: 5 created" in first_output
    assert len([u for u in halo_users(emulator) if u["emailaddress"].endswith("@example.com")]) == 5


def test_dry_run_from_the_command_line_changes_nothing(tmp_path: Path, emulator: Emulator) -> None:
    folder = configured_folder(tmp_path, emulator)
    run = cli("sync", "csv", "--dry-run", "--settings", str(folder))
    assert run.returncode == 0
    assert "would make: 10 created" in run.stdout
    assert "would create line 2: User N1" in run.stdout
    assert not [u for u in halo_users(emulator) if u["emailaddress"].endswith("@example.com")]


def test_validate_reports_green_and_red(tmp_path: Path, emulator: Emulator) -> None:
    folder = configured_folder(tmp_path, emulator)
    good = cli("validate", "--settings", str(folder))
    assert good.returncode == 0
    assert good.stdout.splitlines()[0].split()[:3] == ["OK", "Halo:", "Connected"]
    assert good.stdout.splitlines()[1].split()[:3] == ["OK", "csv", "(csv):"]
    emulator_two = Emulator(client_secret="another-secret", rate_limit=None).start()
    try:
        text = (folder / "appsettings.json").read_text()
        (folder / "appsettings.json").write_text(
            text.replace(emulator.base_url, emulator_two.base_url)
        )
        bad = cli("validate", "--settings", str(folder))
    finally:
        emulator_two.stop()
    assert bad.returncode == 1 and bad.stdout.lower().count("invalid client credentials") == 1


def test_module_commands(tmp_path: Path, emulator: Emulator) -> None:
    folder = configured_folder(tmp_path, emulator)
    shown = cli("module", "show", "csv", "--settings", str(folder))
    assert "path = users.csv" in shown.stdout and "key_column" in shown.stdout
    refused = cli("module", "enable", "csv", "--settings", str(folder), "--set", "target=printers")
    assert refused.returncode == 2 and "printers" in refused.stderr
    assert "target=printers" not in (folder / "appsettings.json").read_text()
    assert cli("module", "disable", "csv", "--settings", str(folder)).returncode == 0
    idle = cli("AUTO", str(folder))
    assert idle.returncode == 0 and "No module is enabled" in idle.stdout
    listed = cli("modules")
    assert listed.returncode == 0 and listed.stdout.startswith("csv")


def test_configure_recovers_a_folder_whose_key_was_lost(tmp_path: Path, emulator: Emulator) -> None:
    folder = configured_folder(tmp_path, emulator)
    (folder / "appsettings.key").unlink()  # e.g. the folder was copied without its key
    broken = cli("AUTO", str(folder))
    assert broken.returncode == 2 and "appsettings.key" in broken.stderr
    fixed = configure(folder, emulator)
    assert fixed.returncode == 0, fixed.stderr
    assert "could not be decrypted" in fixed.stderr
    assert "csv" in (folder / "appsettings.json").read_text()  # the modules were kept
    assert cli("AUTO", str(folder)).returncode == 0


def test_configure_refuses_a_secret_too_short_to_mask_and_saves_nothing(
    tmp_path: Path, emulator: Emulator
) -> None:
    folder = tmp_path / "s"
    for given in ({"secret": "x7Q"}, {"secret": None, "stdin": "x7Q\n"}):
        done = configure(folder, emulator, **given)
        assert done.returncode == 2, done.stdout + done.stderr
        assert "shorter than 8 characters" in done.stderr
        assert "x7Q" not in done.stdout + done.stderr
        assert not folder.exists()


def test_configure_refuses_a_url_with_a_password_and_never_shows_it(
    tmp_path: Path, emulator: Emulator
) -> None:
    folder = tmp_path / "s"
    with_password = emulator.base_url.replace("://", "://admin:pa55-word@")
    attempts = [
        ["--url", with_password],
        ["--url", emulator.base_url, "--auth-url", with_password],
    ]
    for url_arguments in attempts:
        for extra in ([], ["--no-validate"]):
            done = cli(
                "configure",
                "--settings",
                str(folder),
                *url_arguments,
                "--client-id",
                emulator.client_id,
                *extra,
                secret=emulator.client_secret,
            )
            assert done.returncode == 2, done.stdout + done.stderr
            assert "user name or password" in done.stderr
            assert "pa55-word" not in done.stdout + done.stderr
            assert not folder.exists()


def test_diagnostics_writes_a_bundle_of_the_last_runs_without_the_secret(
    tmp_path: Path, emulator: Emulator
) -> None:
    """The same bundle as the About tab's: after a real run, one zip, no secret in it."""
    import zipfile

    folder = configured_folder(tmp_path, emulator, users=3)
    assert cli("sync", "--settings", str(folder)).returncode == 0
    target = tmp_path / "ticket" / "bundle.zip"
    done = cli("diagnostics", "--settings", str(folder), "-o", str(target))
    assert done.returncode == 0, done.stderr
    assert f"Wrote {target}" in done.stdout
    with zipfile.ZipFile(target) as bundle:
        texts = {name: bundle.read(name).decode() for name in bundle.namelist()}
    assert any(name.startswith("logs/csv/csv-") for name in texts)
    [run] = json.loads(texts["runs.json"])
    assert (run["module"], run["outcome"], run["created"]) == ("csv", "succeeded", 3)
    key = (folder / "appsettings.key").read_text().strip()
    assert all(SECRET not in text and key not in text for text in texts.values())

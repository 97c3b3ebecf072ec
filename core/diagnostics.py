"""The diagnostics bundle: what support asks first, in one zip an admin attaches to a ticket.

Versions, where the files live, the settings with every secret removed, the last runs from
the state DB and the newest logs (their tails). The settings dialog's About tab (Copy
diagnostics, Save diagnostics bundle) and ``halo-integrator diagnostics`` both call this, so
the two never differ. The key file and the state DB itself are never included, and every text
member goes through ``core.settings.redacted.scrub_text`` with the folder's own secret values
before it is written: a secret that slipped into a log line or an error is removed there too.
"""

from __future__ import annotations

import dataclasses
import datetime
import glob
import json
import platform
import sqlite3
import zipfile
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from core import __version__
from core.errors import IntegratorError
from core.settings.model import DEFAULT_LOG_FOLDER, resolve_settings_path
from core.settings.reader import load_settings
from core.settings.redacted import redacted_settings, scrub_text
from core.settings.secrets import KEY_FILE_NAME
from core.state.store import STATE_FILE_NAME, StateStore

LIBRARIES = (
    "httpx",
    "cryptography",
    "platformdirs",
    "filelock",
    "ldap3",
    "SQLAlchemy",
    "pystray",
    "Pillow",
    "plyer",
    "schedule",
)
RUNS_IN_BUNDLE = 50
LOG_FILES_IN_BUNDLE = 12
LOG_TAIL_BYTES = 256_000  # of each log: the end is where the failure is
RUNS_IN_TEXT = 10


@dataclass
class Diagnostics:
    """Everything a bundle holds, already free of secrets (``collect`` made sure)."""

    summary: list[tuple[str, str]]
    settings: Any  # the redacted document, or a sentence saying why there is none
    runs: list[dict[str, Any]]
    statuses: list[dict[str, Any]] = field(default_factory=list)  # per module, from state.db
    logs: dict[str, str] = field(default_factory=dict)  # name in the zip -> scrubbed tail

    def as_text(self) -> str:
        """The clipboard form: summary, settings and the last few runs (no logs)."""
        lines = ["Halo Integrator diagnostics", ""]
        lines += [f"{label}: {value}" for label, value in self.summary]
        lines += ["", "Settings (secrets removed):", _json(self.settings), "", "Last runs:"]
        lines += [_run_line(run) for run in self.runs[:RUNS_IN_TEXT]] or ["(none recorded)"]
        return "\n".join(lines) + "\n"


def library_versions() -> list[tuple[str, str]]:
    """(name, version or "not installed") for the libraries support asks about."""
    versions = []
    for name in LIBRARIES:
        try:
            versions.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            versions.append((name, "not installed"))
    return versions


def collect(settings_path: str | Path | None) -> Diagnostics:
    """Read the folder of ``settings_path`` and return its diagnostics, secrets removed.

    Never raises for a broken folder (an unreadable settings file or state DB is what
    support needs to hear about): the problem is written where the content would be.
    """
    path = resolve_settings_path(settings_path)
    folder = path.parent
    secrets, log_folder, load_problem = _secrets_and_logs(path)
    summary = [
        ("Generated", datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")),
        ("Halo Integrator", __version__),
        ("Python", f"{platform.python_version()} ({platform.platform()})"),
        *library_versions(),
        ("Settings file", str(path)),
        ("Logs folder", str(log_folder)),
        ("State database", str(folder / STATE_FILE_NAME)),
    ]
    if load_problem:
        summary.append(load_problem)
    runs, statuses = _state(folder)
    diagnostics = Diagnostics(
        summary=[(label, scrub_text(value, secrets)) for label, value in summary],
        settings=_settings_document(path, secrets),
        runs=[_scrubbed_run(run, secrets) for run in runs],
        statuses=[_scrubbed_run(status, secrets) for status in statuses],
        logs={name: scrub_text(text, secrets) for name, text in _newest_logs(log_folder)},
    )
    return diagnostics


def write_bundle(settings_path: str | Path | None, target: Path) -> Path:
    """Write the zip to ``target`` (a folder gets a dated file name); returns its path."""
    diagnostics = collect(settings_path)
    if target.is_dir():
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        target = target / f"halo-integrator-diagnostics-{stamp}.zip"
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("summary.txt", diagnostics.as_text())
        bundle.writestr("settings.json", _json(diagnostics.settings))
        bundle.writestr("runs.json", _json(diagnostics.runs))
        bundle.writestr("status.json", _json(diagnostics.statuses))
        for name, text in diagnostics.logs.items():
            bundle.writestr(f"logs/{name}", text)
    return target


def _secrets_and_logs(path: Path) -> tuple[list[str], Path, tuple[str, str] | None]:
    """The folder's secret values (to scrub), its logs folder, and why loading failed
    (the error's title and sentence, e.g. "Secret key problem", "… appsettings.key …")."""
    key_text = _key_file_text(path.parent)
    try:
        settings = load_settings(path)
    except IntegratorError as exc:
        return key_text, path.parent / DEFAULT_LOG_FOLDER, (exc.title, str(exc))
    return settings.secret_values() + key_text, settings.log_folder, None


def _key_file_text(folder: Path) -> list[str]:
    """The key file's content, only so that it is scrubbed should it appear anywhere."""
    try:
        text = (folder / KEY_FILE_NAME).read_bytes().decode("utf-8", "replace")
    except OSError:
        return []
    return [line.strip() for line in text.splitlines() if line.strip()]


def _settings_document(path: Path, secrets: list[str]) -> Any:
    try:
        document = json.loads(path.read_bytes().decode("utf-8-sig"))
    except FileNotFoundError:
        return "(no settings file yet)"
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        # Broken text cannot be redacted field by field, so none of it is included.
        return f"(the settings file could not be read as JSON: {scrub_text(str(exc), secrets)})"
    return redacted_settings(document, secrets)


def _state(folder: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(the newest runs of every module, each module's status: last error, failures in a
    row); both empty when there is no state DB, which is not created for this."""
    if not (folder / STATE_FILE_NAME).exists():
        return [], []
    try:
        state = StateStore(folder)
        runs = state.latest_runs(RUNS_IN_BUNDLE)
        names = dict.fromkeys(str(run["module"]) for run in runs)
        statuses = [state.status(name) for name in names]
    except (IntegratorError, sqlite3.Error) as exc:
        return [{"error": f"the state database could not be read: {exc}"}], []
    return runs, [dataclasses.asdict(status) for status in statuses if status is not None]


def _scrubbed_run(run: dict[str, Any], secrets: list[str]) -> dict[str, Any]:
    scrubbed = {
        key: scrub_text(value, secrets) if isinstance(value, str) else value
        for key, value in run.items()
    }
    for stamp in ("started_at", "finished_at", "last_run_at", "last_success_at", "last_error_at"):
        if isinstance(run.get(stamp), int | float):
            scrubbed[f"{stamp}_utc"] = datetime.datetime.fromtimestamp(
                run[stamp], datetime.UTC
            ).strftime("%Y-%m-%d %H:%M:%S")
    return scrubbed


def _newest_logs(log_folder: Path) -> list[tuple[str, str]]:
    """(name relative to the logs folder, tail) of the agent's most recently written logs."""
    try:
        found = [(path.stat().st_mtime, path) for path in _agent_logs(log_folder)]
    except OSError:
        return []
    newest = sorted(found, reverse=True)
    return [
        (path.relative_to(log_folder).as_posix(), _tail(path))
        for _, path in newest[:LOG_FILES_IN_BUNDLE]
    ]


def _agent_logs(log_folder: Path) -> list[Path]:
    """The files the agent writes there: ``tray.log``, ``auto.log`` (and their rotations) and
    ``<module>/<module>-<stamp>.log``. Only those: ``LogFolder`` may point at a folder other
    programs log to as well, and their logs are not ours to send."""
    if not log_folder.is_dir():
        return []
    logs = [path for path in log_folder.glob("*.log*") if _is_log_name(path.name)]
    for folder in (child for child in log_folder.iterdir() if child.is_dir()):
        logs += folder.glob(f"{glob.escape(folder.name)}-*.log")
    return [path for path in logs if path.is_file()]


def _is_log_name(name: str) -> bool:
    """``x.log`` or a rotation of it (``x.log.1``)."""
    stem, _, rotation = name.partition(".log")
    return bool(stem) and (rotation == "" or rotation[1:].isdigit())


def _tail(path: Path) -> str:
    try:
        with path.open("rb") as stream:
            size = stream.seek(0, 2)
            stream.seek(max(0, size - LOG_TAIL_BYTES))
            data = stream.read()
    except OSError as exc:
        return f"(could not be read: {exc.strerror})"
    cut = "(only the end of this log is included)\n" if size > LOG_TAIL_BYTES else ""
    return cut + data.decode("utf-8", "replace")


def _run_line(run: dict[str, Any]) -> str:
    if "error" in run and "module" not in run:
        return str(run["error"])
    counts = ", ".join(
        f"{run.get(name, 0)} {name}" for name in ("created", "updated", "deactivated", "failed")
    )
    error = f" — {run['error']}" if run.get("error") else ""
    started = run.get("started_at_utc", "?")
    return f"{started} {run.get('module')} {run.get('outcome')}: {counts}{error}"


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n"

"""The module runner: what happens around a module's ``run`` in the tray, AUTO and the CLI.

For each chosen module: take its inter-process lock (or skip, "already running"), open a log
file for the run, record the run in the state DB, run it against one shared Halo client
(one token, one pacer), report Last Sync / Last Error and record failures to Halo, and tell
listeners (the tray) what happened. A module failing at run time never stops the others;
invalid options in the settings stop the whole run before it starts (exit code 2).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import AlreadyRunningError, ConfigError, IntegratorError
from core.halo.client import HaloClient, application_pacer
from core.modules.base import RunContext, SyncModule
from core.modules.options import parse_options
from core.modules.registry import module_class
from core.run.locks import module_lock
from core.run.logs import redact, run_log_file
from core.run.reporting import report_failures, report_run
from core.settings.model import ModuleSettings, Settings
from core.state.store import RunCounts, StateStore
from core.sync.engine import SyncResult
from core.sync.plan import RecordFailure

log = logging.getLogger("halo_integrator.runner")

SUCCEEDED, FAILED, SKIPPED, DRY_RUN = "succeeded", "failed", "skipped", "dry-run"
REPORTED_FAILURES = "reported_failures"  # checkpoint name


@dataclass
class ModuleRunResult:
    """What one module's run did, for summaries, exit codes and notifications."""

    module: str
    outcome: str
    counts: RunCounts = field(default_factory=RunCounts)
    error: str | None = None
    failures: list[RecordFailure] = field(default_factory=list)
    log_file: Path | None = None
    duration_seconds: float = 0.0
    recovered: bool = False
    sync: SyncResult | None = None

    @property
    def ok(self) -> bool:
        return self.outcome in (SUCCEEDED, DRY_RUN)


@dataclass(frozen=True)
class RunEvent:
    """``started`` / ``finished`` / ``progress``, for front ends; ``result`` when finished."""

    kind: str
    module: str
    result: ModuleRunResult | None = None
    phase: str = ""
    done: int = 0
    total: int = 0


Listener = Callable[[RunEvent], None]


class Runner:
    """Runs modules of one settings folder; safe to use from several threads."""

    def __init__(
        self,
        settings: Settings,
        *,
        origin: str = "cli",
        state: StateStore | None = None,
        client_factory: Callable[[], HaloClient] | None = None,
        listeners: Sequence[Listener] = (),
    ) -> None:
        self.settings = settings
        self.origin = origin
        self.state = state or StateStore(settings.folder)
        self._client_factory = client_factory or (
            lambda: HaloClient(settings.halo, pacer=application_pacer(settings.halo))
        )
        self.listeners = list(listeners)

    def prepare(
        self, names: Sequence[str] | None = None, *, record_failures: bool = False
    ) -> list[tuple[ModuleSettings, SyncModule]]:
        """The modules to run, with validated options; ConfigError (line, field) otherwise.

        With ``record_failures``, each module whose options are invalid also gets a failed
        run in the state DB, so the tray turns red and notifies even when an unattended AUTO
        run was the one that found the problem.
        """
        chosen = self._choose(names)
        prepared, problems = [], []
        broken: dict[str, list[tuple[str, str]]] = {}
        for index, entry in chosen:
            try:
                cls = module_class(entry.name)
            except ConfigError as exc:
                found = [(f"Modules[{index}].Name", exc.message + " " + exc.hint)]
            else:
                options, option_problems = parse_options(cls.Options, entry.options)
                found = [(f"Modules[{index}].Options.{name}", m) for name, m in option_problems]
                if options is not None:
                    prepared.append((entry, cls(options)))
            if found:
                problems += found
                broken[entry.name] = found
        if problems:
            if record_failures:
                for name, found in broken.items():
                    self._record_failure(name, str(self._options_error(found)))
            raise self._options_error(problems)
        return prepared

    def _record_failure(self, module: str, message: str) -> None:
        run_id = self.state.start_run(module, self.origin)
        self.state.finish_run(run_id, module, FAILED, RunCounts(), message)

    def run(
        self,
        names: Sequence[str] | None = None,
        *,
        dry_run: bool = False,
        allow_mass_deactivation: bool = False,
    ) -> list[ModuleRunResult]:
        """Run the named modules (default: every enabled one) one after the other."""
        prepared = self.prepare(names, record_failures=not dry_run)
        client = self._client_factory()
        try:
            return [
                self._run_one(entry, module, client, dry_run, allow_mass_deactivation)
                for entry, module in prepared
            ]
        finally:
            client.close()

    # -- one module -------------------------------------------------------------------------

    def _run_one(
        self,
        entry: ModuleSettings,
        module: SyncModule,
        client: HaloClient,
        dry_run: bool,
        allow_mass_deactivation: bool,
    ) -> ModuleRunResult:
        started = time.monotonic()
        context = RunContext(
            client=client,
            state=self.state,
            module=entry.name,
            settings_folder=self.settings.folder,
            dry_run=dry_run,
            allow_mass_deactivation=allow_mass_deactivation,
            progress=lambda phase, done, total: self._emit(
                RunEvent("progress", entry.name, phase=phase, done=done, total=total)
            ),
            log=logging.getLogger(f"halo_integrator.modules.{entry.name}"),
        )
        try:
            with module_lock(self.settings.folder, entry.name):
                result = self._run_locked(entry, module, context)
        except AlreadyRunningError as exc:
            log.warning("%s", exc)
            result = ModuleRunResult(entry.name, SKIPPED, error=str(exc))
        except (OSError, sqlite3.Error) as exc:  # logs folder or state DB unusable
            message = f"Cannot write the run's log or state in {self.settings.folder}: {exc}"
            log.error("%s", message)
            result = ModuleRunResult(entry.name, FAILED, error=message)
        result.duration_seconds = time.monotonic() - started
        self._emit(RunEvent("finished", entry.name, result))
        return result

    def _run_locked(
        self, entry: ModuleSettings, module: SyncModule, context: RunContext
    ) -> ModuleRunResult:
        secrets = self._secret_values(entry)
        client = context.client
        with run_log_file(self.settings.log_folder, entry.name, secrets) as log_path:
            self._emit(RunEvent("started", entry.name))
            previous = self.state.status(entry.name)
            run_id = None if context.dry_run else self.state.start_run(entry.name, self.origin)
            requests_before = client.stats.requests_sent
            result = self._execute(entry, module, context, secrets)
            result.log_file = log_path
            requests = client.stats.requests_sent - requests_before
            result.counts = dataclasses.replace(result.counts, requests=requests)
            log.info("%s %s: %s", entry.name, result.outcome, summary(result.counts))
            if run_id is not None:
                self.state.finish_run(
                    run_id, entry.name, result.outcome, result.counts, result.error
                )
                result.recovered = (
                    result.ok and previous is not None and previous.consecutive_failures > 0
                )
                self._report(entry, module, client, result)
            return result

    def _execute(
        self, entry: ModuleSettings, module: SyncModule, context: RunContext, secrets: list[str]
    ) -> ModuleRunResult:
        outcome = DRY_RUN if context.dry_run else SUCCEEDED
        try:
            sync = module.run(context)
        except IntegratorError as exc:
            log.error("%s failed: %s", entry.name, exc)
            applied = exc.partial if isinstance(exc.partial, SyncResult) else None
            return ModuleRunResult(
                entry.name,
                FAILED,
                counts=applied.counts if applied else RunCounts(),
                error=redact(str(exc), secrets),
                failures=applied.failures if applied else [],
                sync=applied,
            )
        except Exception as exc:  # a bug in a module must not take the agent down
            log.exception("%s failed with an unexpected error", entry.name)
            message = f"Unexpected error in module {entry.name}: {type(exc).__name__}: {exc}"
            return ModuleRunResult(entry.name, FAILED, error=redact(message, secrets))
        result = ModuleRunResult(
            entry.name, outcome, counts=sync.counts, failures=sync.failures, sync=sync
        )
        if sync.guard_error is not None:
            result.outcome, result.error = FAILED, str(sync.guard_error)
        return result

    def _report(
        self, entry: ModuleSettings, module: SyncModule, client: HaloClient, result: ModuleRunResult
    ) -> None:
        report_run(client, module.status_record, entry.halo_record_id, error=result.error)
        if result.sync is not None:
            new = self._new_failures(entry.name, result.failures)
            report_failures(client, entry.name, result.sync.entity, new)

    def _new_failures(self, module: str, failures: list[RecordFailure]) -> list[RecordFailure]:
        """Failures not reported by the previous run: a bad row in a 5-minute module must not
        add 288 identical integration errors to Halo a day. A failure that goes away and
        comes back is reported again."""
        current = {f"{failure.key}\n{failure.message}" for failure in failures}
        previous = set(json.loads(self.state.checkpoint(module, REPORTED_FAILURES) or "[]"))
        self.state.set_checkpoint(module, REPORTED_FAILURES, json.dumps(sorted(current)))
        return [f for f in failures if f"{f.key}\n{f.message}" not in previous]

    # -- helpers ----------------------------------------------------------------------------

    def _choose(self, names: Sequence[str] | None) -> list[tuple[int, ModuleSettings]]:
        indexed = list(enumerate(self.settings.modules))
        if not names:
            return [(index, entry) for index, entry in indexed if entry.enabled]
        by_name = {entry.name: (index, entry) for index, entry in indexed}
        missing = [name for name in names if name not in by_name]
        if missing:
            configured = ", ".join(by_name) or "none"
            raise ConfigError(
                f"Not configured: {', '.join(missing)} (configured: {configured}).",
                path=str(self.settings.path),
                hint="Add it with: halo-integrator module enable NAME",
            )
        return [by_name[name] for name in names]

    def _options_error(self, problems: list[tuple[str, str]]) -> ConfigError:
        lines = [
            f"line {line}, {field_path}: {message}"
            if (line := self.settings.line_of(field_path))
            else f"{field_path}: {message}"
            for field_path, message in problems
        ]
        first_field = problems[0][0]
        return ConfigError(
            "Invalid module options:\n  " + "\n  ".join(lines),
            path=str(self.settings.path),
            line=self.settings.line_of(first_field),
            field=first_field,
        )

    def _secret_values(self, entry: ModuleSettings) -> list[str]:
        values = entry.secret_values()
        if self.settings.halo.client_secret is not None:
            values.append(self.settings.halo.client_secret.reveal())
        return values

    def _emit(self, event: RunEvent) -> None:
        for listener in self.listeners:
            try:
                listener(event)
            except Exception:  # a front end's bug must not break a run
                log.exception("A run listener failed")


def summary(counts: RunCounts) -> str:
    """One line an admin reads in a terminal, a log or a tooltip."""
    return (
        f"{counts.created} created, {counts.updated} updated, {counts.unchanged} unchanged, "
        f"{counts.deactivated} deactivated, {counts.failed} failed, {counts.requests} requests"
    )

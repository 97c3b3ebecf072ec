"""The module runner: what happens around a module's ``run`` in the tray, AUTO and the CLI.

For each chosen module instance: skip it when AUTO --due finds it not due, take its
inter-process lock (or skip, "already running"), open a log file for the run, record the run
in the state DB, run it against one shared Halo client (one token, one pacer), report Last
Sync / Last Error and record failures to Halo, and tell listeners (the tray) what happened. A
module failing at run time never stops the others; invalid options in the settings stop the
whole run before it starts (exit code 2).
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from core.errors import (
    AlreadyRunningError,
    ConfigError,
    HaloConnectionError,
    IntegratorError,
    StateError,
)
from core.halo.client import HaloClient
from core.halo.pacing import application_pacer
from core.modules.base import SyncModule
from core.modules.registry import build_module
from core.outcomes import EntityResult, Outcome, RunCounts, summary, total
from core.run.context import RunContext
from core.run.due import is_due
from core.run.events import Listener, ModuleRunResult, RunEvent
from core.run.lease import SETTLE_SECONDS, LeaseHeldError, LeaseHolder, SourceLease
from core.run.locks import module_lock
from core.run.logs import redact, run_log_file
from core.run.reporting import report_failures, report_run
from core.run.request import RunRequest
from core.settings.model import ModuleSettings, Settings
from core.settings.writer import save_settings
from core.state.store import StateStore

log = logging.getLogger("halo_integrator.runner")


@dataclass(frozen=True)
class Prepared:
    """A module instance ready to run: its settings entry and its module object."""

    entry: ModuleSettings
    module: SyncModule


class Runner:
    """Runs module instances of one settings folder; safe to use from several threads."""

    def __init__(
        self,
        settings: Settings,
        *,
        origin: str = "cli",
        state: StateStore | None = None,
        client_factory: Callable[[], HaloClient] | None = None,
        listeners: Sequence[Listener] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.origin = origin
        self.state = state or StateStore(settings.folder)
        self._client_factory = client_factory or (
            lambda: HaloClient(settings.halo, pacer=application_pacer(settings.halo))
        )
        self.listeners = list(listeners)
        self._clock = clock
        # The pause between writing a lease and reading it back (tests shorten it).
        self.lease_settle_seconds = SETTLE_SECONDS

    def prepare(
        self, names: Sequence[str] = (), *, record_failures: bool = False
    ) -> list[Prepared]:
        """The instances to run, with validated options; ConfigError (line, field) otherwise.

        With ``record_failures``, each instance whose options are invalid also gets a failed
        run in the state DB, so the tray turns red and notifies even when an unattended AUTO
        run was the one that found the problem.
        """
        prepared, problems = [], []
        broken: dict[str, list[tuple[str, str]]] = {}
        for index, entry in self._choose(names):
            module, problems_here = build_module(entry)
            found = [(f"Modules[{index}].{path}", message) for path, message in problems_here]
            if module is not None:
                prepared.append(Prepared(entry, module))
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
        self.state.finish_run(run_id, module, Outcome.FAILED, RunCounts(), message)

    def run(self, request: RunRequest | None = None) -> list[ModuleRunResult]:
        """Run the requested instances (default: every enabled one) one after the other."""
        request = request or RunRequest()
        if self.settings.assigned_ids:
            # Keep the ids just given before any record in Halo is marked with one.
            save_settings(self.settings)
        prepared = self.prepare(request.modules, record_failures=not request.dry_run)
        results: list[ModuleRunResult] = []
        client: HaloClient | None = None
        try:
            for item in prepared:
                if request.only_due and not self._due(item.entry):
                    results.append(ModuleRunResult(item.entry.name, Outcome.NOT_DUE))
                    continue
                # Opened for the first instance that runs: a --due run with nothing due
                # sends no request at all, not even for a token.
                client = client or self._client_factory()
                results.append(self._run_one(item, client, request))
        finally:
            if client is not None:
                client.close()
        return results

    def _due(self, entry: ModuleSettings) -> bool:
        status = self.state.status(entry.name)
        return is_due(entry.interval, status.last_started_at if status else None, self._clock())

    # -- one module -------------------------------------------------------------------------

    def _run_one(self, item: Prepared, client: HaloClient, request: RunRequest) -> ModuleRunResult:
        started = time.monotonic()
        name = item.entry.name
        context = RunContext(
            instance=name,
            instance_id=item.entry.id,
            settings_folder=self.settings.folder,
            log=logging.getLogger(f"halo_integrator.modules.{name}"),
            client=client,
            state=self.state,
            request=request,
            progress=lambda phase, done, count: self._emit(
                RunEvent("progress", name, phase=phase, done=done, total=count)
            ),
            safe_point=lambda: self._emit(RunEvent("safe-point", name)),
        )
        try:
            with module_lock(self.settings.folder, name):
                result = self._run_locked(item, context)
        except AlreadyRunningError as exc:
            log.warning("%s", exc)
            result = ModuleRunResult(name, Outcome.SKIPPED, error=str(exc))
        except (OSError, sqlite3.Error) as exc:  # logs folder or state DB unusable
            message = f"Cannot write the run's log or state in {self.settings.folder}: {exc}"
            log.error("%s", message)
            result = ModuleRunResult(name, Outcome.FAILED, error=message)
        result.duration_seconds = time.monotonic() - started
        self._emit(RunEvent("finished", name, result))
        return result

    def _run_locked(self, item: Prepared, context: RunContext) -> ModuleRunResult:
        entry, client = item.entry, context.client
        secrets = self._secret_values(entry)
        with run_log_file(self.settings.log_folder / entry.name, entry.name, secrets) as log_path:
            self._emit(RunEvent("started", entry.name))
            previous = self.state.status(entry.name)
            dry_run = context.request.dry_run
            run_id = None if dry_run else self.state.start_run(entry.name, self.origin)
            requests_before = client.stats.requests_sent
            result = ModuleRunResult(
                entry.name, Outcome.FAILED, error="the run did not finish", parts=context.results
            )
            try:
                result = self._execute(item, context, secrets)
                result.log_file = log_path
                if run_id is not None:
                    result.recovered = (
                        result.ok and previous is not None and previous.consecutive_failures > 0
                    )
                    self._report(item, client, result)
            finally:
                # Counted last, so the token and the status report are in it too.
                requests = client.stats.requests_sent - requests_before
                result.counts = total(result.parts) + RunCounts(requests=requests)
                # Whatever happened above, the run's row never stays "running".
                if run_id is not None:
                    self._finish(run_id, result)
            self._log_summary(result)
            return result

    def _finish(self, run_id: int, result: ModuleRunResult) -> None:
        """Record the run's end; a state DB that cannot take it fails the run, in one sentence.

        The row then stays "running" and the next run closes it as interrupted.
        """
        try:
            self.state.finish_run(
                run_id,
                result.module,
                result.outcome,
                result.counts,
                result.error,
                [_detail(part) for part in result.parts],
            )
        except StateError as exc:
            log.error("%s: the run's result was not recorded: %s", result.module, exc)
            _fail_for_state(result, exc)

    def _log_summary(self, result: ModuleRunResult) -> None:
        if result.outcome is Outcome.FAILED and result.error:
            # "csv failed: <why>" is logged already; a second "csv failed:" line would read
            # as a second failure in a log tail.
            log.info("%s before it failed: %s", result.module, result.summary())
        else:
            log.info("%s %s: %s", result.module, result.outcome, result.summary())
        for part in result.parts if len(result.parts) > 1 else ():
            log.info(
                "%s %s: %s", result.module, part.entity, summary(part.counts, kinds={part.kind})
            )

    def _execute(self, item: Prepared, context: RunContext, secrets: list[str]) -> ModuleRunResult:
        name = item.entry.name
        lease = self._lease(item, context)
        try:
            if missing := item.module.missing_extra():
                raise ConfigError(f"{name} ({item.entry.type}) {missing}.")
            if lease is not None:
                lease.acquire()
                context.safe_point = _renewing(lease, context.safe_point)
            item.module.run(context)
            if _accepted_whole(context):
                context.commit_checkpoints()
        except LeaseHeldError as exc:
            log.warning("%s: %s", name, exc)
            return ModuleRunResult(name, Outcome.SKIPPED, error=str(exc), parts=context.results)
        except IntegratorError as exc:
            log.error("%s failed: %s", name, exc)
            error = redact(str(exc), secrets)
            failed = ModuleRunResult(name, Outcome.FAILED, error=error, parts=context.results)
            failed.halo_unreachable = isinstance(exc, HaloConnectionError)
            failed.state_unusable = isinstance(exc, StateError)
            return failed
        except Exception as exc:  # a bug in a module must not take the agent down
            log.exception("%s failed with an unexpected error", name)
            message = f"Unexpected error in module {name}: {type(exc).__name__}: {exc}"
            error = redact(message, secrets)
            return ModuleRunResult(name, Outcome.FAILED, error=error, parts=context.results)
        finally:
            if lease is not None:
                lease.release()
        refusals = [part.refusal for part in context.results if part.refusal]
        if refusals:
            return ModuleRunResult(
                name, Outcome.REFUSED, error=" ".join(refusals), parts=context.results
            )
        if context.request.dry_run:
            return ModuleRunResult(name, Outcome.DRY_RUN, parts=context.results)
        return ModuleRunResult(name, Outcome.SUCCEEDED, parts=context.results)

    def _lease(self, item: Prepared, context: RunContext) -> SourceLease | None:
        """A lease on the integration's own Halo record, when it has one and the run writes."""
        record = item.module.status_record
        record_id = item.module.status_record_id() or item.entry.halo_record_id
        if context.request.dry_run or record is None or not record.needs_id or not record_id:
            return None
        holder = LeaseHolder.for_run(item.entry.id, str(self.settings.folder))
        return SourceLease(
            context.client, record, record_id, holder, settle_seconds=self.lease_settle_seconds
        )

    def _report(self, item: Prepared, client: HaloClient, result: ModuleRunResult) -> None:
        """Last Sync / Last Error and new record failures to Halo, unless Halo is unreachable.

        A run that failed because Halo did not answer would only wait for it again.
        """
        if result.halo_unreachable:
            return
        entry = item.entry
        record_id = item.module.status_record_id() or entry.halo_record_id
        report_run(client, item.module.status_record, record_id, error=result.error)
        if result.state_unusable:
            return  # which failures Halo was told about is kept in the state DB
        try:
            for part in result.parts:
                new = self.state.unreported(entry.name, part.entity, part.failures)
                sent = report_failures(client, entry.name, part.entity, new) if new else True
                self.state.mark_reported(entry.name, part.entity, part.failures, sent=sent)
        except StateError as exc:
            log.error("%s: record failures not reported to Halo: %s", entry.name, exc)
            _fail_for_state(result, exc)

    # -- helpers ----------------------------------------------------------------------------

    def _choose(self, names: Sequence[str]) -> list[tuple[int, ModuleSettings]]:
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
                hint="Add it with: halo-integrator module enable TYPE --name NAME",
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


def _fail_for_state(result: ModuleRunResult, error: StateError) -> None:
    """A state DB that failed after the work: the run fails, unless it already had."""
    if result.ok:
        result.outcome, result.error = Outcome.FAILED, str(error)
    result.state_unusable = True


def _renewing(lease: SourceLease, safe_point: Callable[[], None]) -> Callable[[], None]:
    def renew_then_park() -> None:
        lease.renew_if_due()
        safe_point()

    return renew_then_park


def _accepted_whole(context: RunContext) -> bool:
    """Halo took every record of the run: its checkpoints may move (see stage_checkpoint)."""
    if context.request.dry_run:
        return False
    return not any(part.refusal or part.failures for part in context.results)


# A refused run keeps this many of the keys it withheld: enough for "what would go".
WITHHELD_KEYS_KEPT = 10


def _detail(part: EntityResult) -> dict[str, object]:
    """One entity's share of a run, as the state DB's ``details`` keeps it for ``status``.

    A refusal keeps how many deactivations it withheld and the first keys, so the tray can
    say what "allow once" would deactivate, even for a run AUTO made.
    """
    detail: dict[str, object] = {"entity": part.entity, "kind": part.kind, **part.counts.as_dict()}
    if part.refusal:
        detail["refusal"] = part.refusal
    if part.withheld:
        detail["withheld"] = len(part.withheld)
        detail["withheld_keys"] = part.withheld[:WITHHELD_KEYS_KEPT]
    return detail

"""``powershell``: run the scripts Halo tickets queue, at most once each, and report back.

A queue in the cloud asks this jump box to execute things, so the module trusts Halo for
*which* script and *which values* only: the file must be inside the local ``scripts_folder``
(and on ``allowed_scripts`` when set), the interpreter comes from the local configuration,
values go in as separate arguments, secrets through the environment, and a deadline kills
the whole process tree (``core.sources.script_paths`` / ``script_commands`` /
``script_process``). Each entry goes through the work ledger: claimed before its script
starts, its result kept before Halo is told. After a crash an entry claimed but without a
result is reported as "outcome unknown, not re-run", and one with a kept result gets that
result again, so no script ever runs twice for one queue entry.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from core.errors import AlreadyRunningError, HaloConnectionError, HaloError, ScriptRefusedError
from core.modules.base import StatusRecord, SyncModule
from core.modules.options import option
from core.run.context import QueueTally, RunContext, SourceContext
from core.run.locks import module_lock
from core.run.reporting import report_run
from core.settings.secrets import Secret
from core.sources.script_commands import (
    PARAMETER_NAME,
    command_line,
    interpreter_for,
    interpreters,
)
from core.sources.script_paths import resolve_script
from core.sources.script_process import run_script
from core.sources.script_queue import QueuedRun, ScriptDefinition, ScriptQueue
from core.sources.script_results import UNKNOWN_OUTCOME, ScriptResult, judge
from core.state.ledger import WorkLedger

# The queue belongs to the Halo instance, not to a module instance: every powershell
# instance of one settings folder shares one ledger and one lock, so two of them never both
# run an entry, and an entry found claimed was claimed by a process that is gone. The name
# has a dot, which no instance name may have: removing an instance forgets its state by
# name, and must not forget which queue entries already ran.
QUEUE_OWNER = "powershell.queue"
LEDGER_QUEUE = "script"
SCRIPT_STATUS = StatusRecord("PowerShellScript")
# Finished entries are remembered this long (Halo re-showing one is then recognised).
KEEP_DONE_SECONDS = 90 * 24 * 3600


@dataclass(frozen=True)
class PowerShellOptions:
    scripts_folder: str = option(
        label="Scripts folder",
        browse="folder",
        help="The only folder scripts run from (relative: to the settings folder). Only "
        "administrators may write to it.",
    )
    allowed_scripts: list[str] = option(
        default_factory=list,
        label="Allowed scripts",
        help="If set, only these scripts (names below scripts_folder) may run.",
        example=["reset_password.ps1", "ad/add_to_group.ps1"],
    )
    timeout_seconds: float = option(
        300.0, help="A script still running after this long is killed with its children.",
        minimum=1, label="Timeout (seconds)",
    )  # fmt: skip
    max_output_bytes: int = option(
        1_000_000, help="Output kept per stream (stdout, stderr); the rest is dropped.",
        minimum=1024, label="Output kept (bytes)",
    )  # fmt: skip
    max_runs_per_poll: int = option(
        10,
        help="At most this many scripts start in one run; the rest wait.",
        minimum=1,
        label="Scripts per run",
    )
    interpreters: dict[str, list[str]] = option(
        default_factory=dict,
        label="Interpreters",
        help="Extension → command over the defaults (.ps1 pwsh -NoProfile -NonInteractive "
        "-File, .py this Python, .sh /bin/sh, .cmd cmd /c); an empty list switches one off.",
        example={".ps1": ["pwsh", "-NoProfile", "-NonInteractive", "-File"], ".cmd": []},
    )
    environment: dict[str, Secret] = option(
        default_factory=dict,
        secret=True,
        label="Environment (secrets)",
        help="Variables every script gets (name → secret value): the way to hand a script "
        "a password. Never on a command line, never in a log.",
        example={"AD_SERVICE_PASSWORD": "..."},
    )

    def problems(self) -> list[tuple[str, str]]:
        found = [
            (f"interpreters.{extension}", "must start with a dot, like .ps1")
            for extension in self.interpreters
            if not re.fullmatch(r"\.[A-Za-z0-9]+", extension)
        ]
        found += [
            (f"environment.{name}", "must be a plain variable name (letters, digits, _)")
            for name in self.environment
            if not PARAMETER_NAME.fullmatch(name)
        ]
        return found


class PowerShellScripts(SyncModule):
    type_name = "powershell"
    display_name = "PowerShell scripts"
    description = "Runs the scripts Halo queues (allow-listed folder), at most once, reports back."
    Options = PowerShellOptions
    # Halo keeps Last Sync / Last Error on each script record (written per script run);
    # the run as a whole goes on the shared Control record under this prefix.
    status_record = StatusRecord(
        "Control", field_prefix="halointegrator_powershell_", needs_id=False
    )

    options: PowerShellOptions

    def check(self, context: SourceContext) -> str:
        folder = context.resolve(self.options.scripts_folder)
        if not folder.is_dir():
            raise ScriptRefusedError(
                f"The scripts folder {folder} does not exist.",
                hint="Create it (writable by administrators only) or fix scripts_folder.",
            )
        extensions = {path.suffix.lower() for path in folder.rglob("*") if path.is_file()}
        commands = interpreters(self.options.interpreters)
        missing = sorted(
            f"{commands[extension][0]} (for {extension})"
            for extension in extensions
            if commands.get(extension) and shutil.which(commands[extension][0]) is None
        )
        found = f"{folder} holds scripts of type {', '.join(sorted(extensions)) or 'none'}"
        return found + (f"; not installed: {', '.join(missing)}" if missing else "")

    def run(self, context: RunContext) -> None:
        try:
            with module_lock(context.settings_folder, QUEUE_OWNER):
                self._work_queue(context)
        except AlreadyRunningError:
            context.log.info("Another powershell instance is working Halo's queue; skipped")

    def _work_queue(self, context: RunContext) -> None:
        queue = ScriptQueue(context.client)
        ledger = WorkLedger(context.state, QUEUE_OWNER, LEDGER_QUEUE)
        tally = context.queue("scripts")
        waiting = queue.outstanding()
        context.log.info("%d queued script runs outstanding in Halo", len(waiting))
        started = held_back = 0
        for run in waiting:
            # Entries seen before never start a script: they are reported whatever the cap.
            if ledger.get(run.key) is None and started >= self.options.max_runs_per_poll:
                held_back += 1
                continue
            started += self._one(context, queue, ledger, run, tally)
            context.safe_point()
        if held_back:
            context.log.info("max_runs_per_poll reached: %d runs wait for the next poll", held_back)
        if not context.dry_run:
            ledger.forget_done(KEEP_DONE_SECONDS)

    # -- one entry -------------------------------------------------------------------------

    def _one(
        self,
        context: RunContext,
        queue: ScriptQueue,
        ledger: WorkLedger,
        run: QueuedRun,
        tally: QueueTally,
    ) -> int:
        """Handle one entry; returns 1 when its script was started, else 0."""
        script = queue.script(run.script_id)
        name = script.name if script else run.script_name or f"script {run.script_id}"
        label = f"{name} for ticket {run.ticket_id}"
        if context.dry_run:
            refusal = self._describe(context, script, run, label)
            if refusal:
                tally.failed(run.key, label, f"would not run: {refusal}")
            else:
                tally.done()
            return 0
        claim = ledger.claim(run.key, marker="", label=label)
        if claim.item.result is not None:  # kept: the script ran (or was refused) before
            result = ScriptResult.from_text(claim.item.result)
            context.log.info("%s: reporting the result kept from before", label)
            started = 0
        elif claim.interrupted:
            context.log.warning("%s: claimed before and never finished; not re-run", label)
            result = ScriptResult(success=False, message=UNKNOWN_OUTCOME, ran=False)
            ledger.finished(run.key, result.to_text())
            started = 0
        else:
            result, started = self._execute(context, script, run, label)
            ledger.finished(run.key, result.to_text())
        self._report(context, queue, ledger, run, label, result, tally)
        return started

    def _execute(
        self, context: RunContext, script: ScriptDefinition | None, run: QueuedRun, label: str
    ) -> tuple[ScriptResult, int]:
        """Run the entry's script once (or refuse it); the result and whether it started."""
        try:
            command, cwd = self._command(context, script, run)
            assert script is not None  # _command refuses an entry without a script record
            finished = run_script(
                command,
                cwd=cwd,
                environment=self._environment(run, script),
                timeout_seconds=self.options.timeout_seconds,
                max_output_bytes=self.options.max_output_bytes,
            )
        except ScriptRefusedError as exc:  # outside the fence, or its interpreter missing
            context.log.warning("Refused %s (queue entry %d): %s", label, run.entry_id, exc)
            return ScriptResult(success=False, message=f"Not run: {exc}.", ran=False), 0
        result = judge(
            finished,
            result_string=script.result_string,
            partial_match=script.partial_match,
            timeout_seconds=self.options.timeout_seconds,
            secrets=self._secrets(),
        )
        context.log.info(
            "Ran %s for ticket %s (queue entry %d): exit code %s, %.2f s, %s",
            script.location,
            run.ticket_id,
            run.entry_id,
            "killed at the timeout" if finished.timed_out else finished.exit_code,
            finished.duration_seconds,
            "success" if result.success else "failure",
        )
        return result, 1

    def _command(
        self, context: RunContext, script: ScriptDefinition | None, run: QueuedRun
    ) -> tuple[list[str], Path]:
        if script is None:
            raise ScriptRefusedError(f"Halo has no PowerShellScript record {run.script_id}")
        folder = context.resolve(self.options.scripts_folder)
        allowed = resolve_script(folder, script.location, self.options.allowed_scripts)
        interpreter = interpreter_for(
            allowed, self.options.interpreters, use_powershell_seven=script.use_powershell_seven
        )
        arguments = command_line(interpreter, allowed, script.parameters(run.values))
        return arguments, allowed.path.parent

    def _environment(self, run: QueuedRun, script: ScriptDefinition) -> dict[str, str]:
        """The agent's environment, who queued the run, and the configured secrets.

        The agent's own secret variables (``HALO_SECRET_*``, how the CLI takes secrets) are
        left out: a script gets only the secrets ``environment`` names for it.
        """
        inherited = {
            name: value for name, value in os.environ.items() if not name.startswith("HALO_SECRET_")
        }
        return {
            **inherited,
            "HALO_TICKET_ID": str(run.ticket_id or ""),
            "HALO_QUEUE_ENTRY_ID": str(run.entry_id),
            "HALO_SCRIPT_NAME": script.name,
            **{name: value.reveal() for name, value in self.options.environment.items()},
        }

    def _secrets(self) -> list[str]:
        return [value.reveal() for value in self.options.environment.values()]

    def _report(
        self,
        context: RunContext,
        queue: ScriptQueue,
        ledger: WorkLedger,
        run: QueuedRun,
        label: str,
        result: ScriptResult,
        tally: QueueTally,
    ) -> None:
        """Tell Halo; only then is the entry done. A report Halo did not take stays kept
        in the ledger and is sent again by the next run. Halo not answering at all stops
        the run: starting more scripts whose results cannot be delivered helps no one."""
        try:
            queue.report(run, result)
        except HaloError as exc:
            tally.failed(run.key, label, f"result not reported to Halo yet: {exc.message}")
            if isinstance(exc, HaloConnectionError):
                raise
            return
        ledger.done(run.key)
        if result.success:
            tally.done()
        else:
            tally.failed(run.key, label, result.message.splitlines()[0] if result.message else "")
        if result.ran:  # Last Sync / Last Error on the script's own record, where Halo shows them
            error = None if result.success else result.message
            report_run(context.client, SCRIPT_STATUS, run.script_id, error=error)

    def _describe(
        self, context: RunContext, script: ScriptDefinition | None, run: QueuedRun, label: str
    ) -> str | None:
        """Dry run: log what would run (parameter names, never values); returns why it
        would be refused, or None."""
        try:
            command, _ = self._command(context, script, run)
        except ScriptRefusedError as exc:
            context.log.info("Would refuse %s (queue entry %d): %s", label, run.entry_id, exc)
            return exc.message
        assert script is not None
        names = ", ".join(script.parameters(run.values)) or "no parameters"
        context.log.info(
            "Would run %s for ticket %s (queue entry %d) with %s, using %s",
            script.location,
            run.ticket_id,
            run.entry_id,
            names,
            command[0],
        )
        return None

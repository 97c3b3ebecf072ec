"""What a queued run's outcome is, as Halo is told it: success by the script's rule, and a
message for the ticket that says what happened in the admin's words.

The message is what a Halo agent reads on the ticket, so it leads with the cause ("Exit
code 2.", "Killed after 300 s", "Not run: ...") and follows with the first lines the script
wrote; the configured secrets are masked before anything leaves the machine.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace

from core.run.reporting import utc_now
from core.settings.secrets import MIN_SECRET_LENGTH
from core.sources.script_process import ScriptRun

# What Halo's result_message is sent (and so all the ledger keeps).
MAX_RESULT_CHARACTERS = 4000

FIRST_OUTPUT_LINES = 10
MASK = "********"
UNKNOWN_OUTCOME = (
    "Outcome unknown, not re-run: the Halo Integrator stopped while this script was "
    "starting or running, so it ran at most once. Check its effect before queuing it again."
)


@dataclass(frozen=True)
class ScriptResult:
    """What goes back to Halo for one entry; also what the ledger keeps until Halo has it."""

    success: bool
    message: str
    run_date: str = field(default_factory=utc_now)
    exit_code: int | None = None
    ran: bool = True  # False: refused, or the outcome of an interrupted run is unknown

    def to_text(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_text(cls, text: str) -> ScriptResult:
        return cls(**json.loads(text))


def judge(
    finished: ScriptRun,
    *,
    result_string: str,
    partial_match: bool,
    timeout_seconds: float,
    secrets: list[str],
) -> ScriptResult:
    """``_judge``'s result with its message cut to what Halo is sent: the ledger keeps the
    result until Halo has it, and a megabyte of output has no business in state.db."""
    result = _judge(
        finished,
        result_string=result_string,
        partial_match=partial_match,
        timeout_seconds=timeout_seconds,
        secrets=secrets,
    )
    return replace(result, message=result.message[:MAX_RESULT_CHARACTERS])


def _judge(
    finished: ScriptRun,
    *,
    result_string: str,
    partial_match: bool,
    timeout_seconds: float,
    secrets: list[str],
) -> ScriptResult:
    """Success or failure by the script's rule, with the message Halo shows on the ticket.

    A run succeeds when it exited 0 and, if the script has a ``resultstring``, its output
    equals it (trimmed) or, with ``resultpartialmatch``, contains it. Secret values a script
    echoes are masked before anything leaves the machine.
    """
    output = _masked(finished.stdout, secrets).strip()
    errors = _masked(finished.stderr, secrets).strip()
    if finished.timed_out:
        message = f"Killed after {timeout_seconds:g} s (timeout_seconds) with its child processes."
        return ScriptResult(False, _with_output(message, errors or output))
    if finished.exit_code != 0:
        message = _with_output(f"Exit code {finished.exit_code}.", errors or output)
        return ScriptResult(False, message, exit_code=finished.exit_code)
    expected = result_string.strip()
    matched = not expected or (expected in output if partial_match else output == expected)
    if not matched:
        rule = "did not contain" if partial_match else "was not exactly"
        message = f"The output {rule} the expected result {expected!r}."
        return ScriptResult(False, _with_output(message, output), exit_code=0)
    return ScriptResult(True, output or "Completed (exit code 0, no output).", exit_code=0)


def _masked(text: str, secrets: list[str]) -> str:
    """The configured secret values masked, and only those: a script's own words such as
    "Set-ADAccountPassword: access denied" must reach the ticket as written."""
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= MIN_SECRET_LENGTH:
            text = text.replace(secret, MASK)
    return text


def _with_output(message: str, text: str) -> str:
    """The message and the first lines of what the script wrote."""
    lines = text.splitlines()[:FIRST_OUTPUT_LINES]
    return "\n".join([message, *lines]) if lines else message

"""The Validate step: one green or red sentence about a Halo connection.

Used by ``halo-integrator validate``, by ``configure`` before it saves, and by the settings
dialog's Validate button. It checks, in order, the URL, the credentials (a token) and that the
API answers for the agent the application logs in as, and says which step failed and what to
do, never with a traceback.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import httpx

from core.errors import HaloNotFoundError, IntegratorError
from core.halo.client import HaloClient
from core.halo.retry import Deadline, RetryPolicy
from core.settings.model import HaloConnection, url_problem

# Validate answers an admin waiting in front of a dialog: fail fast, do not wait out 429s.
VALIDATE_RETRY = RetryPolicy(
    max_attempts=2, backoff_base_seconds=0.5, rate_limit_patience_seconds=10
)
# All of it, every try and wait included, ends within about this long (configure too).
VALIDATE_DEADLINE_SECONDS = 20.0


@dataclass(frozen=True)
class ValidationResult:
    ok: bool
    message: str
    hint: str = ""

    def __str__(self) -> str:
        return f"{self.message} {self.hint}".strip()


def validate_connection(
    connection: HaloConnection, *, transport: httpx.BaseTransport | None = None
) -> ValidationResult:
    """Check URL, credentials and API; never raises for a connection problem."""
    problem = url_problem(connection.url, allow_insecure=connection.allow_insecure_http)
    if problem:
        return ValidationResult(False, f"Halo URL: {problem}.")
    if not connection.client_id or not connection.client_secret:
        return ValidationResult(False, "Enter both the client ID and the client secret.")
    seconds = min(connection.deadline_seconds, VALIDATE_DEADLINE_SECONDS)
    deadline = Deadline(seconds, name="Validate's deadline")
    # One try may not outlast the whole deadline: an admin is waiting.
    patient = dataclasses.replace(
        connection, timeout_seconds=min(connection.timeout_seconds, seconds)
    )
    try:
        with HaloClient(
            patient, transport=transport, retry=VALIDATE_RETRY, deadline=deadline
        ) as client:
            client.authenticate()
            agent = _who_am_i(client)
    except IntegratorError as exc:
        return ValidationResult(False, f"{exc.title}: {exc.message}", exc.hint)
    who = f" as {agent}" if agent else ""
    return ValidationResult(True, f"Connected to {connection.url}{who}.")


def _who_am_i(client: HaloClient) -> str:
    """The API agent's name; older Halo versions lack Agent/me, so fall back to a list."""
    try:
        me = client.get("Agent/me")
    except HaloNotFoundError:
        client.get("Status")
        return ""
    return str(me.get("name", "")) if isinstance(me, dict) else ""

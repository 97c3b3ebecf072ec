"""One exception tree for everything the engine raises at an admin.

    IntegratorError                  title + a sentence saying what to do next
    ├── ConfigError                  settings file unreadable or invalid (file, line, field)
    │   ├── SecretKeyError           key file missing/unreadable, or a value it cannot decrypt
    │   └── StateError               state.db read-only, locked by another process, damaged
    ├── HaloError                    anything from the Halo API
    │   ├── HaloConnectionError      DNS, refused, TLS, timeout: Halo never answered
    │   ├── InvalidCredentialsError  401 invalid_client from the token endpoint
    │   ├── HaloAuthError            401 on the API after a fresh token
    │   ├── HaloForbiddenError       403: the API agent lacks a permission
    │   ├── HaloNotFoundError        404
    │   ├── HaloValidationError      400: Halo refused the data
    │   ├── HaloRateLimitError       429 after every retry
    │   └── HaloServerError          5xx after every retry
    ├── ModuleError                  a sync module could not read its source or options
    │   ├── GuardRefusedError        a safety guard stopped a run (mass deactivation)
    │   ├── SourceNotReadyError      the source is still being written: retry later
    │   └── ScriptRefusedError       a queued script is outside what may run here: never run
    └── AlreadyRunningError          another process holds the module's lock

Third-party exceptions (httpx, sqlite3, csv, ...) are translated once, at the edge, with
``raise ... from exc``; the messages never contain a secret or a token.
"""

from __future__ import annotations


class IntegratorError(Exception):
    """Base of every error an admin may read: a short title and what to do about it."""

    title = "Halo Integrator error"

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        # What a sync had applied before this error stopped it (a SyncResult), for reporting.
        self.partial: object | None = None

    def __str__(self) -> str:
        message = self.message.rstrip()
        if not self.hint:
            return message
        if "\n" in message:
            separator = "\n"  # a list of problems: the advice goes on its own line
        elif message.endswith((".", "!", "?", ":")):
            separator = " "
        else:
            separator = ". "
        return f"{message}{separator}{self.hint}"


class ConfigError(IntegratorError):
    """The settings are missing, unreadable or invalid; nothing was changed on disk."""

    title = "Settings problem"

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        field: str | None = None,
        hint: str = "",
    ) -> None:
        location = ", ".join(
            part
            for part in (
                path,
                f"line {line}" if line is not None else None,
                f"field {field}" if field else None,
            )
            if part
        )
        super().__init__(f"{location}: {message}" if location else message, hint=hint)
        self.path = path
        self.line = line
        self.field = field


class SecretKeyError(ConfigError):
    """A secret cannot be decrypted: the key file is missing, unreadable or belongs elsewhere."""

    title = "Secret key problem"


class StateError(ConfigError):
    """The state DB cannot be used: read-only, locked by another process, or damaged."""

    title = "State database problem"


class HaloError(IntegratorError):
    """The Halo API failed a request; ``status`` is the HTTP status when there was one."""

    title = "Halo API error"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        hint: str = "",
        maybe_applied: bool = False,
    ) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        # True when a non-idempotent request (a create) failed after it was sent: Halo may
        # have saved it, so the caller must look before sending it again.
        self.maybe_applied = maybe_applied


class HaloConnectionError(HaloError):
    title = "Cannot reach Halo"


class InvalidCredentialsError(HaloError):
    title = "Invalid client credentials"


class HaloAuthError(HaloError):
    title = "Halo refused the token"


class HaloForbiddenError(HaloError):
    title = "Permission denied by Halo"


class HaloNotFoundError(HaloError):
    title = "Not found in Halo"


class HaloValidationError(HaloError):
    title = "Halo refused the data"


class HaloRateLimitError(HaloError):
    title = "Halo rate limit reached"


class HaloServerError(HaloError):
    title = "Halo server error"


class ModuleError(IntegratorError):
    """A sync module cannot do its work (source unreachable, bad options)."""

    title = "Module error"


class GuardRefusedError(ModuleError):
    """A safety guard stopped the run before it changed anything in Halo."""

    title = "Run refused by a safety guard"


class SourceNotReadyError(ModuleError):
    """The source looks half-written (a file changing while read, or cut mid-line).

    Nothing was sent: taking it as complete would deactivate the rows not written yet and
    send the cut value of the last one. The next run tries again.
    """

    title = "Source not ready"


class ScriptRefusedError(ModuleError):
    """A queued script is not one this machine may run (outside the scripts folder, not
    allow-listed, no interpreter for it); it is reported to Halo as refused and never run."""

    title = "Script refused"


class AlreadyRunningError(IntegratorError):
    """Another process (tray, AUTO, CLI) is running the same module on the same settings."""

    title = "Already running"

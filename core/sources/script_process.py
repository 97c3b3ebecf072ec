"""Running one script as a child process: an argument list, a deadline, capped output.

Everything here is about what a script must not be able to do to the agent or the machine:
the command is a list handed to the OS as it is (never ``shell=True``, so ``x; rm -rf /``
in a value is one argument); the child gets its own process group (POSIX session / Windows
process group), and at the deadline the whole group is killed, children included; stdout
and stderr are read concurrently (a chatty child cannot block on a full pipe) and only the
first ``max_output_bytes`` of each are kept; secrets arrive in the environment only.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PureWindowsPath
from typing import IO

from core.errors import ScriptRefusedError

READ_CHUNK_BYTES = 65_536
# After the child ends (or is killed), how long its pipes may stay open: a grandchild that
# escaped the process group keeps them open, and the run must not wait for it.
PIPE_DRAIN_SECONDS = 2.0
EXIT_POLL_SECONDS = 0.02
WINDOWS = os.name == "nt"
# Windows only (0 elsewhere): the child's own group, so killing its tree spares the agent.
NEW_PROCESS_GROUP = getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)


@dataclass(frozen=True)
class ScriptRun:
    """What one run of a script did."""

    exit_code: int | None  # None: killed at the deadline
    stdout: str
    stderr: str
    duration_seconds: float
    timed_out: bool = False
    truncated: bool = False  # stdout or stderr went past max_output_bytes


def run_script(
    command: Sequence[str],
    *,
    cwd: Path,
    environment: Mapping[str, str],
    timeout_seconds: float,
    max_output_bytes: int,
) -> ScriptRun:
    """Run ``command`` (program and arguments, as a list) to its end or its deadline.

    Raises ScriptRefusedError when the program cannot be started at all (an interpreter that is
    not installed); a script that fails is a ``ScriptRun`` with its exit code.
    """
    started = time.monotonic()
    try:
        process = subprocess.Popen(  # noqa: S603 - a list, never a shell; see the docstring
            list(command),
            cwd=cwd,
            env=dict(environment),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=not WINDOWS,
            creationflags=NEW_PROCESS_GROUP,
        )
    except OSError as exc:
        # Nothing ran: the entry is reported "Not run", like any other refusal.
        raise ScriptRefusedError(
            f"Cannot start {command[0]!r}: {exc.strerror or exc}.",
            hint="Install it, or set the interpreter for this file type in interpreters.",
        ) from exc
    assert process.stdout is not None and process.stderr is not None  # PIPE was asked for
    stdout = _CappedReader(process.stdout, max_output_bytes)
    stderr = _CappedReader(process.stderr, max_output_bytes)
    timed_out = not _wait_for_exit(process, timeout_seconds)
    if timed_out or not WINDOWS:
        # POSIX also after a normal exit: what the script left running in its group goes
        # with it. The child is not reaped yet, so its group id cannot belong to another.
        kill_process_tree(process)
    process.wait()
    stdout.finish()
    stderr.finish()
    return ScriptRun(
        exit_code=None if timed_out else process.returncode,
        stdout=stdout.text(),
        stderr=stderr.text(),
        duration_seconds=time.monotonic() - started,
        timed_out=timed_out,
        truncated=stdout.truncated or stderr.truncated,
    )


def kill_process_tree(process: subprocess.Popen[bytes]) -> None:
    """Kill the child and everything in its process group; quiet when they are gone.

    POSIX: the child leads its own session, so its group id is its pid. Windows: taskkill
    /T walks the tree from the child's pid (the process group only routes Ctrl+Break).
    """
    if WINDOWS:
        taskkill = PureWindowsPath(os.environ.get("SYSTEMROOT", r"C:\Windows"), "System32")
        subprocess.run(  # noqa: S603 - a fixed System32 tool, a number as argument
            [str(taskkill / "taskkill.exe"), "/T", "/F", "/PID", str(process.pid)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):  # the group is gone
        os.killpg(process.pid, signal.SIGKILL)


def _wait_for_exit(process: subprocess.Popen[bytes], timeout_seconds: float) -> bool:
    """Whether the child exited within the timeout. On POSIX it is left unreaped (a
    zombie keeps its pid, so killing its group afterwards hits no stranger); Windows has
    no such wait and kills a tree only at the deadline, while the child still lives."""
    if WINDOWS:
        try:
            process.wait(timeout=timeout_seconds)
        except subprocess.TimeoutExpired:
            return False
        return True
    deadline = time.monotonic() + timeout_seconds
    flags = os.WEXITED | os.WNOHANG | os.WNOWAIT
    while os.waitid(os.P_PID, process.pid, flags) is None:
        if time.monotonic() >= deadline:
            return False
        time.sleep(EXIT_POLL_SECONDS)
    return True


class _CappedReader:
    """Reads one pipe on its own thread, keeps the first ``limit`` bytes, drops the rest
    (still reading it, so the child is never blocked on a full pipe)."""

    def __init__(self, pipe: IO[bytes], limit: int) -> None:
        self.pipe = pipe
        self.limit = limit
        self.kept = bytearray()
        self.truncated = False
        self._thread = threading.Thread(target=self._read, args=(pipe.fileno(),), daemon=True)
        self._thread.start()

    def _read(self, descriptor: int) -> None:
        # os.read on the descriptor, not the buffered file: nothing here takes a lock that
        # finish() could wait for.
        while chunk := os.read(descriptor, READ_CHUNK_BYTES):
            room = self.limit - len(self.kept)
            if len(chunk) > room:
                self.truncated = True
            self.kept += chunk[: max(room, 0)]

    def finish(self) -> None:
        """Wait briefly for the end of the output; a pipe an escaped grandchild still holds
        is left to its reader thread (a daemon), which ends when that process does."""
        self._thread.join(PIPE_DRAIN_SECONDS)
        if self._thread.is_alive():
            self.truncated = True
        else:
            self.pipe.close()

    def text(self) -> str:
        return bytes(self.kept).decode("utf-8", errors="replace")

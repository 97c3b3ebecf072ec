"""Reading a local source file safely: whole, settled, and in the encoding the admin named.

An export that is still being written looks exactly like a complete file with rows missing:
the engine would deactivate the missing rows and send the cut value of the last one. So a
read is taken as complete only when the file had been left alone for a moment before the
read (``QUIET_SECONDS``: an export that writes in bursts is waited for, up to
``MAX_WAIT_SECONDS``), did not change while it was read (same file, size and modification
time at both ends), and its last line ends with a line break. Every file-based module reads
through ``read_lines``; it is the only code here that opens one.
"""

from __future__ import annotations

import codecs
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from core.errors import ModuleError, SourceNotReadyError

DEFAULT_ENCODING = "utf-8-sig"  # UTF-8, with or without the BOM Excel's "CSV UTF-8" writes
LINE_ENDINGS = ("\n", "\r")
# ERROR_SHARING_VIOLATION, ERROR_LOCK_VIOLATION: the writer holds the file exclusively.
WINDOWS_SHARING_ERRORS = (32, 33)
RETRY_HINT = "Nothing was changed in Halo; the next run tries again."
# A file modified less than this long ago may be an export pausing between two writes.
QUIET_SECONDS = 2.0
MAX_WAIT_SECONDS = 30.0


@dataclass(frozen=True)
class FileVersion:
    """What tells one version of a file from another without reading it again."""

    device: int
    inode: int
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, stat: os.stat_result) -> FileVersion:
        return cls(stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)


def encoding_problem(encoding: str) -> str | None:
    """Why ``encoding`` cannot decode a text file (unknown, or not a text codec), or None.

    For an options ``problems()`` method, so a typo is a settings error, not a failed run.
    """
    try:
        "".encode(encoding)  # also refuses codecs that are not text (base64, rot13)
    except LookupError:
        return f"{encoding!r} is not a text encoding Python knows (e.g. utf-8-sig, cp1252, utf-16)"
    return None


def read_lines(
    path: Path,
    *,
    encoding: str = DEFAULT_ENCODING,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[str]:
    """The file's lines with their endings kept (``newline=""``, as the csv module wants).

    The completeness checks run when the last line has been read, so the iterator raises
    ``SourceNotReadyError`` only at its end: a caller must not act on any line before it is
    exhausted (the sync engine plans over every record before it sends anything). Raises
    ``ModuleError`` for a missing, unreadable or undecodable file.
    """
    try:
        _wait_until_quiet(path, clock, sleep)
        with path.open(newline="", encoding=encoding) as handle:
            before = FileVersion.of(os.fstat(handle.fileno()))
            last_line = ""
            for line in handle:
                last_line = line
                yield line
            _check_unchanged(path, before)
    except FileNotFoundError as exc:
        raise ModuleError(f"The file {path} does not exist.", hint="Check path.") from exc
    except IsADirectoryError as exc:
        raise ModuleError(f"{path} is a folder, not a file.", hint="Check path.") from exc
    except UnicodeDecodeError as exc:
        raise _decoding_error(path, encoding, exc) from exc
    except OSError as exc:
        if getattr(exc, "winerror", None) in WINDOWS_SHARING_ERRORS:
            raise SourceNotReadyError(
                f"{path} is open in another program that does not let others read it (an "
                "export still writing, or the file open in Excel); retry later.",
                hint=f"{RETRY_HINT} If this repeats, close the file in that program.",
            ) from exc
        raise ModuleError(
            f"Cannot read {path}: {exc.strerror}.",
            hint="Run the integrator as an account that can read the file.",
        ) from exc
    _check_last_line(path, last_line)


def _wait_until_quiet(
    path: Path, clock: Callable[[], float], sleep: Callable[[float], None]
) -> None:
    """Wait until the file has not been modified for QUIET_SECONDS; an export that writes
    a burst, pauses at the end of a line and writes again is then read once it is done."""
    started = clock()
    while True:
        age = clock() - os.stat(path).st_mtime
        if age >= QUIET_SECONDS:
            return
        if clock() - started + (QUIET_SECONDS - age) > MAX_WAIT_SECONDS:
            raise SourceNotReadyError(
                f"{path} kept changing for {MAX_WAIT_SECONDS:.0f} s, as a file still being "
                "written does; retry later.",
                hint=f"{RETRY_HINT} If this repeats, schedule the run when the export is done.",
            )
        sleep(min(QUIET_SECONDS - max(age, 0.0), QUIET_SECONDS))


def _check_unchanged(path: Path, before: FileVersion) -> None:
    """SourceNotReadyError when the file at ``path`` is not the version the read started on."""
    try:
        after = FileVersion.of(os.stat(path))
    except FileNotFoundError:
        after = None
    if after == before:
        return
    if after is None or (after.device, after.inode) != (before.device, before.inode):
        what = "was removed or replaced"
    elif after.size != before.size:
        what = f"grew from {before.size:,} to {after.size:,} bytes"
    else:
        what = "was modified"
    raise SourceNotReadyError(
        f"{path} {what} while it was being read, so it may be incomplete; retry later.",
        hint=f"{RETRY_HINT} If this repeats, schedule the run when the export is not writing.",
    )


def _check_last_line(path: Path, last_line: str) -> None:
    """SourceNotReadyError when the file ends in the middle of a line (a cut export)."""
    if not last_line or last_line.endswith(LINE_ENDINGS):
        return
    shown = last_line if len(last_line) <= 40 else f"…{last_line[-40:]}"
    raise SourceNotReadyError(
        f"{path} ends in the middle of a line ({shown!r} has no line break after it), "
        "as a file still being written does; retry later.",
        hint=f"{RETRY_HINT} If the file is complete, end its last line with a line break "
        "(open it, press Enter after the last row, save).",
    )


def _decoding_error(path: Path, encoding: str, exc: UnicodeDecodeError) -> ModuleError:
    """The error for bytes ``encoding`` cannot decode, saying where they are.

    The decoder's own offset is relative to a read chunk, so the file is scanned again (only
    on this error path) to name the line and byte. Bytes cut at the very end of the file are
    a file still being written, not a wrong encoding.
    """
    position = _undecodable_position(path, encoding)
    if position is None:
        return SourceNotReadyError(
            f"{path} ends in the middle of a character, as a file still being written does; "
            "retry later.",
            hint=RETRY_HINT,
        )
    line, offset = position
    return ModuleError(
        f"{path} is not {encoding} text ({exc.reason} on line {line}, byte {offset:,}).",
        hint="Set the module's encoding option to the file's encoding (Excel on Windows saves "
        "'CSV (Comma delimited)' as cp1252), or save the file as 'CSV UTF-8'.",
    )


def _undecodable_position(path: Path, encoding: str) -> tuple[int, int] | None:
    """(line, byte offset) of the first bytes ``encoding`` cannot decode; None when the only
    problem is an incomplete character at the end of the file."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    line, offset = 1, 0
    with path.open("rb") as handle:
        for piece in handle:  # pieces end at b"\n": about one line each, never a whole file
            pending = len(decoder.getstate()[0])
            try:
                line += decoder.decode(piece).count("\n")
            except UnicodeDecodeError as exc:
                return line, max(0, offset - pending + exc.start)
            offset += len(piece)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return None
    return line, offset

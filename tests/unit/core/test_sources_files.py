"""Reading a local source file: a file still being written is never taken as complete."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core.errors import ModuleError, SourceNotReadyError
from core.sources import files
from core.sources.files import encoding_problem, read_lines

ROWS = "".join(f"row {n}\n" for n in range(2000))  # several read chunks


@pytest.fixture(autouse=True)
def no_quiet_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    """Files written by a test are read at once; the wait itself is tested with a fake clock."""
    monkeypatch.setattr(files, "QUIET_SECONDS", 0.0)


def started(path: Path, lines: int = 3) -> Iterator[str]:
    """A read that has taken its first lines and is waiting for the rest."""
    reader = read_lines(path)
    for _ in range(lines):
        next(reader)
    return reader


def test_a_settled_file_is_read_whole_with_its_line_endings(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes(b"one\r\ntwo\nthree\rfour\n")
    assert list(read_lines(path)) == ["one\r\n", "two\n", "three\r", "four\n"]


def test_a_file_appended_to_during_the_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text(ROWS)
    reader = started(path)
    with path.open("a") as writer:
        writer.write("row 2000\n")
    with pytest.raises(SourceNotReadyError, match=r"grew from .* while it was being read"):
        list(reader)


def test_a_file_rewritten_in_place_during_the_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text(ROWS)
    reader = started(path)
    with path.open("r+") as writer:
        writer.write("ROW")  # same size; only the modification time tells
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    with pytest.raises(SourceNotReadyError, match="was modified while it was being read"):
        list(reader)


@pytest.mark.parametrize("change", ["replace", "remove"])
def test_a_file_replaced_or_removed_during_the_read_is_refused(tmp_path: Path, change: str) -> None:
    path = tmp_path / "a.txt"
    path.write_text(ROWS)
    reader = started(path)
    if change == "replace":
        (tmp_path / "new.txt").write_text(ROWS)
        os.replace(tmp_path / "new.txt", path)
    else:
        path.unlink()
    with pytest.raises(SourceNotReadyError, match="was removed or replaced"):
        list(reader)


def test_a_last_line_without_a_line_break_is_refused_with_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("header\nann@example.com\njr195@exa")
    with pytest.raises(SourceNotReadyError) as refused:
        list(read_lines(path))
    message = str(refused.value)
    assert "'jr195@exa' has no line break" in message and "retry later" in message
    assert "press Enter after the last row" in message


def test_an_empty_file_is_not_a_cut_one(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes(b"")
    assert list(read_lines(path)) == []


def test_a_character_cut_at_the_end_is_a_file_still_being_written(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes("name\nMü".encode()[:-1])
    with pytest.raises(SourceNotReadyError, match="middle of a character"):
        list(read_lines(path))


def test_undecodable_bytes_are_named_by_line_and_byte_with_the_encoding_advice(
    tmp_path: Path,
) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes(ROWS.encode() + "Müller\n".encode("cp1252"))
    with pytest.raises(ModuleError) as raised:
        list(read_lines(path))
    assert not isinstance(raised.value, SourceNotReadyError)
    offset = len(ROWS.encode()) + 1
    assert f"not utf-8-sig text (invalid start byte on line 2001, byte {offset:,})" in str(
        raised.value
    )
    assert "encoding option" in str(raised.value)
    assert list(read_lines(path, encoding="cp1252"))[-1] == "Müller\n"


def test_a_file_another_windows_program_holds_locked_is_not_ready(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    locked = PermissionError(13, "The process cannot access the file")
    locked.winerror = 32  # type: ignore[attr-defined]  # set by Windows only

    def open_locked(self: Path, *args: object, **kwargs: object) -> None:
        raise locked

    path = tmp_path / "a.txt"
    path.write_text("a\n")
    os.utime(path, (0, 0))
    monkeypatch.setattr(Path, "open", open_locked)
    with pytest.raises(SourceNotReadyError, match="open in another program"):
        list(read_lines(path))


def test_a_missing_file_and_a_folder_are_module_errors(tmp_path: Path) -> None:
    with pytest.raises(ModuleError, match="does not exist"):
        list(read_lines(tmp_path / "missing.txt"))
    with pytest.raises(ModuleError, match="is a folder"):
        list(read_lines(tmp_path))


@pytest.mark.parametrize("encoding", ["utf-8-sig", "cp1252", "latin-1", "utf-16", "UTF8"])
def test_any_text_encoding_python_knows_is_accepted(encoding: str) -> None:
    assert encoding_problem(encoding) is None


@pytest.mark.parametrize("encoding", ["utf8x", "", "base64", "rot13"])
def test_unknown_and_non_text_encodings_are_a_problem(encoding: str) -> None:
    assert "not a text encoding" in (encoding_problem(encoding) or "")


class FakeTime:
    """A clock and a sleep that advances it; ``writer`` runs at every sleep (an export)."""

    def __init__(self, now: float, writer: Callable[[float], None] | None = None) -> None:
        self.now = now
        self.slept: list[float] = []
        self.writer = writer

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        if self.writer:
            self.writer(self.now)


def test_a_file_modified_a_moment_ago_is_read_once_it_has_been_quiet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(files, "QUIET_SECONDS", 2.0)
    path = tmp_path / "export.csv"
    path.write_text("a\nb\n")
    modified = path.stat().st_mtime
    fake = FakeTime(modified + 0.5)
    assert list(read_lines(path, clock=fake.clock, sleep=fake.sleep)) == ["a\n", "b\n"]
    assert sum(fake.slept) == pytest.approx(1.5)


def test_a_file_that_keeps_changing_is_not_ready(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(files, "QUIET_SECONDS", 2.0)
    path = tmp_path / "export.csv"
    path.write_text("a\n")

    def keep_writing(now: float) -> None:
        with path.open("a") as handle:
            handle.write("more\n")
        os.utime(path, (now, now))

    fake = FakeTime(path.stat().st_mtime, keep_writing)
    with pytest.raises(SourceNotReadyError, match="kept changing for 30 s"):
        list(read_lines(path, clock=fake.clock, sleep=fake.sleep))


def test_a_file_left_alone_is_read_without_waiting(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text("a\n")
    fake = FakeTime(path.stat().st_mtime + 60)
    assert list(read_lines(path, clock=fake.clock, sleep=fake.sleep)) == ["a\n"]
    assert fake.slept == []

"""The csv module's reading: rows that cannot be used fail alone, encodings, streaming."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from core.errors import ModuleError, SourceNotReadyError
from core.modules.csv_import import CsvImport, CsvOptions
from core.modules.options import parse_options
from core.run.context import SourceContext
from core.sources import files
from core.sync.records import SourceRecord


@pytest.fixture(autouse=True)
def no_quiet_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    """Files written by a test are read at once; the wait itself is tested with a fake clock."""
    monkeypatch.setattr(files, "QUIET_SECONDS", 0.0)


HEADER = "emailaddress,firstname,surname,notes\n"


def rows(count: int, start: int = 1) -> str:
    return "".join(f"user{n}@example.com,User,N{n},\n" for n in range(start, start + count))


def read(path: Path, **options: Any) -> list[SourceRecord]:
    return list(CsvImport(CsvOptions(path=str(path), **options)).read(path))


@pytest.mark.parametrize(
    "address",
    ["jr195@exa", "jr195@", "jr195@example.", "jr195@example.c", "jr195", "a@b..com", "a b@x.com"],
)
def test_a_row_whose_e_mail_key_is_incomplete_fails_alone(tmp_path: Path, address: str) -> None:
    path = tmp_path / "users.csv"
    path.write_text(HEADER + rows(2) + f"{address},Junk,User,\n" + rows(2, start=3))
    records = read(path)
    assert [record.key for record in records] == [
        "user1@example.com",
        "user2@example.com",
        address.lower(),
        "user3@example.com",
        "user4@example.com",
    ]
    assert records[2].name == "line 4"
    assert records[2].problem == f"{address!r} is not a complete e-mail address " + (
        "(name@example.com)"
    )
    assert records[2].fields == {}  # nothing of the row can reach Halo


@pytest.mark.parametrize(
    "address",
    ["jr195@example.com", "J.R+195@mail.example.co.uk", "x@bücher.de", "x@example.xn--p1ai"],
)
def test_complete_e_mail_addresses_are_keys(tmp_path: Path, address: str) -> None:
    path = tmp_path / "users.csv"
    path.write_text(HEADER + f"{address},A,B,\n", encoding="utf-8")
    [record] = read(path)
    assert record.key == address.lower()


def test_another_key_column_has_no_e_mail_shape_to_check(tmp_path: Path) -> None:
    path = tmp_path / "users.csv"
    path.write_text("login,emailaddress\njr195,jr195@exa\n")
    [record] = read(path, key_column="login")
    assert record.key == "jr195"


def test_a_field_over_the_limit_fails_its_row_and_the_rest_is_read(tmp_path: Path) -> None:
    path = tmp_path / "users.csv"
    long_row = "long@example.com,Long,Row," + "x" * 131_073 + "\n"
    path.write_text(HEADER + rows(2) + long_row + rows(2, start=3))
    records = read(path)
    assert [record.key for record in records] == [
        "user1@example.com",
        "user2@example.com",
        "long@example.com",
        "user3@example.com",
        "user4@example.com",
    ]
    assert records[2].problem == "field 'notes' longer than 131,072 characters"
    assert records[2].fields == {}


def test_a_field_at_the_limit_is_sent_whole(tmp_path: Path) -> None:
    path = tmp_path / "users.csv"
    path.write_text(HEADER + "long@example.com,Long,Row," + "x" * 131_072 + "\n")
    [record] = read(path)
    assert len(record.fields["notes"]) == 131_072


def test_an_over_long_cell_beyond_the_headers_fails_its_row(tmp_path: Path) -> None:
    path = tmp_path / "users.csv"
    path.write_text(HEADER + "a@example.com,A,B,,," + "x" * 131_073 + "\n")
    [record] = read(path)
    assert record.key == "a@example.com"
    assert "field beyond the headers longer than" in record.problem


def test_a_cp1252_file_is_read_with_its_encoding(tmp_path: Path) -> None:
    path = tmp_path / "users.csv"
    path.write_bytes((HEADER + "m@example.com,Jürgen,Müller,costs 5 €\n").encode("cp1252"))
    [record] = read(path, encoding="cp1252")
    assert (record.fields["surname"], record.fields["notes"]) == ("Müller", "costs 5 €")
    with pytest.raises(ModuleError, match=r"not utf-8-sig text .* line 2"):
        read(path)


def test_an_unknown_encoding_is_an_option_problem() -> None:
    options, problems = parse_options(CsvOptions, {"path": "users.csv", "encoding": "utf8x"})
    assert options is None
    [(path, message)] = problems
    assert path == "encoding" and "'utf8x' is not a text encoding Python knows" in message


def test_a_cut_file_is_refused_after_its_rows_were_read(tmp_path: Path) -> None:
    path = tmp_path / "users.csv"
    path.write_text(HEADER + rows(3) + "jr195@exa")
    with pytest.raises(SourceNotReadyError, match="ends in the middle of a line"):
        read(path)


class StreamingContext(SourceContext):
    """Stands in for RunContext: takes one record and looks at how much was read by then."""

    def __init__(self, folder: Path) -> None:
        super().__init__("csv", folder, logging.getLogger("test"))
        self.converted_before_first: int | None = None
        self.converted = 0

    def sync_records(self, target: object, records: Iterable[SourceRecord], **_: Any) -> None:
        iterator = iter(records)
        next(iterator)
        self.converted_before_first = self.converted
        for _ in iterator:
            pass


def test_rows_are_streamed_to_the_engine_not_read_into_a_list_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "users.csv").write_text(HEADER + rows(5000))
    context = StreamingContext(tmp_path)
    original = CsvImport._record

    def counted(self: CsvImport, *args: Any) -> SourceRecord:
        context.converted += 1
        return original(self, *args)

    monkeypatch.setattr(CsvImport, "_record", counted)
    CsvImport(CsvOptions(path="users.csv")).run(context)  # type: ignore[arg-type]
    assert context.converted_before_first == 1
    assert context.converted == 5000


def test_the_source_check_names_rows_that_will_fail(tmp_path: Path) -> None:
    (tmp_path / "users.csv").write_text(HEADER + rows(3) + "jr195@exa,A,B,\nx@y,A,B,\n")
    found = CsvImport(CsvOptions(path="users.csv")).check(
        SourceContext("csv", tmp_path, logging.getLogger("test"))
    )
    assert found == (
        "users.csv is readable: 5 rows; 2 will fail "
        "(line 5: 'jr195@exa' is not a complete e-mail address (name@example.com) and 1 more)"
    )


def test_the_source_check_refuses_a_cut_file(tmp_path: Path) -> None:
    (tmp_path / "users.csv").write_text(HEADER + rows(3) + "jr195@exa")
    with pytest.raises(SourceNotReadyError):
        CsvImport(CsvOptions(path="users.csv")).check(
            SourceContext("csv", tmp_path, logging.getLogger("test"))
        )


def test_an_empty_file_is_not_ready_rather_than_missing_a_column(tmp_path: Path) -> None:
    path = tmp_path / "users.csv"
    path.write_text("")
    with pytest.raises(SourceNotReadyError, match="is empty"):
        read(path)

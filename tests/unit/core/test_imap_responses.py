"""Parsing imaplib's raw FETCH, LIST, SEARCH and COPYUID answers."""

from __future__ import annotations

from core.sources.imap_responses import (
    copied_uid,
    fetched_items,
    listed_folders,
    quoted,
    search_uids,
)


def test_fetch_items_find_uid_and_size_before_or_after_the_literal() -> None:
    data = [
        (b"1 (UID 7 RFC822.SIZE 11 BODY[] {11}", b"Subject: a\r"),
        b")",
        (b"2 (BODY[] {3}", b"abc"),
        b" UID 9 RFC822.SIZE 3)",
        b"3 (UID 12 RFC822.SIZE 40)",
    ]
    items = fetched_items(data)
    assert [(i.uid, i.size, i.literal) for i in items] == [
        (7, 11, b"Subject: a\r"),
        (9, 3, b"abc"),
        (12, 40, None),
    ]


def test_an_unsolicited_flags_fetch_is_its_own_item() -> None:
    items = fetched_items([b"4 (FLAGS (\\Seen))", (b"5 (UID 20 BODY[] {1}", b"x"), b")"])
    assert [i.uid for i in items] == [None, 20]


def test_list_lines_quoted_atom_literal_and_nil_delimiter() -> None:
    folders = listed_folders(
        [
            b'(\\HasNoChildren) "/" INBOX',
            b'(\\HasNoChildren \\Sent) "/" "Sent Items"',
            b'(\\Noselect) "." "A \\"quoted\\" name"',
            (b'(\\HasNoChildren) "/" {9}', b"Gr&APY-e"),
            b"(\\NonExistent) NIL Flat",
            None,
        ]
    )
    assert [(f.name, f.delimiter, f.selectable) for f in folders] == [
        ("INBOX", "/", True),
        ("Sent Items", "/", True),
        ('A "quoted" name', ".", False),
        ("Gr&APY-e", "/", True),
        ("Flat", None, False),
    ]


def test_search_uids_sorted_and_empty() -> None:
    assert search_uids([b"9 3 12"]) == [3, 9, 12]
    assert search_uids([b""]) == [] and search_uids([None]) == []


def test_copyuid_from_a_tagged_answer_or_imaplibs_untagged_data() -> None:
    assert copied_uid([b"[COPYUID 1700000000 5 42] Moved UIDs."]) == 42
    assert copied_uid([None, b"1700000000 5 43"]) == 43
    assert copied_uid([b"[COPYUID 1700000000 5:6 42:43] Copied."]) is None  # two messages
    assert copied_uid([b"Move completed."]) is None


def test_quoted_escapes_quotes_and_backslashes() -> None:
    assert quoted('a "b" \\c') == '"a \\"b\\" \\\\c"'

"""Modified UTF-7 mailbox names (RFC 3501 section 5.1.3)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.sources import imap_utf7


@pytest.mark.parametrize(
    ("name", "encoded"),
    [
        ("INBOX", "INBOX"),
        ("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"),  # RFC 3501's example
        ("Erledigt/Größe", "Erledigt/Gr&APYA3w-e"),
        ("R&D", "R&-D"),
        ("😀", "&2D3eAA-"),
    ],
)
def test_names_encode_as_rfc_3501_spells_them(name: str, encoded: str) -> None:
    assert imap_utf7.encode(name) == encoded
    assert imap_utf7.decode(encoded) == name


@given(st.text())
def test_every_name_survives_a_round_trip(name: str) -> None:
    encoded = imap_utf7.encode(name)
    assert encoded.isascii() and imap_utf7.decode(encoded) == name


@pytest.mark.parametrize("broken", ["Gr&APYA3w", "&A-", "&!!!-"])
def test_invalid_names_raise_value_error(broken: str) -> None:
    with pytest.raises(ValueError):
        imap_utf7.decode(broken)

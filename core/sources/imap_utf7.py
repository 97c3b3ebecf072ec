"""Modified UTF-7 (RFC 3501 section 5.1.3): how IMAP4rev1 spells mailbox names.

A server that has not been switched to UTF-8 (RFC 6855) sends and expects every mailbox name
in this encoding: printable ASCII stands for itself, ``&`` is written ``&-``, and any other
run of characters is UTF-16BE in base64 (``,`` for ``/``, no padding) between ``&`` and
``-``. So "Erledigt/Größe" is ``Erledigt/Gr&APYA3w-e`` on the wire.
"""

from __future__ import annotations

import base64
import binascii

_SHIFT, _UNSHIFT = "&", "-"


def encode(name: str) -> str:
    """``name`` as the server spells it; plain ASCII names come back unchanged."""
    parts: list[str] = []
    pending: list[str] = []
    for character in name:
        if " " <= character <= "~":
            parts.append(_encoded_run(pending))
            pending = []
            parts.append("&-" if character == _SHIFT else character)
        else:
            pending.append(character)
    parts.append(_encoded_run(pending))
    return "".join(parts)


def decode(text: str) -> str:
    """The name ``text`` (as the server sent it) stands for.

    Raises ValueError when ``text`` is not valid modified UTF-7 (an unterminated ``&``, bad
    base64, or a run that is not UTF-16), so a caller can fall back to the raw name.
    """
    parts: list[str] = []
    position = 0
    while position < len(text):
        start = text.find(_SHIFT, position)
        if start < 0:
            parts.append(text[position:])
            break
        end = text.find(_UNSHIFT, start + 1)
        if end < 0:
            raise ValueError(f"unterminated '&' in mailbox name {text!r}")
        parts.append(text[position:start])
        parts.append(_decoded_run(text[start + 1 : end]) if end > start + 1 else _SHIFT)
        position = end + 1
    return "".join(parts)


def _encoded_run(characters: list[str]) -> str:
    if not characters:
        return ""
    utf16 = "".join(characters).encode("utf-16-be")
    return _SHIFT + base64.b64encode(utf16).decode("ascii").rstrip("=").replace("/", ",") + "-"


def _decoded_run(run: str) -> str:
    padded = run.replace(",", "/") + "=" * (-len(run) % 4)
    try:
        return base64.b64decode(padded, validate=True).decode("utf-16-be")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise ValueError(f"invalid modified UTF-7 run {run!r}") from exc

"""A settings document with every secret removed, for a diagnostics bundle or a support ticket.

Three nets, because a bundle is sent to someone outside the organisation and one missed
secret is one too many: the options schema says which module options are secret; any key
whose name says secret, password or token is removed whatever its module type (a newer
version's module, a hand-pasted field); and every string is scrubbed of encrypted values,
passwords inside URLs (``postgresql://user:pw@host/db``) and connection strings
(``Server=x;Password=pw``). ``scrub_text`` applies the last net to any text (logs, errors).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from core.modules.options import describe
from core.modules.registry import MODULES
from core.run.logs import MASK, redact
from core.settings.secrets import ENCRYPTED_PREFIX, is_encrypted

REMOVED = "(removed: secret)"
SECRET_KEY_NAME = re.compile(r"secret|password|passwd|pwd|token|credential|private", re.I)
ENCRYPTED_VALUE = re.compile(re.escape(ENCRYPTED_PREFIX) + r"[A-Za-z0-9_=-]+")


def scrub_text(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` as the logs mask it (``core.run.logs.redact``: the given and known secrets,
    tokens, passwords in URLs and connection strings), and without encrypted values."""
    return ENCRYPTED_VALUE.sub(MASK, redact(text, secrets))


def redacted_settings(document: Any, secrets: Iterable[str] = ()) -> Any:
    """The parsed ``appsettings.json`` with secrets replaced by ``REMOVED``.

    A secret that is set shows as removed and an empty one stays empty, so support can still
    tell "no client secret" from "a client secret we cannot see".
    """
    known = list(secrets)
    if not isinstance(document, dict):
        return _scrubbed(document, known)
    cleaned = {key: _scrubbed(value, known, key) for key, value in document.items()}
    modules = document.get("Modules")
    if isinstance(modules, list):
        cleaned["Modules"] = [_module(entry, known) for entry in modules]
    return cleaned


def _module(entry: Any, secrets: list[str]) -> Any:
    if not isinstance(entry, dict):
        return _scrubbed(entry, secrets)
    cleaned = {key: _scrubbed(value, secrets, key) for key, value in entry.items()}
    options = entry.get("Options")
    if isinstance(options, dict):
        schema = _schema(str(entry.get("Type") or entry.get("Name") or ""))
        cleaned["Options"] = {
            name: _option(value, schema.get(name), secrets, name) for name, value in options.items()
        }
    return cleaned


def _schema(type_name: str) -> dict[str, bool]:
    """Option name -> is it secret, for a known module type (empty for an unknown one)."""
    cls = MODULES.get(type_name)
    return {info.name: info.secret for info in describe(cls.Options)} if cls else {}


def _option(value: Any, secret: bool | None, secrets: list[str], name: str) -> Any:
    """The schema decides for the options it describes (``oauth_token_url`` is no secret);
    an option it does not know is judged by its name."""
    if secret:
        return _removed(value)
    return _scrubbed(value, secrets, "" if secret is False else name)


def _scrubbed(value: Any, secrets: list[str], key: str = "") -> Any:
    if key and SECRET_KEY_NAME.search(key):
        return _removed(value)
    if isinstance(value, dict):
        return {name: _scrubbed(item, secrets, str(name)) for name, item in value.items()}
    if isinstance(value, list):
        return [_scrubbed(item, secrets) for item in value]
    if is_encrypted(value):
        return REMOVED
    if isinstance(value, str):
        return scrub_text(value, secrets)
    return value


def _removed(value: Any) -> Any:
    return value if value in (None, "", [], {}) else REMOVED

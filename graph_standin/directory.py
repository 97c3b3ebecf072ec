"""The stand-in's tenant directory: users, groups, and the change sequence delta reads from.

Every change (add, update, delete) takes the next sequence number; a delta token remembers
the number it was issued at, so following it returns exactly what changed after. A delta
*round* (the pages between one token and the next) is a snapshot taken at its first request:
re-requesting a page returns the same page, and changes made while a client pages through
appear in the next round, as Graph behaves. Thread-safe: tests change users from their own
thread while the server reads on its loop.
"""

from __future__ import annotations

import secrets
import threading
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

USER_PROPERTIES = (
    "id",
    "userPrincipalName",
    "mail",
    "displayName",
    "givenName",
    "surname",
    "accountEnabled",
    "jobTitle",
    "department",
    "companyName",
    "officeLocation",
    "businessPhones",
    "mobilePhone",
    "onPremisesSamAccountName",
)
# What Graph returns for a user when the request has no $select.
DEFAULT_USER_PROPERTIES = (
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
)
DEFAULT_DOMAIN = "contoso.onmicrosoft.com"


class DeltaStateNotFound(Exception):
    """A delta or skip token that was never issued, or was expired by the test."""


class UnknownProperty(ValueError):
    """A $select named a property users do not have."""


@dataclass
class _DeltaRound:
    """One snapshot of delta entries, served page by page, and the sequence it ends at."""

    entries: list[dict[str, Any]]
    ends_at: int
    select: tuple[str, ...]


@dataclass(frozen=True)
class DeltaPage:
    """One delta page: its entries, and either the skip token of the next page or the delta
    token that ends the round."""

    entries: list[dict[str, Any]]
    next_skip_token: str | None
    delta_token: str | None


@dataclass
class _Tombstone:
    changed_at: int
    reason: str


@dataclass
class Directory:
    """Users and groups of one tenant, with the change history delta queries read."""

    domain: str = DEFAULT_DOMAIN
    changed_properties_only: bool = False
    """Later rounds send a changed user's id and changed properties only: what Graph's
    documentation promises at least ("represented by their id with at least their updated
    properties"); off, every selected property is sent, as Graph commonly does for users."""
    _users: dict[str, dict[str, Any]] = field(default_factory=dict)
    _changed_at: dict[str, int] = field(default_factory=dict)
    _property_changed_at: dict[str, dict[str, int]] = field(default_factory=dict)
    _removed: dict[str, _Tombstone] = field(default_factory=dict)
    _groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    _sequence: int = 0
    _delta_tokens: dict[str, tuple[int, tuple[str, ...]]] = field(default_factory=dict)
    _rounds: dict[str, _DeltaRound] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)

    # --- test helpers: changing the directory ---

    def add_user(self, **properties: Any) -> dict[str, Any]:
        """Add a user; missing properties get plausible values. Returns a copy of the user."""
        with self._lock:
            user_id = str(properties.pop("id", None) or uuid.uuid4())
            _check_names(properties)
            nickname = properties.get("onPremisesSamAccountName") or f"user{len(self._users) + 1}"
            user: dict[str, Any] = {name: None for name in USER_PROPERTIES}
            user.update(
                id=user_id,
                userPrincipalName=f"{nickname}@{self.domain}",
                mail=f"{nickname}@{self.domain}",
                displayName=nickname,
                accountEnabled=True,
                businessPhones=[],
            )
            user.update(properties)
            self._users[user_id] = user
            self._removed.pop(user_id, None)
            self._touch(user_id, user)
            return dict(user)

    def update_user(self, user_id: str, **changes: Any) -> dict[str, Any]:
        """Change properties of a user; raises KeyError for an unknown id."""
        with self._lock:
            _check_names(changes)
            self._users[user_id].update(changes)
            self._touch(user_id, changes)
            return dict(self._users[user_id])

    def disable_user(self, user_id: str) -> dict[str, Any]:
        """accountEnabled becomes false (the user stays, as in Entra)."""
        return self.update_user(user_id, accountEnabled=False)

    def delete_user(self, user_id: str, *, permanently: bool = False) -> None:
        """Delete a user: a soft delete reports ``@removed`` reason ``changed`` (restorable for
        30 days in Entra), a permanent one reason ``deleted``."""
        with self._lock:
            del self._users[user_id]
            self._changed_at.pop(user_id, None)
            self._property_changed_at.pop(user_id, None)
            for group in self._groups.values():
                group["members"].discard(user_id)
            self._sequence += 1
            reason = "deleted" if permanently else "changed"
            self._removed[user_id] = _Tombstone(self._sequence, reason)

    def add_group(self, display_name: str, members: Iterable[str] = (), **extra: Any) -> str:
        """Add a security group with these member user ids; returns the group's id."""
        with self._lock:
            group_id = str(extra.pop("id", None) or uuid.uuid4())
            self._groups[group_id] = {"displayName": display_name, "members": set(members)}
            return group_id

    def set_group_members(self, group_id: str, members: Iterable[str]) -> None:
        """Replace the members of a group; raises KeyError for an unknown group."""
        with self._lock:
            self._groups[group_id]["members"] = set(members)

    def delete_group(self, group_id: str) -> None:
        """Delete a group; its members stay."""
        with self._lock:
            del self._groups[group_id]

    def expire_delta_tokens(self) -> None:
        """Every delta and skip token issued so far answers 410 syncStateNotFound from now on."""
        with self._lock:
            self._delta_tokens.clear()
            self._rounds.clear()

    def user(self, user_id: str) -> dict[str, Any]:
        """A copy of one user; raises KeyError."""
        with self._lock:
            return dict(self._users[user_id])

    def users(self) -> list[dict[str, Any]]:
        """Copies of every user, in the order they were added."""
        with self._lock:
            return [dict(user) for user in self._users.values()]

    # --- what the server reads ---

    def list_users(self, select: tuple[str, ...]) -> list[dict[str, Any]]:
        """Every user with the selected properties (raises UnknownProperty)."""
        with self._lock:
            return [_project(user, select) for user in self._users.values()]

    def get_user(self, user_id: str, select: tuple[str, ...]) -> dict[str, Any] | None:
        """One user with the selected properties, or None (raises UnknownProperty)."""
        with self._lock:
            user = self._users.get(user_id)
            return _project(user, select) if user is not None else None

    def group_members(self, group_id: str) -> list[dict[str, Any]] | None:
        """The full records of a group's members, or None when there is no such group."""
        with self._lock:
            group = self._groups.get(group_id)
            if group is None:
                return None
            return [dict(self._users[i]) for i in self._users if i in group["members"]]

    def start_delta(self, select: tuple[str, ...], delta_token: str | None) -> str:
        """Snapshot a round (everything, or what changed since the token); returns its first
        skip token. Raises DeltaStateNotFound for an unknown token, UnknownProperty."""
        with self._lock:
            if delta_token is None:
                since = 0
            else:
                if delta_token not in self._delta_tokens:
                    raise DeltaStateNotFound(delta_token)
                since, select = self._delta_tokens[delta_token]
            entries = [
                _project(user, self._changed_names(user_id, select, since))
                for user_id, user in self._users.items()
                if self._changed_at[user_id] > since
            ]
            if since:
                entries += [
                    {"id": user_id, "@removed": {"reason": tombstone.reason}}
                    for user_id, tombstone in self._removed.items()
                    if tombstone.changed_at > since
                ]
            round_id = secrets.token_urlsafe(12)
            self._rounds[round_id] = _DeltaRound(entries, self._sequence, select)
            return f"{round_id}.0"

    def delta_page(self, skip_token: str, page_size: int) -> DeltaPage:
        """The page a skip token names; the same token always gives the same page.
        Raises DeltaStateNotFound."""
        with self._lock:
            round_id, _, offset_text = skip_token.partition(".")
            round_ = self._rounds.get(round_id)
            if round_ is None or not offset_text.isdigit():
                raise DeltaStateNotFound(skip_token)
            offset = int(offset_text)
            end = offset + page_size
            entries = [dict(entry) for entry in round_.entries[offset:end]]
            if end < len(round_.entries):
                return DeltaPage(entries, f"{round_id}.{end}", None)
            delta_token = secrets.token_urlsafe(16)
            self._delta_tokens[delta_token] = (round_.ends_at, round_.select)
            return DeltaPage(entries, None, delta_token)

    def _touch(self, user_id: str, names: Iterable[str]) -> None:
        self._sequence += 1
        self._changed_at[user_id] = self._sequence
        changed = self._property_changed_at.setdefault(user_id, {})
        changed.update(dict.fromkeys(names, self._sequence))

    def _changed_names(self, user_id: str, select: tuple[str, ...], since: int) -> tuple[str, ...]:
        if not since or not self.changed_properties_only:
            return select
        changed = self._property_changed_at[user_id]
        return tuple(name for name in select if name == "id" or changed.get(name, 0) > since)


def parse_select(text: str | None, default: tuple[str, ...]) -> tuple[str, ...]:
    """The properties a $select names (id always included); raises UnknownProperty."""
    if not text:
        return default
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    _check_names(dict.fromkeys(names))
    return names if "id" in names else ("id", *names)


def _check_names(properties: Mapping[str, Any]) -> None:
    unknown = sorted(set(properties) - set(USER_PROPERTIES) - {"preferredLanguage"})
    if unknown:
        raise UnknownProperty(", ".join(unknown))


def _project(user: Mapping[str, Any], select: tuple[str, ...]) -> dict[str, Any]:
    return {name: user.get(name) for name in select}

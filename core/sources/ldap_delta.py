"""What a delta run stores between runs, and the filters that read only what changed.

Active Directory: every change gets the DC's next update sequence number (USN), so "changed
since" is ``uSNChanged > mark``. USNs are local to one domain controller and to one copy of
its database, so a mark is bound to the DC's ``dsServiceName`` and ``invocationId``; a run on
another DC (or after a restore, which gives the DC a new invocationId) must do a full read,
never compare numbers from two counters. Read the mark *before* the delta search, so a change
made during the search is read again next time rather than missed.

OpenLDAP: ``modifyTimestamp`` has one-second resolution and clocks drift, so the filter goes
back a small overlap before the last run's start; reading an entry twice is harmless, since
the planner compares fingerprints. Entries that were deleted match no delta filter: the
caller finds them by comparing an ids-only listing of the scope with what it knows.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from core.sources.ldap_values import generalized_time

TIMESTAMP_OVERLAP = datetime.timedelta(minutes=5)


@dataclass(frozen=True)
class UsnHighWaterMark:
    """AD's highestCommittedUSN at the start of a run, and the DC it belongs to."""

    usn: int
    dc_service_name: str  # the DN of the DC's NTDS Settings object
    invocation_id: str  # the DC database's identity; changes on restore

    def same_counter(self, current: UsnHighWaterMark) -> bool:
        """Whether ``current`` (read now) counts on the same DC database as this stored mark.

        False means the stored mark means nothing here: do a full read. A current USN below
        the stored one is also refused, as a restored database would show.
        """
        return (
            self.dc_service_name.lower() == current.dc_service_name.lower()
            and self.invocation_id == current.invocation_id
            and current.usn >= self.usn
        )

    def to_json(self) -> dict[str, Any]:
        """A plain dict for the state DB's checkpoint column."""
        return {
            "usn": self.usn,
            "dc_service_name": self.dc_service_name,
            "invocation_id": self.invocation_id,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> UsnHighWaterMark:
        """The mark :meth:`to_json` wrote; KeyError/ValueError for anything else."""
        return cls(int(data["usn"]), str(data["dc_service_name"]), str(data["invocation_id"]))


def parenthesized(search_filter: str) -> str:
    """``objectClass=user`` → ``(objectClass=user)``; a filter already in parentheses as is."""
    stripped = search_filter.strip()
    return stripped if stripped.startswith("(") else f"({stripped})"


def usn_delta_filter(search_filter: str, mark: UsnHighWaterMark | int) -> str:
    """``(&(filter)(uSNChanged>=N+1))``: the entries changed after the stored mark ``N``.

    AD offers ``>=`` but no ``>`` in filters, hence the +1.
    """
    usn = mark.usn if isinstance(mark, UsnHighWaterMark) else mark
    return f"(&{parenthesized(search_filter)}(uSNChanged>={usn + 1}))"


def timestamp_delta_filter(
    search_filter: str,
    since: datetime.datetime,
    overlap: datetime.timedelta = TIMESTAMP_OVERLAP,
    attribute: str = "modifyTimestamp",
) -> str:
    """``(&(filter)(modifyTimestamp>=T))`` with ``T`` = ``since`` minus ``overlap``, in UTC.

    ``since`` should be when the last successful run *started* reading (see module docstring).
    """
    return f"(&{parenthesized(search_filter)}({attribute}>={generalized_time(since - overlap)}))"

"""The tray's overall state and its one-line tooltip, from module healths (pure logic).

The icon must answer one question at a glance: "do I need to look?". Module healths come
from the shared state DB (so AUTO runs count too); what only this process knows (which
modules are running right now, which run was skipped, whether schedules are paused) is
passed in. Nothing here touches a GUI, so it is unit-tested without a display.
"""

from __future__ import annotations

import datetime
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from core.run.health import ModuleHealth

OK, SYNCING, WARNING, ERROR, PAUSED, NOT_CONFIGURED = (
    "ok",
    "syncing",
    "warning",
    "error",
    "paused",
    "not configured",
)
ALL_STATES = (OK, SYNCING, WARNING, ERROR, PAUSED, NOT_CONFIGURED)
# NOTIFYICONDATA.szTip is WCHAR[128] with its terminating NUL: 127 UTF-16 code units.
TOOLTIP_MAX_UNITS = 127
APP_TITLE = "Halo Integrator"


@dataclass(frozen=True)
class TrayView:
    """Everything the icon, tooltip and menu show; built off the Tk thread, then handed over."""

    state: str
    tooltip: str
    module_states: dict[str, str]


def module_state(health: ModuleHealth, running: Collection[str], skipped: Collection[str]) -> str:
    """Return one module's state for its menu entry (same words as the overall state)."""
    if health.module in running:
        return SYNCING
    if health.health == "error":
        return ERROR
    if health.health == "stale" or health.module in skipped:
        return WARNING
    if health.health == "never":
        return "not run yet"
    return OK


def overall_state(
    healths: Sequence[ModuleHealth] | None,
    *,
    running: Collection[str] = (),
    skipped: Collection[str] = (),
    paused: bool = False,
) -> str:
    """Return the icon's state; ``healths`` None means the settings could not be loaded.

    Order of precedence, loudest first: nothing to do (not configured), something broke
    (error), work in progress (syncing), a deliberate pause, something to keep an eye on
    (warning: stale or skipped), all is well.
    """
    enabled = [health for health in healths or () if health.enabled]
    if not enabled:
        return NOT_CONFIGURED
    states = {module_state(health, running, skipped) for health in enabled}
    for state in (ERROR, SYNCING):
        if state in states:
            return state
    if paused:
        return PAUSED
    return WARNING if WARNING in states else OK


def tooltip(
    state: str,
    *,
    next_run: float | None = None,
    last_error: str | None = None,
    now: float | None = None,
) -> str:
    """One line: state, next run, last error; cut to the Windows limit with an ellipsis."""
    parts = [f"{APP_TITLE}: {state}"]
    if next_run is not None and state not in (PAUSED, NOT_CONFIGURED):
        parts.append(f"next run {clock_time(next_run, now)}")
    if last_error and state in (ERROR, WARNING):
        parts.append(" ".join(last_error.split()))
    return shorten(" · ".join(parts), TOOLTIP_MAX_UNITS)


def clock_time(timestamp: float, now: float | None = None) -> str:
    """``14:05`` today, ``Tue 02:00`` within a week, else the date: what an admin scans for."""
    moment = datetime.datetime.fromtimestamp(timestamp)
    today = datetime.datetime.fromtimestamp(now) if now is not None else datetime.datetime.now()
    if moment.date() == today.date():
        return f"{moment:%H:%M}"
    if abs((moment.date() - today.date()).days) < 7:
        return f"{moment:%a %H:%M}"
    return f"{moment:%Y-%m-%d %H:%M}"


def utf16_units(text: str) -> int:
    """Return the length of ``text`` as Windows counts it: UTF-16 code units."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def shorten(text: str, limit: int) -> str:
    """Return ``text`` cut to ``limit`` UTF-16 code units, ending in "…" when it was cut.

    Windows measures tooltips and notifications in UTF-16 units, where a character outside
    the Basic Multilingual Plane (an emoji) takes two; a Python string is cut between code
    points, so such a pair is never split.
    """
    if utf16_units(text) <= limit:
        return text
    budget, end = limit - 1, 0  # the ellipsis takes one unit
    for character in text:
        budget -= utf16_units(character)
        if budget < 0:
            break
        end += 1
    return text[:end].rstrip() + "…"


def first_error(
    healths: Sequence[ModuleHealth], running: Collection[str] = ()
) -> tuple[str, str] | None:
    """Return (module, error) of the first failing module not running now, for the tooltip."""
    for health in healths:
        if health.enabled and health.health == "error" and health.module not in running:
            return health.module, health.last_error or "failed"
    return None


def status_line(healths: Sequence[ModuleHealth]) -> str:
    """The enabled modules' healths in one log line: ``csv error (2 failed runs in a row)``."""
    parts = []
    for health in healths:
        if health.enabled:
            failures = health.consecutive_failures
            plural = "s" if failures > 1 else ""
            streak = f" ({failures} failure{plural} in a row)" if failures else ""
            parts.append(f"{health.module} {health.health}{streak}")
    return "; ".join(parts)


def build_view(
    healths: Sequence[ModuleHealth] | None,
    *,
    running: Collection[str] = (),
    skipped: Collection[str] = (),
    paused: bool = False,
    next_run: float | None = None,
    problem: str | None = None,
    setup_hint: str | None = None,
    now: float | None = None,
) -> TrayView:
    """The whole picture in one call.

    ``problem`` says why the settings (or the state DB) cannot be used: that is an error,
    whatever the modules' last runs say, and it comes first in the tooltip. ``setup_hint``
    says what to do when there are no settings yet (not configured, which is no error).
    """
    state = overall_state(healths, running=running, skipped=skipped, paused=paused)
    failing = first_error(healths or (), running)
    last_error = problem or (f"{failing[0]}: {failing[1]}" if failing else None)
    if problem is not None:
        state = ERROR
    if state == WARNING and not last_error:
        stale = [h.module for h in healths or () if h.enabled and h.health == "stale"]
        last_error = f"no recent success: {', '.join(stale)}" if stale else "a run was skipped"
    text = tooltip(state, next_run=next_run, last_error=last_error, now=now)
    if state == NOT_CONFIGURED and setup_hint:
        text = shorten(f"{APP_TITLE}: {state} · {setup_hint}", TOOLTIP_MAX_UNITS)
    states = {
        health.module: module_state(health, running, skipped)
        for health in healths or ()
        if health.enabled
    }
    return TrayView(state, text, states)

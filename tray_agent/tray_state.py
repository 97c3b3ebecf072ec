"""The tray's overall state and its one-line tooltip, from module healths (pure logic).

The icon must answer one question at a glance: "do I need to look?". Module healths come
from the shared state DB (so AUTO runs count too); what only this process knows (which
modules are running right now, which run was skipped, whether schedules are paused) is
passed in. Nothing here touches a GUI, so it is unit-tested without a display.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from core.run.health import ModuleHealth

OK, SYNCING, WARNING, ERROR, PAUSED, NOT_CONFIGURED, NOT_RUN_YET = (
    "ok",
    "syncing",
    "warning",
    "error",
    "paused",
    "not configured",
    "not run yet",
)
ALL_STATES = (OK, SYNCING, WARNING, ERROR, PAUSED, NOT_CONFIGURED, NOT_RUN_YET)
# NOTIFYICONDATA.szTip is WCHAR[128] with its terminating NUL: 127 UTF-16 code units.
TOOLTIP_MAX_UNITS = 127
# A menu line longer than this makes the whole menu as wide; the tooltip and log say more.
MENU_LINE_MAX_CHARACTERS = 80
APP_TITLE = "Halo Integrator"


@dataclass(frozen=True)
class TrayView:
    """Everything the icon, tooltip and menu show; built off the Tk thread, then handed over."""

    state: str
    tooltip: str
    module_states: dict[str, str]
    # Greyed lines at the top of the menu, and each module's line in "Sync module".
    status_lines: tuple[str, ...] = ()
    module_lines: dict[str, str] = field(default_factory=dict)
    # Modules whose last run the mass-deactivation guard refused: how many it withheld.
    refusals: dict[str, int] = field(default_factory=dict)


def module_state(health: ModuleHealth, running: Collection[str], skipped: Collection[str]) -> str:
    """Return one module's state for its menu entry (same words as the overall state)."""
    if health.module in running:
        return SYNCING
    if health.health == "error":
        return ERROR
    if health.health == "stale" or health.module in skipped:
        return WARNING
    if health.health == "never":
        return NOT_RUN_YET
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
    (warning: stale or skipped), a module that has not run yet (nothing synced, so not
    green), all is well.
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
    for state in (WARNING, NOT_RUN_YET):
        if state in states:
            return state
    return OK


def tooltip(
    state: str,
    *,
    next_run: float | None = None,
    last_error: str | None = None,
    now: float | None = None,
    name: str | None = None,
) -> str:
    """One line: state, next run, last error; cut to the Windows limit with an ellipsis.

    ``name`` (the settings folder's) goes into the title, so two trays are told apart."""
    parts = [f"{title(name)}: {state}"]
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


def ago(timestamp: float, now: float | None = None) -> str:
    """``just now``, ``5 min ago``, ``3 h ago``, else the clock time: how long since a sync."""
    now = time.time() if now is None else now
    seconds = max(0.0, now - timestamp)
    if seconds < 60:
        return "just now"
    if seconds < 3_600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 12 * 3_600:
        return f"{int(seconds // 3_600)} h ago"
    return clock_time(timestamp, now)


def withheld(health: ModuleHealth) -> tuple[int, list[str]]:
    """How many deactivations a refused last run withheld, and the first of their keys
    (the runner keeps both in the run's details); (0, []) when it did not say."""
    count, keys = 0, []
    for part in health.last_parts:
        number, first = part.get("withheld"), part.get("withheld_keys")
        if isinstance(number, int):
            count += number
            keys += [str(key) for key in first] if isinstance(first, list) else []
    return count, keys


def title(folder_name: str | None) -> str:
    """``Halo Integrator (5 Mins)``: two trays for two folders are told apart by it."""
    return f"{APP_TITLE} ({folder_name})" if folder_name else APP_TITLE


def status_lines(
    state: str,
    healths: Sequence[ModuleHealth],
    *,
    next_run: float | None,
    last_error: str | None,
    setup_hint: str | None = None,
    folder_name: str | None = None,
    now: float | None = None,
) -> tuple[str, ...]:
    """The greyed lines at the top of the menu: the state, when, and the last error."""
    lines = [f"{title(folder_name)}: {state}"]
    if state == NOT_CONFIGURED:
        if setup_hint:
            lines.append(setup_hint)
        return tuple(shorten(line, MENU_LINE_MAX_CHARACTERS) for line in lines)
    runs = [h.last_run_at for h in healths if h.enabled and h.last_run_at is not None]
    when = [f"last sync {ago(max(runs), now)}" if runs else "no sync yet"]
    if state == PAUSED:
        when.append("schedules paused")
    elif next_run is not None:
        when.append(f"next {clock_time(next_run, now)}")
    lines.append(" · ".join(when))
    if last_error:
        lines.append(" ".join(last_error.split()))
    return tuple(shorten(line, MENU_LINE_MAX_CHARACTERS) for line in lines)


def module_line(
    health: ModuleHealth, state: str, next_run: float | None, now: float | None = None
) -> str:
    """``csv — ok · last 13:55 · next 14:55``: one module's entry in "Sync module"."""
    parts = [f"{health.module} — {state}"]
    if health.last_run_at is not None:
        parts.append(f"last {clock_time(health.last_run_at, now)}")
    if next_run is not None and state != SYNCING:
        parts.append(f"next {clock_time(next_run, now)}")
    return shorten(" · ".join(parts), MENU_LINE_MAX_CHARACTERS)


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
    folder_name: str | None = None,
    module_next_runs: Mapping[str, float | None] | None = None,
) -> TrayView:
    """The whole picture in one call.

    ``problem`` says why the settings (or the state DB) cannot be used: that is an error,
    whatever the modules' last runs say, and it comes first in the tooltip. ``setup_hint``
    says what to do when there are no settings yet (not configured, which is no error).
    ``module_next_runs`` gives each module's next scheduled run for its menu line.
    """
    state = overall_state(healths, running=running, skipped=skipped, paused=paused)
    failing = first_error(healths or (), running)
    last_error = problem or (f"{failing[0]}: {failing[1]}" if failing else None)
    if problem is not None:
        state = ERROR
    if state == WARNING and not last_error:
        stale = [h.module for h in healths or () if h.enabled and h.health == "stale"]
        last_error = f"no recent success: {', '.join(stale)}" if stale else "a run was skipped"
    text = tooltip(state, next_run=next_run, last_error=last_error, now=now, name=folder_name)
    if state == NOT_CONFIGURED and setup_hint:
        text = shorten(f"{title(folder_name)}: {state} · {setup_hint}", TOOLTIP_MAX_UNITS)
    enabled = [health for health in healths or () if health.enabled]
    states = {health.module: module_state(health, running, skipped) for health in enabled}
    next_runs = module_next_runs or {}
    lines = {
        health.module: module_line(health, states[health.module], next_runs.get(health.module), now)
        for health in enabled
    }
    refusals = {health.module: withheld(health)[0] for health in enabled if health.refused}
    summary = status_lines(
        state,
        enabled,
        next_run=next_run,
        last_error=last_error if state in (ERROR, WARNING) else None,
        setup_hint=setup_hint,
        folder_name=folder_name,
        now=now,
    )
    return TrayView(state, text, states, summary, lines, refusals)

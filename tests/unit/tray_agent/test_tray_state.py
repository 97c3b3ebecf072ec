"""The tray's overall state and tooltip, from module healths (no display needed)."""

from __future__ import annotations

import datetime

from core.run.health import ModuleHealth
from tray_agent import tray_state
from tray_agent.tray_state import (
    ERROR,
    NOT_CONFIGURED,
    OK,
    PAUSED,
    SYNCING,
    TOOLTIP_MAX_UNITS,
    WARNING,
    build_view,
    overall_state,
    tooltip,
)

NOW = datetime.datetime(2026, 11, 24, 10, 0).timestamp()


def health(
    module: str = "csv", state: str = "ok", *, enabled: bool = True, error: str | None = None
) -> ModuleHealth:
    return ModuleHealth(
        module, enabled, "5m", state, NOW - 60, NOW - 60, error, 1 if state == "error" else 0
    )


def test_no_settings_or_no_enabled_module_is_not_configured() -> None:
    assert overall_state(None) == NOT_CONFIGURED
    assert overall_state([]) == NOT_CONFIGURED
    assert overall_state([health(state="disabled", enabled=False)]) == NOT_CONFIGURED


def test_all_healthy_modules_are_ok() -> None:
    assert overall_state([health("a"), health("b")]) == OK


def test_an_error_wins_over_syncing_paused_and_warning() -> None:
    healths = [health("a", "error"), health("b", "stale"), health("c")]
    assert overall_state(healths, running={"c"}, paused=True) == ERROR


def test_a_failing_module_that_is_running_again_shows_syncing() -> None:
    assert overall_state([health("a", "error")], running={"a"}) == SYNCING


def test_stale_or_skipped_is_a_warning_but_pause_is_said_first() -> None:
    assert overall_state([health("a", "stale")]) == WARNING
    assert overall_state([health("a")], skipped={"a"}) == WARNING
    assert overall_state([health("a", "stale")], paused=True) == PAUSED
    assert overall_state([health("a")], paused=True) == PAUSED


def test_tooltip_names_state_next_run_and_the_last_error() -> None:
    text = tooltip(ERROR, next_run=NOW + 300, last_error="csv: file\nmissing", now=NOW)
    assert text == "Halo Integrator: error · next run 10:05 · csv: file missing"


def test_tooltip_is_cut_to_the_windows_limit_with_an_ellipsis() -> None:
    text = tooltip(ERROR, next_run=NOW, last_error="x" * 500, now=NOW)
    assert len(text) == TOOLTIP_MAX_UNITS == 127  # szTip is WCHAR[128] with its NUL
    assert text.endswith("…")


def test_tooltip_counts_an_emoji_as_two_units_and_keeps_it_whole() -> None:
    text = tooltip(ERROR, last_error="\U0001f6a8" * 100, now=NOW)
    assert tray_state.utf16_units(text) <= TOOLTIP_MAX_UNITS
    assert text.endswith("\U0001f6a8…")
    text.encode("utf-16-le")  # strict: no half of a surrogate pair was left


def test_tooltip_shows_the_weekday_for_a_run_after_today() -> None:
    tomorrow = NOW + 86_400
    assert tray_state.clock_time(tomorrow, NOW) == "Wed 10:00"


def test_view_explains_errors_and_lists_each_enabled_module_state() -> None:
    view = build_view(
        [
            health("csv", "error", error="The file users.csv does not exist."),
            health("b"),
            health("off", "disabled", enabled=False),
        ],
        next_run=NOW + 60,
        now=NOW,
    )
    assert view.state == ERROR
    assert "csv: The file users.csv does not exist." in view.tooltip
    assert view.module_states == {"csv": ERROR, "b": OK}


def test_view_without_a_settings_file_says_what_to_do() -> None:
    view = build_view(None, setup_hint="run halo-integrator configure")
    assert view.state == NOT_CONFIGURED
    assert view.tooltip == "Halo Integrator: not configured · run halo-integrator configure"


def test_settings_that_cannot_be_used_are_an_error_with_file_and_line() -> None:
    problem = "appsettings.json, line 7, field Halo.Url: not a URL"
    assert build_view(None, problem=problem).state == ERROR
    view = build_view([health("csv")], problem=problem, next_run=NOW + 60, now=NOW)
    assert view.state == ERROR
    assert view.tooltip == f"Halo Integrator: error · next run 10:01 · {problem}"
    assert view.module_states == {"csv": OK}


def test_the_status_line_names_each_enabled_module_and_its_failure_streak() -> None:
    healths = [health("csv", "error"), health("ad"), health("off", "disabled", enabled=False)]
    assert tray_state.status_line(healths) == "csv error (1 failure in a row); ad ok"

"""The tray's overall state and tooltip, from module healths (no display needed)."""

from __future__ import annotations

import dataclasses
import datetime

from core.outcomes import Outcome
from core.run.health import ModuleHealth
from tray_agent import tray_state
from tray_agent.tray_state import (
    ERROR,
    NOT_CONFIGURED,
    NOT_RUN_YET,
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


def never(module: str = "csv") -> ModuleHealth:
    return ModuleHealth(module, True, "1h", "never", None, None, None, 0, next_due_at=None)


def test_an_enabled_module_that_never_ran_is_not_run_yet_not_ok() -> None:
    assert overall_state([never()]) == NOT_RUN_YET
    assert overall_state([health("a"), never("b")]) == NOT_RUN_YET
    assert overall_state([health("a", "stale"), never("b")]) == WARNING
    assert overall_state([health("a", "error"), never("b")]) == ERROR


def test_the_menu_lines_say_the_state_the_last_sync_the_next_run_and_the_error() -> None:
    failing = health("csv", "error", error="The file users.csv\ndoes not exist.")
    view = build_view(
        [failing, health("ldap")],
        next_run=NOW + 3_900,
        folder_name="5 Mins",
        module_next_runs={"csv": NOW + 3_900, "ldap": NOW + 240},
        now=NOW,
    )
    assert view.status_lines == (
        "Halo Integrator (5 Mins): error",
        "last sync 1 min ago · next 11:05",
        "csv: The file users.csv does not exist.",
    )
    assert view.module_lines == {
        "csv": "csv — error · last 09:59 · next 11:05",
        "ldap": "ldap — ok · last 09:59 · next 10:04",
    }
    assert view.tooltip.startswith("Halo Integrator (5 Mins): error · next run 11:05")


def test_the_menu_lines_before_any_run_while_paused_and_unconfigured() -> None:
    first = build_view([never()], next_run=NOW + 60, module_next_runs={"csv": NOW + 60}, now=NOW)
    assert first.state == NOT_RUN_YET
    assert first.status_lines == ("Halo Integrator: not run yet", "no sync yet · next 10:01")
    assert first.module_lines == {"csv": "csv — not run yet · next 10:01"}
    paused = build_view([health()], paused=True, next_run=NOW + 60, now=NOW)
    assert paused.status_lines[1] == "last sync 1 min ago · schedules paused"
    empty = build_view(None, setup_hint="Run halo-integrator configure first.", now=NOW)
    assert empty.status_lines == (
        "Halo Integrator: not configured",
        "Run halo-integrator configure first.",
    )


def test_a_long_error_is_one_short_menu_line() -> None:
    view = build_view([health("csv", "error", error="x" * 300)], now=NOW)
    assert len(view.status_lines[-1]) == tray_state.MENU_LINE_MAX_CHARACTERS
    assert view.status_lines[-1].endswith("…")


def test_ago_reads_as_a_person_would_say_it() -> None:
    assert tray_state.ago(NOW - 20, NOW) == "just now"
    assert tray_state.ago(NOW - 300, NOW) == "5 min ago"
    assert tray_state.ago(NOW - 3 * 3_600, NOW) == "3 h ago"
    assert tray_state.ago(NOW - 2 * 86_400, NOW).startswith("Sun ")


def test_a_refused_module_offers_allow_once_with_the_count_its_run_withheld() -> None:
    refused = dataclasses.replace(
        health(state="error"),
        last_outcome=Outcome.REFUSED,
        last_parts=[
            {"entity": "Sites", "withheld": 2, "withheld_keys": ["a", "b"]},
            {"entity": "Users", "withheld": 58, "withheld_keys": ["c"]},
        ],
    )
    assert tray_state.withheld(refused) == (60, ["a", "b", "c"])
    assert tray_state.build_view([refused, health("other")]).refusals == {"csv": 60}
    failed = dataclasses.replace(health(state="error"), last_outcome=Outcome.FAILED)
    assert tray_state.build_view([failed]).refusals == {}

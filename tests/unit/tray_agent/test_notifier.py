"""Notification policy (when) and sending (how), with a fake sender instead of plyer."""

from __future__ import annotations

from dataclasses import replace

from core.outcomes import Outcome
from core.run.health import ModuleHealth
from tray_agent.desktop_notifications import CRITICAL, NORMAL, Toast
from tray_agent.notifier import (
    ERROR,
    RECOVERED,
    REFUSED,
    SETTINGS,
    STALE,
    TEXT_MAX_UNITS,
    TITLE_MAX_UNITS,
    NotificationPolicy,
    Notifier,
    notice_title,
)
from tray_agent.tray_state import utf16_units

GUARD_TEXT = "Refused to deactivate 40 of 50 records in Halo (the limit is 10%, 5 records)."


def health(
    state: str, error: str | None = None, module: str = "csv", *, refused: bool = False
) -> ModuleHealth:
    outcome = Outcome.REFUSED if refused else Outcome.FAILED if state == "error" else None
    return ModuleHealth(
        module,
        True,
        "5m",
        state,
        1000.0,
        900.0,
        error,
        1 if state == "error" else 0,
        last_outcome=outcome,
    )


def kinds(notices: list) -> list[tuple[str, str]]:
    return [(notice.kind, notice.module) for notice in notices]


def collecting(sent: list[tuple[str, str]]) -> Notifier:
    return Notifier(lambda toast: sent.append((toast.title, toast.text)))


def test_a_module_turning_to_error_notifies_with_its_name_and_the_error() -> None:
    policy = NotificationPolicy(folder_name="5 Mins")
    assert policy.observe([health("ok")], now=0) == []
    [notice] = policy.observe([health("error", "users.csv is missing")], now=300)
    assert (notice.kind, notice.text) == (ERROR, "users.csv is missing")
    assert notice.title == "Halo Integrator (5 Mins): csv failed"
    assert notice.urgency == CRITICAL


def test_titles_name_the_folder_the_module_and_what_happened() -> None:
    policy = NotificationPolicy(folder_name="5 Mins")
    policy.observe([health("error", "boom")], now=0)
    [recovered] = policy.observe([health("ok")], now=60)
    assert recovered.title == "Halo Integrator (5 Mins): csv recovered"
    assert recovered.urgency == NORMAL
    [stale] = policy.observe([health("stale")], now=120)
    assert stale.title == "Halo Integrator (5 Mins): csv has no recent success"
    [refused] = policy.observe([health("error", GUARD_TEXT, refused=True)], now=180)
    assert refused.title == "Halo Integrator (5 Mins): csv refused a mass deactivation"
    assert refused.urgency == CRITICAL


def test_a_long_folder_name_is_cut_before_what_happened_is() -> None:
    title = notice_title("Nightly directory import for the Amsterdam office", "csv failed")
    assert utf16_units(title) <= TITLE_MAX_UNITS
    assert title.startswith("Halo Integrator (Nightly") and title.endswith("…): csv failed")


def test_a_refusal_says_how_many_would_go_and_names_the_first() -> None:
    policy = NotificationPolicy()
    keys = [f"user{n}@example.com" for n in range(10)]
    refused = replace(
        health("error", GUARD_TEXT, refused=True),
        last_parts=[{"entity": "Users", "withheld": 60, "withheld_keys": keys}],
    )
    [notice] = policy.observe([refused], now=0)
    assert notice.text.startswith(
        "60 records would be deactivated: user0@example.com, user1@example.com, "
        "user2@example.com and 57 more."
    )


def test_a_module_failing_every_five_minutes_notifies_once_then_daily() -> None:
    policy = NotificationPolicy(reminder_seconds=86_400)
    failures = [
        policy.observe([health("error", "boom")], now=minute * 60) for minute in range(0, 600, 5)
    ]
    assert sum(len(batch) for batch in failures) == 1
    assert kinds(policy.observe([health("error", "boom")], now=86_400)) == [(ERROR, "csv")]


def test_recovery_notifies_once_and_only_after_an_error() -> None:
    policy = NotificationPolicy()
    policy.observe([health("error", "boom")], now=0)
    assert kinds(policy.observe([health("ok")], now=60)) == [(RECOVERED, "csv")]
    assert policy.observe([health("ok")], now=120) == []


def test_a_refused_mass_deactivation_notifies_with_the_guard_text_even_when_failing() -> None:
    policy = NotificationPolicy()
    policy.observe([health("error", "users.csv is missing")], now=0)
    [notice] = policy.observe([health("error", GUARD_TEXT, refused=True)], now=60)
    assert notice.kind == REFUSED
    assert notice.text == GUARD_TEXT  # the run's details did not say which records
    assert "refused" in notice.title


def test_a_failure_whose_text_reads_like_a_refusal_is_an_error_not_a_refusal() -> None:
    policy = NotificationPolicy()
    [notice] = policy.observe([health("error", GUARD_TEXT)], now=0)
    assert notice.kind == ERROR


def test_a_too_old_success_notifies_once_per_episode() -> None:
    policy = NotificationPolicy()
    assert kinds(policy.observe([health("stale")], now=0)) == [(STALE, "csv")]
    assert policy.observe([health("stale")], now=600) == []
    policy.observe([health("ok")], now=700)
    assert kinds(policy.observe([health("stale")], now=2000)) == [(STALE, "csv")]


def test_each_module_is_tracked_on_its_own() -> None:
    policy = NotificationPolicy()
    notices = policy.observe([health("error", "a broke", "a"), health("error", "b broke", "b")])
    assert kinds(notices) == [(ERROR, "a"), (ERROR, "b")]


def test_sending_cuts_title_and_text_to_the_windows_limits() -> None:
    sent: list[tuple[str, str]] = []
    assert collecting(sent).send_now(Toast("t" * 100, "x" * 999))
    [(title, text)] = sent
    assert (len(title), len(text)) == (63, 255)  # WCHAR[64] and WCHAR[256] hold a NUL too
    assert len(title) == TITLE_MAX_UNITS and title.endswith("…")
    assert len(text) == TEXT_MAX_UNITS and text.endswith("…")


def test_limits_count_utf16_units_and_never_split_an_emoji() -> None:
    sent: list[tuple[str, str]] = []
    assert collecting(sent).send_now(Toast("\U0001f6a8" * 40, "a" + "\U0001f4c1" * 200))
    [(title, text)] = sent
    assert utf16_units(title) <= TITLE_MAX_UNITS and utf16_units(text) <= TEXT_MAX_UNITS
    assert title == "\U0001f6a8" * 31 + "…"  # 62 units of emoji, the ellipsis is the 63rd
    assert text == "a" + "\U0001f4c1" * 126 + "…"
    title.encode("utf-16-le")  # no lone surrogate: it encodes strictly


def test_text_that_fits_exactly_is_sent_as_it_is() -> None:
    sent: list[tuple[str, str]] = []
    collecting(sent).send_now(Toast("t" * 63, "\U0001f4c1" * 127))
    assert sent == [("t" * 63, "\U0001f4c1" * 127)]


def test_a_failing_notification_backend_is_logged_not_raised(caplog) -> None:
    def broken(toast: Toast) -> None:
        raise RuntimeError("no notification daemon")

    assert Notifier(broken).send_now(Toast("csv", "boom")) is False
    assert "Could not show the notification" in caplog.text


def test_errors_the_state_db_had_at_start_are_not_notified_again() -> None:
    policy = NotificationPolicy(reminder_seconds=86_400)
    policy.seed([health("error", "users.csv is missing"), health("stale", module="b")], now=0)
    assert policy.observe([health("error", "users.csv is missing")], now=60) == []
    # A different kind of failure, the reminder and the dead-man's switch still speak.
    assert kinds(policy.observe([health("error", GUARD_TEXT, refused=True)], now=120)) == [
        (REFUSED, "csv")
    ]
    assert kinds(policy.observe([health("error", GUARD_TEXT, refused=True)], now=86_600)) == [
        (REFUSED, "csv")
    ]
    assert kinds(policy.observe([health("stale", module="b")], now=60)) == [(STALE, "b")]


def test_a_seeded_error_that_recovers_says_so() -> None:
    policy = NotificationPolicy()
    policy.seed([health("error", "boom")], now=0)
    assert kinds(policy.observe([health("ok")], now=60)) == [(RECOVERED, "csv")]


def test_a_settings_problem_notifies_once_per_text_then_daily() -> None:
    policy = NotificationPolicy(reminder_seconds=86_400)
    first = policy.observe_problem("Settings problem", "appsettings.json, line 3: bad", now=0)
    assert first is not None and first.kind == SETTINGS
    assert first.title == "Halo Integrator: settings problem" and first.urgency == CRITICAL
    assert policy.observe_problem("Settings problem", "appsettings.json, line 3: bad", 60) is None
    assert policy.observe_problem("Settings problem", "appsettings.json, line 4: bad", 90)
    assert policy.observe_problem("Settings problem", "appsettings.json, line 4: bad", 86_500)
    assert policy.observe_problem("Settings problem", None, 86_600) is None
    assert policy.observe_problem("Settings problem", "appsettings.json, line 4: bad", 86_700)

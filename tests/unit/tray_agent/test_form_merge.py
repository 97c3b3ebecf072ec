"""The dialog's three-way merge of its fields with a file changed elsewhere (no display)."""

from __future__ import annotations

from tray_agent.settings_dialog.form import ConnectionForm, ModuleForm
from tray_agent.settings_dialog.form_merge import (
    Conflict,
    changed,
    connection_of,
    form_values,
    label,
    merge,
    modules_of,
)


def values(interval: str = "1h", path: str = "a.csv", url: str = "https://a.halopsa.com"):  # type: ignore[no-untyped-def]
    return form_values(
        ConnectionForm(url=url, client_id="id"),
        [ModuleForm("csv", True, interval, {"path": path}, "csv")],
    )


def test_an_untouched_field_takes_the_file_s_value_and_an_edit_stays() -> None:
    merged = merge(values(), values(path="mine.csv"), values(interval="2h"))
    assert merged.values == values(interval="2h", path="mine.csv")
    assert merged.reloaded == [("csv", "Interval")] and merged.conflicts == []


def test_a_field_changed_differently_in_both_places_is_a_conflict_showing_mine() -> None:
    merged = merge(values(), values(interval="3h"), values(interval="2h"))
    assert merged.conflicts == [Conflict(("csv", "Interval"), "3h", "2h")]
    assert merged.values[("csv", "Interval")] == "3h"


def test_the_same_change_in_both_places_is_no_conflict() -> None:
    merged = merge(values(), values(interval="2h"), values(interval="2h"))
    assert merged.conflicts == [] and merged.reloaded == []


def test_instances_added_or_removed_elsewhere_appear_or_go_unless_edited() -> None:
    base = values()
    theirs = {**values(), **form_values(ConnectionForm(), [ModuleForm("ldap", type="ldap")])}
    theirs = {key: value for key, value in theirs.items() if key[0] != "Halo" or key in base}
    added = merge(base, base, theirs)
    assert [form.name for form in modules_of(added.values, ["csv"])] == ["csv", "ldap"]
    without_csv = {key: value for key, value in base.items() if key[0] != "csv"}
    assert modules_of(merge(base, base, without_csv).values) == []
    kept = merge(base, values(path="mine.csv"), without_csv)
    [form] = modules_of(kept.values)
    assert form.options == {"path": "mine.csv"} and form.enabled
    assert kept.conflicts == [Conflict(("csv", "Options", "path"), "mine.csv", None)]


def test_values_round_trip_to_the_forms_and_name_fields_as_problems_do() -> None:
    shown = values()
    assert connection_of(shown) == ConnectionForm(url="https://a.halopsa.com", client_id="id")
    assert modules_of(shown) == [ModuleForm("csv", True, "1h", {"path": "a.csv"}, "csv")]
    assert changed(shown, values(url="https://b.halopsa.com")) == [("Halo", "url")]
    assert label(("Halo", "client_id")) == "Halo.ClientId"
    assert label(("csv", "Options", "path")) == "csv.Options.path"

"""Edits in the dialog against changes made elsewhere: a three-way merge of field values.

While the dialog is open, ``module enable csv --interval 2h``, the tray or an editor may
change ``appsettings.json``. The dialog keeps what it showed when it (re)loaded the file
(``base``); with the widgets' values (``mine``) and the file's new values (``theirs``) each
field is decided on its own: a field the admin did not touch takes the file's value, one
only the admin changed keeps the edit, and one both changed differently is a conflict the
admin is asked about. Whole instances work the same way: their keys are present or absent.
No display needed, so every rule is unit-tested.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from tray_agent.settings_dialog.form import ConnectionForm, ModuleForm

Key = tuple[str, ...]  # ("Halo", "url"), ("csv", "Interval"), ("csv", "Options", "path")
Values = dict[Key, Any]
HALO = "Halo"


@dataclass(frozen=True)
class Conflict:
    key: Key
    mine: Any
    theirs: Any

    @property
    def label(self) -> str:
        return label(self.key)


@dataclass
class Merged:
    values: Values
    reloaded: list[Key] = field(default_factory=list)  # fields that now show the file's value
    conflicts: list[Conflict] = field(default_factory=list)  # shown: the admin's value


def form_values(connection: ConnectionForm, modules: Sequence[ModuleForm]) -> Values:
    """Every field of the dialog under its key; an instance's keys exist while it does."""
    values: Values = {
        (HALO, item.name): getattr(connection, item.name) for item in fields(connection)
    }
    for module in modules:
        values[(module.name, "Type")] = module.type
        values[(module.name, "Enabled")] = module.enabled
        values[(module.name, "Interval")] = module.interval
        for name, value in module.options.items():
            values[(module.name, "Options", name)] = value
    return values


def merge(base: Values, mine: Values, theirs: Values) -> Merged:
    """Decide every field (see the module docstring); a conflict keeps the admin's value."""
    merged = Merged({})
    missing = object()
    for key in sorted({*base, *mine, *theirs}):
        was, edited, on_disk = (values.get(key, missing) for values in (base, mine, theirs))
        if edited == was:
            value = on_disk
            if on_disk != edited:
                merged.reloaded.append(key)
        else:
            value = edited
            if on_disk not in (was, edited):
                merged.conflicts.append(
                    Conflict(key, _shown(edited, missing), _shown(on_disk, missing))
                )
        if value is not missing:
            merged.values[key] = value
    # An instance removed elsewhere that the admin edited stays whole (its edits conflict).
    orphans = {key[0] for key in merged.values if key[0] != HALO} - {
        key[0] for key in merged.values if key[1:] == ("Type",)
    }
    merged.values.update({key: value for key, value in mine.items() if key[0] in orphans})
    return merged


def _shown(value: Any, missing: object) -> Any:
    return None if value is missing else value


def connection_of(values: Values) -> ConnectionForm:
    return ConnectionForm(**{key[1]: value for key, value in values.items() if key[0] == HALO})


def modules_of(values: Values, order: Sequence[str] = ()) -> list[ModuleForm]:
    """The instances in ``values``: those in ``order`` first (as the dialog shows them)."""
    names = [key[0] for key in values if key[0] != HALO and key[1:] == ("Type",)]
    names.sort(key=lambda name: (order.index(name) if name in order else len(order), name))
    return [
        ModuleForm(
            name,
            bool(values.get((name, "Enabled"), False)),
            str(values.get((name, "Interval"), "1h")),
            {key[2]: value for key, value in values.items() if key[:2] == (name, "Options")},
            str(values[(name, "Type")]),
        )
        for name in names
    ]


def label(key: Key) -> str:
    """``Halo.ClientId``, ``csv.Interval``: the field paths the dialog's problems use."""
    if key[0] == HALO:
        return f"{HALO}." + "".join(word.capitalize() for word in key[1].split("_"))
    return ".".join(key)


def changed(base: Values, mine: Values) -> list[Key]:
    """The fields the admin changed since the last load or save (Close asks about them)."""
    return sorted(key for key in {*base, *mine} if base.get(key) != mine.get(key))

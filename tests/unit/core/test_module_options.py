"""Module options: one dataclass schema drives defaults, checks, help and secrets."""

from __future__ import annotations

from dataclasses import dataclass, fields

import pytest

from core.modules.csv_import import CsvOptions
from core.modules.options import describe, option, parse_options, to_settings
from core.settings.secrets import Secret


@dataclass(frozen=True)
class ExampleOptions:
    host: str = option(help="server")
    port: int = option(389, help="port", minimum=1)
    use_tls: bool = option(True, help="tls")
    password: Secret | None = option(None, help="bind password")
    mode: str = option("full", help="mode", choices=("full", "delta"))


def test_defaults_apply_and_values_are_coerced_from_strings() -> None:
    options, problems = parse_options(
        ExampleOptions, {"host": "dc1", "port": "636", "use_tls": "no", "password": "pw"}
    )
    assert problems == []
    assert (options.host, options.port, options.use_tls, options.mode) == (
        "dc1",
        636,
        False,
        "full",
    )
    assert isinstance(options.password, Secret) and options.password.reveal() == "pw"


def test_every_problem_is_reported_at_once() -> None:
    options, problems = parse_options(
        ExampleOptions, {"port": "0", "use_tls": "maybe", "mode": "half", "colour": "red"}
    )
    assert options is None
    assert dict(problems) == {
        "host": "required",
        "port": "must be at least 1",
        "use_tls": "'maybe' is not true or false",
        "mode": "'half' is not one of full, delta",
        "colour": "unknown option",
    }


def test_describe_lists_options_with_help_and_secrecy() -> None:
    described = {info.name: info for info in describe(ExampleOptions)}
    assert described["host"].required and not described["port"].required
    assert described["password"].secret and described["password"].kind == "Secret"
    assert described["mode"].choices == ("full", "delta")


def test_csv_options_schema_is_complete() -> None:
    names = [info.name for info in describe(CsvOptions)]
    assert names[0] == "path" and "max_deactivate_percent" in names
    assert all(info.help for info in describe(CsvOptions))


@dataclass(frozen=True)
class SiteRule:
    ou: str = option(help="OU, e.g. OU=Leeds,DC=acme,DC=local")
    site_id: int = option(help="Halo site id", minimum=1)


@dataclass(frozen=True)
class NestedOptions:
    api_key: str = option(help="an API key", secret=True)
    site_rules: tuple[SiteRule, ...] = option(
        default_factory=tuple, help="OU -> site", example=[{"ou": "OU=Leeds", "site_id": 3}]
    )
    field_map: dict[str, str] = option(default_factory=dict, help="source -> Halo field")
    folders: list[str] = option(default_factory=list, help="mail folders")
    first: int = option(1, help="first")
    last: int = option(10, help="last")

    def problems(self) -> list[tuple[str, str]]:
        return [("last", "must not be below first")] if self.last < self.first else []


def test_a_secret_text_option_is_a_secret_value_not_its_mask() -> None:
    options, problems = parse_options(NestedOptions, {"api_key": "k-1234567890"})
    assert problems == []
    assert isinstance(options.api_key, Secret)
    assert options.api_key.reveal() == "k-1234567890"
    assert "k-1234567890" not in repr(options) and "k-1234567890" not in str(options.api_key)
    assert to_settings(options)["api_key"] == options.api_key  # stays a Secret: encrypted on save
    assert {info.name: info.secret for info in describe(NestedOptions)}["api_key"]


def test_lists_mappings_and_nested_options_are_built_and_round_trip() -> None:
    raw = {
        "api_key": "k-1234567890",
        "site_rules": [{"ou": "OU=Leeds", "site_id": 3}, {"ou": "OU=York", "site_id": "4"}],
        "field_map": {"mail": "emailaddress"},
        "folders": ["INBOX", "Support"],
    }
    options, problems = parse_options(NestedOptions, raw)
    assert problems == []
    assert options.site_rules == (SiteRule("OU=Leeds", 3), SiteRule("OU=York", 4))
    assert options.field_map == {"mail": "emailaddress"} and options.folders == ["INBOX", "Support"]
    saved = to_settings(options)
    assert saved["site_rules"] == [
        {"ou": "OU=Leeds", "site_id": 3},
        {"ou": "OU=York", "site_id": 4},
    ]
    again, _ = parse_options(NestedOptions, saved)
    assert again == options


def test_nested_problems_name_their_path_and_all_are_reported() -> None:
    raw = {
        "api_key": "k-1234567890",
        "site_rules": [
            {"ou": "OU=Leeds", "site_id": 3},
            {"ou": "OU=York", "site_id": 0},
            {"site": 2},
        ],
        "field_map": {"mail": ["not", "text"]},
        "folders": "INBOX",
        "first": 5,
        "last": 2,
    }
    options, problems = parse_options(NestedOptions, raw)
    assert options is None
    assert dict(problems) == {
        "site_rules[1].site_id": "must be at least 1",
        "site_rules[2].site": "unknown option",
        "site_rules[2].ou": "required",
        "site_rules[2].site_id": "required",
        "field_map.mail": "must be text, not a list or an object",
        "folders": "must be a list ([...])",
    }
    # Cross-field checks run once the fields themselves are valid.
    _, cross = parse_options(NestedOptions, {"api_key": "k-1234567890", "first": 5, "last": 2})
    assert cross == [("last", "must not be below first")]


def test_numbers_that_are_not_finite_or_not_whole_are_refused() -> None:
    _, problems = parse_options(
        NestedOptions, {"api_key": "k-1234567890", "first": 1e999, "last": 2.5}
    )
    assert dict(problems) == {
        "first": "inf is not a whole number",
        "last": "2.5 is not a whole number",
    }


def test_a_csv_delimiter_must_be_one_character() -> None:
    for delimiter in ("", ";;"):
        _, problems = parse_options(CsvOptions, {"path": "u.csv", "delimiter": delimiter})
        assert problems == [("delimiter", "must be exactly one character, such as , or ;")]
    _, problems = parse_options(CsvOptions, {"path": "u.csv", "max_deactivate_percent": 150})
    assert problems == [("max_deactivate_percent", "must be at most 100")]


def test_every_option_of_every_module_has_a_label_and_help_for_the_dialog() -> None:
    import dataclasses

    from core.modules.registry import MODULES

    for type_name, cls in MODULES.items():
        written = {entry.name: entry.metadata["label"] for entry in dataclasses.fields(cls.Options)}
        for info in describe(cls.Options):
            assert written[info.name], f"{type_name}.{info.name} has no label"
            assert info.help, f"{type_name}.{info.name}"
            names = {other.name for other in describe(cls.Options)}
            assert {other for other, _ in info.applies_when} <= names, f"{type_name}.{info.name}"


def test_applies_when_hides_an_option_only_for_the_values_it_does_not_apply_to() -> None:
    infos = {info.name: info for info in describe(CsvOptions)}
    asset_type, guard = infos["assettype_id"], infos["max_deactivate_percent"]
    assert not asset_type.applies({"target": "users"})
    assert asset_type.applies({"target": "assets"})
    assert asset_type.applies({})  # nothing known about the target: shown
    assert guard.applies({"deactivate_missing": True})
    assert guard.applies({"deactivate_missing": "True"})  # as text from a form
    assert not guard.applies({"deactivate_missing": False})
    assert infos["path"].browse == "file" and infos["path"].label == "CSV file"
    assert infos["key_column"].applies({"target": "users"})


def test_an_option_without_a_label_is_named_in_words_and_browse_is_checked() -> None:
    @dataclass(frozen=True)
    class Plain:
        max_items_per_run: int = option(5, help="h")

    [info] = describe(Plain)
    assert info.label == "Max items per run"
    with pytest.raises(ValueError, match="browse"):
        option("", help="h", browse="files")


def test_a_full_read_interval_that_does_not_parse_is_reported_at_its_path() -> None:
    """``check`` metadata: a value of the right type that is still wrong, reported alike in
    every module with delta runs."""
    from core.modules.registry import MODULES

    for type_name in ("ldap", "azure_ad", "lansweeper", "sql"):
        raw = {"full_reconcile_every": "fortnightly", "query": "SELECT 1", "database_url": "x"}
        known = {entry.name for entry in fields(MODULES[type_name].Options)}
        _, problems = parse_options(
            MODULES[type_name].Options,
            {name: value for name, value in raw.items() if name in known},
        )
        assert (
            "full_reconcile_every",
            '"fortnightly" is not an interval; use 5m, 1h or daily@02:00',
        ) in problems, (type_name, problems)

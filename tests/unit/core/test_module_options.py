"""Module options: one dataclass schema drives defaults, checks, help and secrets."""

from __future__ import annotations

from dataclasses import dataclass

from core.modules.csv_import import CsvOptions
from core.modules.options import describe, option, parse_options
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

"""The settings dialog's rules, without a display: form values in, Settings and problems out."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.errors import ConfigError
from core.modules.base import SyncModule
from core.modules.options import option
from core.modules.registry import MODULES
from core.run.context import RunContext
from core.settings.model import HaloConnection, Interval, ModuleSettings, Settings
from core.settings.reader import load_settings
from core.settings.secrets import Secret
from core.settings.writer import save_settings
from tray_agent.settings_dialog import form
from tray_agent.settings_dialog.form import ConnectionForm, ModuleForm

URL = "https://acme.halopsa.com"


def stored_settings(tmp_path: Path) -> Settings:
    connection = HaloConnection(URL, "client", Secret("stored-secret"), requests_per_window=60)
    settings = Settings.new(tmp_path / "appsettings.json", connection)
    settings.modules.append(
        ModuleSettings("csv", True, Interval.parse("5m"), {"path": "users.csv"}, halo_record_id=7)
    )
    settings.modules.append(ModuleSettings("ldap-from-a-newer-version", options={"x": 1}))
    return settings


def csv_form(**changes: object) -> ModuleForm:
    module = form.module_form("csv", None)
    module.enabled = True
    module.options["path"] = "users.csv"
    for key, value in changes.items():
        if key in ("enabled", "interval"):
            setattr(module, key, value)
        else:
            module.options[key] = value
    return module


def test_the_form_never_receives_a_stored_secret(tmp_path: Path) -> None:
    shown = form.connection_form(stored_settings(tmp_path))
    assert shown == ConnectionForm(URL, "client", "", "", "")


def test_every_connection_problem_is_reported_at_once() -> None:
    _, problems = form.connection_from_form(ConnectionForm(url="acme.halopsa.com"), None)
    assert set(problems) == {"Halo.Url", "Halo.ClientId", "Halo.ClientSecret"}
    assert "not a web address" in problems["Halo.Url"]


def test_plain_http_is_refused_except_for_loopback() -> None:
    typed = ConnectionForm(
        url="http://halo.example.com", client_id="c", client_secret="s-long-enough"
    )
    assert "plain http" in form.connection_from_form(typed, None)[1]["Halo.Url"]
    typed.url = "http://127.0.0.1:8080/"
    connection, problems = form.connection_from_form(typed, None)
    assert problems == {} and connection.url == "http://127.0.0.1:8080"


def test_a_blank_secret_keeps_the_stored_one_and_the_advanced_values(tmp_path: Path) -> None:
    stored = stored_settings(tmp_path).halo
    connection, problems = form.connection_from_form(
        ConnectionForm(URL, "client", "", "tenant-a", ""), stored
    )
    assert problems == {}
    assert connection.client_secret == Secret("stored-secret")
    assert connection.tenant == "tenant-a" and connection.requests_per_window == 60
    typed, _ = form.connection_from_form(ConnectionForm(URL, "client", "new"), stored)
    assert typed.client_secret == Secret("new")


def test_module_options_are_typed_and_checked_like_the_settings_file() -> None:
    entry, problems = form.module_from_form(csv_form(site_id="3", interval="daily@02:00"), None)
    assert problems == {} and entry is not None
    assert entry.options["site_id"] == 3 and entry.options["delimiter"] == ","
    assert entry.interval.daily_at is not None
    _, problems = form.module_from_form(
        csv_form(path="", site_id="x", target="nope", interval="often"), None
    )
    assert problems == {
        "csv.Interval": '"often" is not an interval; use 5m, 1h or daily@02:00',
        "csv.Options.path": "required",
        "csv.Options.site_id": "'x' is not a whole number",
        "csv.Options.target": "'nope' is not one of users, assets",
    }


def test_an_untouched_disabled_module_is_not_written() -> None:
    assert form.module_from_form(form.module_form("csv", None), None) == (None, {})


def test_saving_keeps_unknown_modules_record_ids_and_order(tmp_path: Path) -> None:
    stored = stored_settings(tmp_path)
    settings, problems = form.settings_from_form(
        stored.path, stored, ConnectionForm(URL, "client"), [csv_form(interval="1h")]
    )
    assert problems == {} and settings is not None
    assert [m.name for m in settings.modules] == ["csv", "ldap-from-a-newer-version"]
    assert settings.modules[0].halo_record_id == 7
    assert settings.modules[0].interval.text == "1h"


def test_a_new_folder_gets_new_settings_that_load_back(tmp_path: Path) -> None:
    path = tmp_path / "new" / "appsettings.json"
    settings, problems = form.settings_from_form(
        path, None, ConnectionForm(URL, "client", "typed-secret"), [csv_form()]
    )
    assert problems == {} and settings is not None
    save_settings(settings)
    loaded = load_settings(path)
    assert loaded.halo.client_secret == Secret("typed-secret")
    assert loaded.module("csv") is not None
    assert "typed-secret" not in path.read_text()


def test_nothing_is_built_while_any_field_has_a_problem(tmp_path: Path) -> None:
    stored = stored_settings(tmp_path)
    settings, problems = form.settings_from_form(
        stored.path, stored, ConnectionForm("ftp://x", "client"), [csv_form(interval="")]
    )
    assert settings is None and set(problems) == {"Halo.Url", "csv.Interval"}


def test_load_problem_only_for_a_file_that_exists(tmp_path: Path) -> None:
    path = tmp_path / "appsettings.json"
    error = ConfigError("not valid JSON", path=str(path), line=3, field="Halo.Url")
    assert form.load_problem(error, path) is None
    path.write_text("{")
    banner = form.load_problem(error, path)
    assert banner is not None and "line 3" in banner and "appsettings.json.bak" in banner


def test_about_rows_name_every_path_and_library(tmp_path: Path, monkeypatch) -> None:
    from core import diagnostics

    monkeypatch.setattr(diagnostics, "LIBRARIES", ("httpx", "surely-not-installed-xyz"))
    rows = dict(form.about_rows(tmp_path / "appsettings.json", None))
    assert rows["State database"] == str(tmp_path / "state.db")
    assert rows["Logs folder"] == str(tmp_path / "logs")
    assert rows["surely-not-installed-xyz"] == "not installed"
    assert rows["httpx"][0].isdigit()


def test_the_form_logic_and_the_package_import_without_tkinter() -> None:
    code = (
        "import sys, tray_agent.settings_dialog, tray_agent.settings_dialog.form; "
        "sys.exit('tkinter' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_each_configured_instance_gets_a_section_and_a_new_folder_one_per_type(
    tmp_path: Path,
) -> None:
    assert [f.name for f in form.module_forms(None)] == list(MODULES)
    stored = stored_settings(tmp_path)
    stored.modules.append(
        ModuleSettings("inventory", True, Interval.parse("1d"), {"path": "a.csv"}, type="csv")
    )
    sections = form.module_forms(stored)
    # The unknown type from a newer version is kept in the file but not shown.
    assert [(f.name, f.type) for f in sections] == [("csv", "csv"), ("inventory", "csv")]
    assert sections[1].options["path"] == "a.csv" and sections[1].interval == "1d"


def test_a_new_instance_needs_a_free_valid_name() -> None:
    assert form.new_instance_problem("assets", ["csv"]) is None
    assert "already used" in (form.new_instance_problem("CSV", ["csv"]) or "")
    assert "not a module name" in (form.new_instance_problem("my csv", []) or "")


def test_added_and_removed_instances_are_saved_as_such(tmp_path: Path) -> None:
    stored = stored_settings(tmp_path)
    added = form.module_form("inventory", None, "csv")
    added.enabled = True
    added.options.update(path="assets.csv", target="assets")
    settings, problems = form.settings_from_form(
        stored.path, stored, ConnectionForm(URL, "client"), [added], removed=["csv"]
    )
    assert problems == {} and settings is not None
    assert [(m.name, m.type) for m in settings.modules] == [
        ("ldap-from-a-newer-version", "ldap-from-a-newer-version"),
        ("inventory", "csv"),
    ]
    assert settings.modules[1].options["target"] == "assets"


@dataclass(frozen=True)
class Rule:
    ou: str = option(help="OU")
    site_id: int = option(help="site", minimum=1)


@dataclass(frozen=True)
class RuleOptions:
    rules: list[Rule] = option(default_factory=list, help="OU -> site")


class Rules(SyncModule):
    type_name, display_name, description, Options = "rules", "Rules", "rules", RuleOptions

    def run(self, context: RunContext) -> None:
        raise NotImplementedError


def test_structured_options_are_json_text_checked_with_their_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(MODULES, "rules", Rules)
    shown = form.module_form("directory", None, "rules")
    assert shown.options["rules"] == "[]"
    assert "not valid JSON" in (form.option_problem("rules", "rules", '[{"ou": ') or "")
    wrong = '[{"ou": "OU=Leeds", "site_id": 0}]'
    assert form.option_problem("rules", "rules", wrong) == "rules[0].site_id: must be at least 1"
    shown.enabled = True
    shown.options["rules"] = wrong
    _, problems = form.module_from_form(shown, None)
    assert problems == {"directory.Options.rules[0].site_id": "must be at least 1"}
    shown.options["rules"] = '[{"ou": "OU=Leeds", "site_id": 3}]'
    entry, problems = form.module_from_form(shown, None)
    assert problems == {} and entry is not None
    assert entry.options["rules"] == [{"ou": "OU=Leeds", "site_id": 3}]


def test_a_client_secret_too_short_to_mask_is_refused() -> None:
    typed = ConnectionForm(url=URL, client_id="c", client_secret="short")
    assert "too short" in form.connection_from_form(typed, None)[1]["Halo.ClientSecret"]


def test_a_blank_secret_mapping_keeps_the_stored_one(tmp_path: Path) -> None:
    settings = stored_settings(tmp_path)
    stored = ModuleSettings(
        "powershell",
        True,
        Interval.parse("5m"),
        {"scripts_folder": "scripts", "environment": {"AD_PASSWORD": Secret("stored-pa55word")}},
    )
    settings.modules.append(stored)
    shown = form.module_form("powershell", settings)
    assert shown.options["environment"] == ""  # never put back into a widget
    entry, problems = form.module_from_form(shown, stored)
    assert problems == {} and entry is not None
    assert entry.options["environment"] == {"AD_PASSWORD": Secret("stored-pa55word")}


def test_an_option_with_a_text_form_is_accepted_as_the_cli_set_accepts_it() -> None:
    """ldap ``base_dns`` typed as ``A;B`` in the dialog, as ``--set base_dns=A;B`` takes it."""
    module = form.module_form("ad", None, "ldap")
    module.enabled = True
    module.options.update(
        server="ldaps://dc1.example.com",
        bind_dn="CN=svc,DC=example,DC=com",
        bind_password="a-long-enough-password",
        base_dns="OU=Staff,DC=example,DC=com; OU=Admins,DC=example,DC=com",
    )
    assert form.option_problem("ldap", "base_dns", module.options["base_dns"]) is None
    entry, problems = form.module_from_form(module, None)
    assert problems == {} and entry is not None
    assert [base["dn"] for base in entry.options["base_dns"]] == [
        "OU=Staff,DC=example,DC=com",
        "OU=Admins,DC=example,DC=com",
    ]
    # A broken JSON list is still JSON, and still reported as such.
    assert "not valid JSON" in str(form.option_problem("ldap", "base_dns", '[{"dn": '))


def test_a_saved_instance_keeps_its_id_so_its_halo_records_stay_its_own(tmp_path: Path) -> None:
    """The Id marks every record the instance wrote: a Save from the dialog must keep it."""
    stored = ModuleSettings(name="csv", options={"path": "users.csv"})
    module = form.ModuleForm("csv", True, "1h", {"path": "other.csv"})
    entry, problems = form.module_from_form(module, stored)
    assert problems == {} and entry is not None
    assert entry.id == stored.id
    new_entry, _ = form.module_from_form(
        form.ModuleForm("fresh", True, "1h", {"path": "a.csv"}, "csv"), None
    )
    assert new_entry is not None and new_entry.id and new_entry.id != stored.id


def test_base_dns_saved_from_their_text_form_show_as_that_text_again() -> None:
    """Typed ``A;B`` comes back as ``A;B``, not as the JSON list it is stored as; bases with
    their own filter or site need the JSON, and get it."""
    connection = HaloConnection("https://acme.halopsa.com", "client", Secret("s" * 16))
    settings = Settings.new(Path("/tmp/x/appsettings.json"), connection)
    module = form.module_form("ad", None, "ldap")
    module.enabled = True
    module.options.update(server="ldaps://dc1", bind_dn="CN=svc", base_dns="OU=A,DC=x;OU=B,DC=x")
    entry, problems = form.module_from_form(module, None)
    assert problems == {} and entry is not None
    settings.modules.append(entry)
    assert form.module_form("ad", settings).options["base_dns"] == "OU=A,DC=x;OU=B,DC=x"
    entry.options["base_dns"][1]["site_name"] = "Leeds"
    shown = form.module_form("ad", settings).options["base_dns"]
    assert json.loads(shown)[1]["site_name"] == "Leeds"

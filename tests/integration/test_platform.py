"""The machinery every integration shares, driven by small test module types over the
emulator: several entities in one run, queues, missing extras, record owners, failures
reported once Halo took them, run rows that always finish, and safe points."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest

from core.halo.client import HaloClient
from core.modules.base import SyncModule
from core.modules.options import option
from core.modules.registry import MODULES
from core.outcomes import Outcome
from core.run.context import RunContext
from core.run.health import module_statuses
from core.run.request import RunRequest
from core.run.runner import RunEvent, Runner
from core.settings.model import ModuleSettings, Settings
from core.settings.reader import load_settings
from core.settings.writer import save_settings
from core.state.store import StateStore
from core.sync.records import USERS, HaloTarget, SourceRecord
from halo_emulator import Emulator

from .conftest import FAST_RETRY, connection_for, halo_users, user_rows, write_csv

SITES = HaloTarget(entity="Site", match=("name",))


@dataclass(frozen=True)
class DirectoryOptions:
    sites: list[str] = option(default_factory=list, help="site names")
    users: list[dict[str, str]] = option(default_factory=list, help="users (Halo fields)")


class FakeDirectory(SyncModule):
    """Sites first, then the users that refer to them: two entities in one run."""

    type_name = "test-directory"
    display_name = "Test directory"
    description = "sites and users from its options"
    Options = DirectoryOptions
    after_run: ClassVar[Callable[[], None] | None] = None

    def run(self, context: RunContext) -> None:
        sites = [SourceRecord(site.lower(), {"name": site}) for site in self.options.sites]
        context.sync_records(SITES, sites, deactivate_missing=False)
        users = [
            SourceRecord(user["emailaddress"], dict(user), user.get("name", ""))
            for user in self.options.users
        ]
        context.sync_records(USERS, users)
        if FakeDirectory.after_run is not None:
            FakeDirectory.after_run()


@dataclass(frozen=True)
class QueueOptions:
    items: list[str] = option(default_factory=list, help="work items; 'bad' fails")


class FakeQueue(SyncModule):
    """Works off a queue (like mail or scripts): counted, never mirrored."""

    type_name = "test-queue"
    display_name = "Test queue"
    description = "a queue of items"
    Options = QueueOptions

    def run(self, context: RunContext) -> None:
        tally = context.queue("Mail")
        for index, item in enumerate(self.options.items):
            if item == "bad":
                tally.failed(f"item-{index}", f"item {index}", "could not be processed")
            else:
                tally.done()
            context.safe_point()


class NeedsLibrary(SyncModule):
    type_name = "test-needs-library"
    display_name = "Needs a library"
    description = "needs a library this machine lacks"
    Options = QueueOptions
    requires = ("halo_integrator_no_such_library",)
    extra = "ldap"

    def run(self, context: RunContext) -> None:
        raise AssertionError("must not run without its library")


class Interrupted(SyncModule):
    type_name = "test-interrupted"
    display_name = "Interrupted"
    description = "is interrupted half-way"
    Options = QueueOptions

    def run(self, context: RunContext) -> None:
        context.queue("Mail").done()
        raise KeyboardInterrupt


@pytest.fixture(autouse=True)
def test_modules(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for cls in (FakeDirectory, FakeQueue, NeedsLibrary, Interrupted):
        monkeypatch.setitem(MODULES, cls.type_name, cls)
    yield
    FakeDirectory.after_run = None


@pytest.fixture
def folder_with(tmp_path: Path, emulator: Emulator) -> Callable[..., Settings]:
    def make(*entries: ModuleSettings) -> Settings:
        settings = Settings.new(tmp_path / "Halo" / "appsettings.json", connection_for(emulator))
        settings.modules.extend(entries)
        save_settings(settings)
        return load_settings(settings.folder)

    return make


def runner(settings: Settings, listeners: Sequence[Callable[[RunEvent], None]] = ()) -> Runner:
    return Runner(
        settings,
        client_factory=lambda: HaloClient(settings.halo, retry=FAST_RETRY),
        listeners=listeners,
    )


def integration_errors(emulator: Emulator) -> list[dict[str, Any]]:
    with HaloClient(connection_for(emulator), retry=FAST_RETRY) as halo:
        body = halo.get("IntegrationError")
    return body if isinstance(body, list) else body["integrationerrors"]


def directory(name: str = "directory", **options: Any) -> ModuleSettings:
    return ModuleSettings(name=name, type="test-directory", options=options)


def test_one_run_syncs_two_entities_and_reports_each(
    emulator: Emulator, folder_with: Callable[..., Settings]
) -> None:
    users = [
        {"emailaddress": "ann@example.com", "name": "Ann", "site_id": "1"},
        {"emailaddress": "noname@example.com", "site_id": "1"},  # Halo refuses a user without name
    ]
    settings = folder_with(directory(sites=["Leeds", "York"], users=users))
    [result] = runner(settings).run()
    assert result.outcome is Outcome.SUCCEEDED  # a refused record fails alone, not the run
    assert [part.entity for part in result.parts] == ["Site", "Users"]
    assert (result.parts[0].counts.created, result.parts[1].counts.created) == (2, 1)
    assert (result.counts.created, result.counts.failed) == (3, 1)
    assert [f.key for f in result.parts[1].failures] == ["noname@example.com"]
    [health] = module_statuses(settings)
    parts = {part["entity"]: part for part in health.last_parts}
    assert (parts["Site"]["created"], parts["Users"]["created"], parts["Users"]["failed"]) == (
        2,
        1,
        1,
    )
    [reported] = [e for e in integration_errors(emulator) if "noname@example.com" in str(e)]
    assert reported["entity_type"] == "Users" and "[directory]" in reported["error"]


def test_a_queue_reports_what_it_processed_not_record_counts(
    emulator: Emulator, folder_with: Callable[..., Settings]
) -> None:
    settings = folder_with(
        ModuleSettings(name="inbox", type="test-queue", options={"items": ["a", "bad", "c"]})
    )
    [result] = runner(settings).run()
    assert (result.counts.processed, result.counts.failed) == (2, 1)
    assert result.summary().startswith("2 processed, 1 failed")
    assert "created" not in result.summary()
    assert any("could not be processed" in str(e) for e in integration_errors(emulator))


def test_a_missing_extra_fails_that_module_alone_with_a_sentence(
    emulator: Emulator, folder_with: Callable[..., Settings], capsys: pytest.CaptureFixture[str]
) -> None:
    settings = folder_with(
        ModuleSettings(name="ldap", type="test-needs-library"),
        ModuleSettings(name="csv", options={"path": "users.csv"}),
    )
    write_csv(settings.folder / "users.csv", user_rows(2))
    ldap, csv = runner(settings).run()
    assert ldap.outcome is Outcome.FAILED
    assert 'needs the ldap extra (pip install "halo-integrator[ldap]"' in (ldap.error or "")
    assert csv.outcome is Outcome.SUCCEEDED and csv.counts.created == 2
    status = StateStore(settings.folder).status("ldap")
    assert status is not None and "needs the ldap extra" in (status.last_error or "")

    from tray_agent.cli import main

    assert main(["modules"]) == 0
    listed = capsys.readouterr().out
    assert "test-needs-library" in listed and "needs the ldap extra" in listed


def test_a_halo_record_belongs_to_one_instance(
    emulator: Emulator, folder_with: Callable[..., Settings]
) -> None:
    shared = {"emailaddress": "ann@example.com", "name": "Ann", "site_id": 1}
    settings = folder_with(
        directory("first", users=[shared]),
        directory("second", users=[{**shared, "name": "Ann from the second"}]),
    )
    first, second = runner(settings).run()
    assert first.counts.created == 1
    [failure] = second.failures
    assert "belongs to the module first" in failure.message
    [ann] = [u for u in halo_users(emulator) if u["emailaddress"] == "ann@example.com"]
    assert ann["name"] == "Ann"  # the second instance did not overwrite it
    # Removing the owner frees the record for the other instance.
    StateStore(settings.folder).forget_module("first")
    [again] = runner(settings).run(RunRequest(modules=("second",)))
    assert again.failures == [] and again.counts.updated == 1


def test_failures_count_as_reported_only_once_halo_accepted_them(
    emulator: Emulator, folder_with: Callable[..., Settings]
) -> None:
    settings = folder_with(directory(users=[{"emailaddress": "noname@example.com", "site_id": 1}]))
    FakeDirectory.after_run = lambda: emulator.set_faults(error_next=20)
    runner(settings).run()
    emulator.set_faults(error_next=0)
    assert not [e for e in integration_errors(emulator) if "noname@example.com" in str(e)]
    FakeDirectory.after_run = None
    runner(settings).run()
    runner(settings).run()
    assert len([e for e in integration_errors(emulator) if "noname@example.com" in str(e)]) == 1


def test_a_run_row_never_stays_running(
    emulator: Emulator, folder_with: Callable[..., Settings]
) -> None:
    settings = folder_with(ModuleSettings(name="cut", type="test-interrupted"))
    with pytest.raises(KeyboardInterrupt):
        runner(settings).run()
    [row] = StateStore(settings.folder).recent_runs("cut")
    assert row["outcome"] == "failed" and row["finished_at"] is not None


def test_old_runs_are_pruned(
    emulator: Emulator, folder_with: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    import core.state.store

    monkeypatch.setattr(core.state.store, "KEEP_RUNS_PER_MODULE", 3)
    settings = folder_with(
        ModuleSettings(name="inbox", type="test-queue", options={"items": ["a"]})
    )
    for _ in range(5):
        runner(settings).run()
    assert len(StateStore(settings.folder).recent_runs("inbox", limit=100)) == 3


def test_safe_points_come_after_committed_batches_only(
    emulator: Emulator, folder_with: Callable[..., Settings]
) -> None:
    users = [
        {"emailaddress": f"u{n}@example.com", "name": f"U{n}", "site_id": 1} for n in range(12)
    ]
    settings = folder_with(directory(users=users))
    settings.halo.batch_size = 5
    state = StateStore(settings.folder)
    seen: list[tuple[str, int]] = []

    def listen(event: RunEvent) -> None:
        if event.kind == "safe-point":
            seen.append(("safe-point", len(state.mapped_records("directory", "Users"))))
        elif event.kind == "progress":
            seen.append(("progress", event.done))

    runner(settings, [listen]).run()
    assert seen == [
        ("progress", 5), ("safe-point", 5),
        ("progress", 10), ("safe-point", 10),
        ("progress", 12), ("safe-point", 12),
    ]  # fmt: skip


def test_the_command_line_parser_loads_neither_the_emulator_nor_aiohttp() -> None:
    code = (
        "import sys\nfrom tray_agent.cli import parse_arguments\n"
        "parse_arguments(['status'])\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('aiohttp', 'halo_emulator')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
    helped = subprocess.run(
        [str(Path(sys.executable).with_name("halo-integrator")), "emulator", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "--rate-limit" in helped.stdout and "halo-integrator emulator" in helped.stdout


@dataclass(frozen=True)
class SiteRule:
    ou: str = option(help="OU")
    site_id: int = option(help="Halo site id", minimum=1)


@dataclass(frozen=True)
class RuleOptions:
    site_rules: tuple[SiteRule, ...] = option(default_factory=tuple, help="OU -> site rules")


class FakeRules(SyncModule):
    type_name = "test-rules"
    display_name = "Rules"
    description = "has nested options"
    Options = RuleOptions

    def run(self, context: RunContext) -> None:
        context.queue("Rules").done(len(self.options.site_rules))


def test_a_wrong_nested_option_is_reported_with_its_path_and_line(
    emulator: Emulator, folder_with: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from core.errors import ConfigError

    monkeypatch.setitem(MODULES, FakeRules.type_name, FakeRules)
    settings = folder_with(ModuleSettings(name="x", type="test-queue"))
    document = json.loads(settings.path.read_text())
    document["Modules"] = [
        {"Name": "directory-sites", "Type": "test-rules", "Options": {"site_rules": [
            {"ou": "OU=Leeds", "site_id": 3},
            {"ou": "OU=York", "site_id": 0},
        ]}},
    ]  # fmt: skip
    text = json.dumps(document, indent=2)
    settings.path.write_text(text)
    wrong_line = next(
        number for number, line in enumerate(text.splitlines(), 1) if '"site_id": 0' in line
    )
    with pytest.raises(ConfigError) as raised:
        runner(load_settings(settings.folder)).run()
    assert (
        f"line {wrong_line}, Modules[0].Options.site_rules[1].site_id: must be at least 1"
        in str(raised.value)
    )


@dataclass(frozen=True)
class SecretiveOptions:
    api_key: str = option(help="an API key", secret=True)


class FakeSecretive(SyncModule):
    type_name = "test-secretive"
    display_name = "Secretive"
    description = "has a secret text option"
    Options = SecretiveOptions

    def run(self, context: RunContext) -> None:
        context.log.info("using key %s", self.options.api_key.reveal())
        context.queue("Keys").done()


def test_a_secret_text_option_is_encrypted_on_disk_and_never_shown(
    emulator: Emulator,
    folder_with: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tray_agent.cli import main

    monkeypatch.setitem(MODULES, FakeSecretive.type_name, FakeSecretive)
    settings = folder_with()
    folder = str(settings.folder)
    plaintext = "api-key-0123456789-abcdef"
    monkeypatch.setenv("HALO_SECRET_API_KEY", plaintext)
    assert (
        main(["module", "enable", "test-secretive", "--secret", "api_key", "--settings", folder])
        == 0
    )
    on_disk = settings.path.read_text()
    assert plaintext not in on_disk
    assert json.loads(on_disk)["Modules"][0]["Options"]["api_key"].startswith("enc:v1:")
    assert main(["module", "show", "test-secretive", "--settings", folder]) == 0
    assert main(["AUTO", folder]) == 0
    shown = capsys.readouterr()
    assert "api_key = ********" in shown.out
    assert plaintext not in shown.out + shown.err
    run_logs = list((settings.folder / "logs").rglob("*.log"))
    assert run_logs and all(plaintext not in log.read_text() for log in run_logs)
    assert any("using key ********" in log.read_text() for log in run_logs)
    refused = main(
        [
            "module",
            "enable",
            "test-secretive",
            "--set",
            f"api_key={plaintext}",
            "--settings",
            folder,
        ]
    )
    assert refused == 2

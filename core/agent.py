"""``Agent``: the one facade the tray and the command line both call.

It ties a settings folder to its runner, state and status, so a front end never assembles
those pieces itself (and never does it differently from the other front end).

The runner, the Halo client and the modules are imported when first used, not with this
module: the tray holds an ``Agent`` for its settings and status all day and runs modules in
child processes, so it never needs them (and stays small; see bench/tray_idle.py).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import ConfigError
from core.run.events import Listener, ModuleRunResult, RunEvent
from core.run.health import ModuleHealth, module_statuses
from core.run.logs import remember_secrets
from core.run.request import RunRequest
from core.settings.model import HaloConnection, ModuleSettings, Settings, resolve_settings_path
from core.settings.reader import load_settings
from core.settings.writer import save_settings
from core.state.store import StateStore

if TYPE_CHECKING:
    from core.halo.validate import ValidationResult
    from core.run.checks import SourceCheck

log = logging.getLogger("halo_integrator.agent")


class Agent:
    """One settings folder's engine, for one front end (``origin``: tray, auto, cli)."""

    def __init__(self, settings_path: str | Path | None = None, *, origin: str = "cli") -> None:
        self.settings_path = resolve_settings_path(settings_path)
        self.origin = origin
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        """The settings as last loaded; ``reload()`` after the file changed."""
        with self._lock:
            if self._settings is None:
                self._settings = self._load()
            return self._settings

    def reload(self) -> Settings:
        with self._lock:
            self._settings = self._load()
            return self._settings

    def save(self, settings: Settings, *, removed: Sequence[str] = ()) -> None:
        """Save the settings; instances in ``removed`` also lose their local state."""
        save_settings(settings)
        with self._lock:
            self._settings = settings
        if removed:
            state = StateStore(settings.folder)
            for name in removed:
                state.forget_module(name)

    def subscribe(self, listener: Listener) -> None:
        """Receive every run's events (started, progress, finished) from any thread."""
        self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def publish(self, event: RunEvent) -> None:
        """Hand a run's event to every listener, as ``run`` does for its own runs.

        For runs made elsewhere on this folder's behalf (the tray's child processes): the
        settings window and the tray then see them exactly like runs in this process. A
        listener's bug is logged, never raised into the relay.
        """
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                log.exception("A run listener failed")

    def validate(self, connection: HaloConnection | None = None) -> ValidationResult:
        from core.halo.validate import validate_connection

        return validate_connection(connection or self.settings.halo)

    def check_sources(self) -> list[SourceCheck]:
        """Every enabled instance's source check (after ``validate`` for the connection)."""
        from core.run.checks import check_sources

        return check_sources(self.settings)

    def run(self, request: RunRequest | None = None) -> list[ModuleRunResult]:
        """Run modules in this process (the CLI, AUTO and a tray's child process)."""
        from core.run.runner import Runner

        runner = Runner(self.settings, origin=self.origin, listeners=self._listeners)
        return runner.run(request)

    def preview(
        self, entry: ModuleSettings, connection: HaloConnection | None = None
    ) -> ModuleRunResult:
        """A dry run of ``entry`` as given (the dialog's form, maybe not saved yet).

        Halo is read, never written; the state DB records no run and the settings file is
        not touched. ``connection`` replaces the saved one (a first run before any Save).
        No listener hears it: a preview is not a run the tray should show or notify.
        """
        try:
            base = self.settings
        except ConfigError:
            if connection is None:
                raise
            base = Settings.new(self.settings_path, connection)
        others = [module for module in base.modules if module.name != entry.name]
        settings = dataclasses.replace(
            base, halo=connection or base.halo, modules=[*others, entry], assigned_ids=False
        )
        from core.run.runner import Runner

        runner = Runner(settings, origin=self.origin)
        [result] = runner.run(RunRequest.of([entry.name], dry_run=True))
        return result

    def remove_module(self, name: str) -> None:
        """Remove an instance from the settings and forget its state (its Halo records stay)."""
        settings = self.settings
        if settings.module(name) is None:
            raise ConfigError(f"Module {name} is not configured.", path=str(settings.path))
        settings.modules = [entry for entry in settings.modules if entry.name != name]
        self.save(settings, removed=[name])

    def statuses(self) -> list[ModuleHealth]:
        return module_statuses(self.settings, StateStore(self.settings.folder))

    def _load(self) -> Settings:
        settings = load_settings(self.settings_path)
        # The others are masked when revealed; decrypting them here would load the
        # cryptography library into the tray, which never needs a plaintext.
        remember_secrets(settings.secret_values(decrypt=False))
        if settings.has_plaintext_secrets:
            # An admin pasted a secret into the file by hand: encrypt it at the first chance.
            save_settings(settings)
            log.warning("Encrypted the plaintext secret found in %s", settings.path)
        elif settings.assigned_ids:
            save_settings(settings)
        return settings

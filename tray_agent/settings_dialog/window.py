"""The settings window: four tabs on one Toplevel, and the threads that feed it.

Tk is touched from the Tk thread only. Validate, Save, runs and status reads happen on
worker threads; they, the agent's run listener and the log handler post callables to
``self.inbox`` (a ``TkInbox``), which runs them on the Tk thread every ``POLL_MILLISECONDS``.

An edit is never lost: a change made to the file elsewhere is merged into the form
(``external_edits``), Close and Escape ask about unsaved edits, and the window reopens where
it was left (``geometry``).
"""

from __future__ import annotations

import functools
import logging
import threading
import tkinter as tk
import weakref
from collections.abc import Callable
from tkinter import ttk
from typing import Any

from core.agent import Agent
from core.errors import ConfigError, IntegratorError
from core.halo.validate import ValidationResult
from core.run.logs import remember_secrets
from core.run.request import RunRequest
from core.run.runner import RunEvent
from core.settings.model import Settings
from tray_agent.desktop_open import open_path
from tray_agent.run_logs import log_for_run
from tray_agent.settings_dialog import form as forms
from tray_agent.settings_dialog.about_tab import AboutTab
from tray_agent.settings_dialog.basic_tab import BasicTab
from tray_agent.settings_dialog.choice import ChoiceDialog
from tray_agent.settings_dialog.external_edits import ExternalEdits
from tray_agent.settings_dialog.file_watch import file_digest
from tray_agent.settings_dialog.footer import Footer, TailHandler
from tray_agent.settings_dialog.form_merge import label
from tray_agent.settings_dialog.geometry import MIN_HEIGHT, MIN_WIDTH, save_geometry, saved_geometry
from tray_agent.settings_dialog.integrations_tab import IntegrationsTab
from tray_agent.settings_dialog.module_checks import ModuleChecks
from tray_agent.settings_dialog.processing_tab import ProcessingTab
from tray_agent.settings_dialog.run_history import HistoryRow, history_rows
from tray_agent.settings_dialog.welcome_tab import FirstRunGuide
from tray_agent.settings_dialog.widgets import PAD, Banner, configure_styles
from tray_agent.tk_inbox import TkInbox

log = logging.getLogger("halo_integrator.settings")

TITLE = "Halo Integrator settings"
POLL_MILLISECONDS = 50
RunNow = Callable[[list[str] | None], object]  # its result (the tray: the started) is unused
SAVE, DISCARD, CANCEL = "Save", "Discard", "Cancel"

_open_windows: weakref.WeakKeyDictionary[tk.Misc, SettingsWindow] = weakref.WeakKeyDictionary()


class ChangedMeanwhileError(Exception):
    """The file changed between the save's check and its write: merge again, then save."""


class SettingsWindow:
    """One settings window on ``root``; ``close()`` releases listeners and handlers."""

    def __init__(
        self,
        root: tk.Misc,
        agent: Agent,
        *,
        run_now: RunNow | None = None,
        on_saved: Callable[[], None] | None = None,
        on_closed: Callable[[], None] | None = None,
    ) -> None:
        self.root, self.agent = root, agent
        self.run_now, self.on_saved, self.on_closed = run_now, on_saved, on_closed
        self.workers: list[threading.Thread] = []
        self.folder = agent.settings_path.parent
        self.stored, load_problem = self._load()
        self.top = tk.Toplevel(root)
        self.top.title(TITLE)
        screen = self.top.winfo_screenwidth(), self.top.winfo_screenheight()
        self.top.geometry(saved_geometry(self.folder, *screen))
        self.top.minsize(MIN_WIDTH, MIN_HEIGHT)
        self.top.protocol("WM_DELETE_WINDOW", self.close)
        self.top.bind("<Escape>", lambda _event: self.close())
        self.inbox = TkInbox(self.top, POLL_MILLISECONDS)
        self.question: ChoiceDialog | None = None
        self._close_after_save = False
        self._build(load_problem)
        self.edits = ExternalEdits(self)
        self._connect()
        self.inbox.start()
        self.refresh_statuses()

    # -- building ---------------------------------------------------------------------------

    def _load(self) -> tuple[Settings | None, str | None]:
        try:
            return self.agent.settings, None
        except ConfigError as exc:
            problem = forms.load_problem(exc, self.agent.settings_path)
            if problem:
                log.error("Cannot load the settings: %s", exc)
            return None, problem

    def _build(self, load_problem: str | None) -> None:
        self.top.columnconfigure(0, weight=1)
        self.top.rowconfigure(1, weight=1)
        if load_problem:
            problem_banner = Banner(self.top, wraplength=780)
            problem_banner.grid(row=0, column=0, sticky="ew", padx=PAD, pady=(PAD, 0))
            problem_banner.show(load_problem, "error")
        configure_styles(self.top)
        self.notebook = ttk.Notebook(self.top)
        self.notebook.grid(row=1, column=0, sticky="nsew", padx=PAD, pady=PAD)
        stored = self.stored
        self.checks = ModuleChecks(self)
        has_secret = bool(stored and stored.halo.client_secret)
        self.basic = BasicTab(
            self.notebook, forms.connection_form(stored), has_secret, self.validate
        )
        self.integrations = IntegrationsTab(
            self.notebook,
            forms.module_forms(stored),
            self.checks.check,
            self.folder,
            on_preview=self.checks.preview,
        )
        self.processing = ProcessingTab(self.notebook, self.start, self.open_run_log)
        self.processing.set_modules([module.name for module in stored.modules] if stored else [])
        self.about = AboutTab(
            self.notebook,
            forms.about_rows(self.agent.settings_path, stored),
            self.agent.settings_path,
            self.in_background,
            self.open_in_browser,
        )
        self.about.update_rows([], stored.halo.url if stored else "")
        nothing_configured = load_problem is None and not (stored and stored.modules)
        self.guide = FirstRunGuide(self, show=nothing_configured)
        for tab, text in (
            (self.basic, "Basic Configuration"),
            (self.integrations, "Integrations"),
            (self.processing, "Processing"),
            (self.about, "About"),
        ):
            self.notebook.add(tab, text=text, underline=0)
        self.guide.select()
        self.notebook.enable_traversal()  # Ctrl+Tab and Alt+W/B/I/P/A switch tabs
        self._build_footer()
        self.top.bind("<Control-s>", lambda _event: self.save())
        self.top.bind("<Alt-v>", lambda _event: self.validate())

    def _build_footer(self) -> None:
        self.footer = Footer(self.top, self.save, self.close, self.start)
        self.footer.grid(row=2, column=0, sticky="ew", padx=PAD, pady=(0, PAD))
        self.status, self.save_button = self.footer.status, self.footer.save_button
        self.run_new_button = self.footer.run_new_button

    def _connect(self) -> None:
        """Run events and engine log lines reach the Processing tab through the inbox."""
        self._tail = TailHandler(
            lambda line: self.inbox.post(lambda: self.processing.append_log(line))
        )

        def listener(event: RunEvent) -> None:
            self._tail.note(event)  # on the run's own thread: its log lines name its module
            self.inbox.post(functools.partial(self._on_run, event))

        self._listener = listener
        self.agent.subscribe(self._listener)
        if self.stored is not None:
            remember_secrets(self.stored.secret_values())
        engine_logger = logging.getLogger("halo_integrator")
        engine_logger.addHandler(self._tail)
        if engine_logger.level == logging.NOTSET or engine_logger.level > logging.INFO:
            engine_logger.setLevel(logging.INFO)

    # -- threads ----------------------------------------------------------------------------

    def in_background(
        self,
        work: Callable[[], Any],
        done: Callable[[Any], None],
        failed: Callable[[Exception], None],
    ) -> None:
        """Run ``work`` on a worker thread; ``done``/``failed`` then run on the Tk thread."""

        def worker() -> None:
            try:
                result = work()
            except Exception as exc:  # shown to the admin by ``failed``
                self.inbox.post(functools.partial(failed, exc))
            else:
                self.inbox.post(functools.partial(done, result))

        thread = threading.Thread(target=worker, name="settings-worker", daemon=True)
        self.workers = [alive for alive in self.workers if alive.is_alive()] + [thread]
        thread.start()

    # -- actions ----------------------------------------------------------------------------

    def validate(self) -> None:
        connection, problems = forms.connection_from_form(
            self.basic.form(), self.stored.halo if self.stored else None
        )
        self.basic.show_problems(problems)
        if problems:
            result = ValidationResult(False, "Fix the marked fields, then validate again.")
            self._validated(result)
            return
        self.basic.set_validating()
        self.in_background(
            lambda: self.agent.validate(connection),
            self._validated,
            lambda exc: self._validated(ValidationResult(False, f"Validation failed: {exc}")),
        )

    def _validated(self, result: ValidationResult) -> None:
        self.basic.show_validation(result)
        self.guide.validated = result.ok
        self.guide.show_progress()
        if result.ok:
            log.info("Validation OK: %s", result)
            # As `halo-integrator validate` does: the connection, then each enabled source.
            for section in self.integrations.sections:
                if section.enabled.get():
                    self.checks.check(section)
        else:
            log.warning("Validation failed: %s", result)

    def save(self) -> None:
        """Save the form; a file changed elsewhere is merged first (conflicts are asked)."""
        self.edits.before_save(self._save_form)

    def _save_form(self) -> None:
        removed = list(self.integrations.removed)
        settings, problems = forms.settings_from_form(
            self.agent.settings_path,
            self.stored,
            self.basic.form(),
            self.integrations.forms(),
            removed,
        )
        self.basic.show_problems(problems)
        self.integrations.show_problems(problems)
        if settings is None:
            self._show_unsaved(problems)
            return
        self.save_button.state(["disabled"])
        self.status.show("Saving…", "busy")
        previous, digest = self.stored, self.edits.watch.digest

        def write() -> None:
            if file_digest(self.agent.settings_path) != digest:
                raise ChangedMeanwhileError  # between the check and now: merge again
            self.agent.save(settings, removed=removed)

        self.in_background(write, lambda _: self._saved(settings, previous), self._save_failed)

    def _show_unsaved(self, problems: forms.Problems) -> None:
        on_basic = any(key.startswith("Halo.") for key in problems)
        tab = self.basic if on_basic else self.integrations
        self.notebook.select(tab)
        count = len(problems)
        self.status.show(
            f"Nothing saved: fix the {count} marked field{'s' if count > 1 else ''}.", "error"
        )
        self.cancelled_save()
        log.warning("Settings not saved: %s", "; ".join(f"{k}: {v}" for k, v in problems.items()))

    def _saved(self, settings: Settings, previous: Settings | None) -> None:
        self.stored = settings
        self.integrations.removed.clear()
        remember_secrets(settings.secret_values())  # a new secret is masked from now on
        self.save_button.state(["!disabled"])
        self.basic.stored_secret_kept()
        self.edits.saved()
        self.status.show(f"Saved {settings.path}", "ok")
        log.info("Saved settings to %s", settings.path)
        self.reloaded(settings)
        self.refresh_statuses()
        self.footer.offer_first_run(forms.newly_enabled(previous, settings))
        self.guide.show_progress()
        if self.on_saved is not None:
            self.on_saved()
        if self._close_after_save:
            self._close_now()

    def reloaded(self, settings: Settings) -> None:
        """The settings now in the form (saved here or reloaded from the file)."""
        self.stored = settings
        names = [module.name for module in settings.modules]
        if names != list(self.processing.rows):
            self.processing.set_modules(names)
        self.about.update_rows(forms.about_rows(settings.path, settings), settings.halo.url)

    def _save_failed(self, error: Exception) -> None:
        self.save_button.state(["!disabled"])
        if isinstance(error, ChangedMeanwhileError):
            self.save()
            return
        self.status.show(f"Not saved: {error}", "error")
        log.error("Settings not saved: %s", error)
        self.cancelled_save()

    def cancelled_save(self) -> None:
        """A save did not happen: a Close that waited for it stays open."""
        self._close_after_save = False

    def start(self, names: list[str] | None) -> None:
        """Start modules: through the tray's workers when it gave ``run_now``, else here."""
        if self.run_now is not None:
            self.run_now(names)
            return
        request = RunRequest.of(names)
        self.in_background(lambda: self.agent.run(request), self._run_done, self._run_failed)

    def _run_done(self, _results: object) -> None:
        self.refresh_statuses()

    def _run_failed(self, error: Exception) -> None:
        title = error.title if isinstance(error, IntegratorError) else "Run failed"
        log.error("%s: %s", title, error)
        self.status.show(f"{title}: {error}", "error")

    def _on_run(self, event: RunEvent) -> None:
        self.processing.on_event(event)
        if event.kind == "finished":
            self.refresh_statuses()  # whoever started it: the history gains a row

    def refresh_statuses(self) -> None:
        """The modules' last outcomes and the recent runs, read on a worker thread."""
        if self.stored is None:
            return
        folder, names = self.stored.folder, [module.name for module in self.stored.modules]
        self.in_background(self.agent.statuses, self.processing.show_statuses, lambda _: None)
        self.in_background(
            lambda: history_rows(folder, names), self.processing.history.show, lambda _: None
        )

    def open_run_log(self, row: HistoryRow) -> None:
        """Open the log of one run from the history (or say why it cannot be)."""
        log_folder = self.stored.log_folder if self.stored else self.folder / "logs"
        path = log_for_run(log_folder, row.module, row.started_at, row.finished_at)
        if path is None:
            self._cannot_open(f"The log of {row.module}'s run at {row.when} is no longer kept.")
            return
        open_path(path, lambda message: self.inbox.post(lambda: self._cannot_open(message)))

    def open_in_browser(self, url: str) -> None:
        open_path(url, lambda message: self.inbox.post(lambda: self._cannot_open(message)))

    def _cannot_open(self, message: str) -> None:
        log.error("%s", message)
        self.status.show(message, "error")

    # -- lifetime ---------------------------------------------------------------------------

    def focus(self) -> None:
        self.top.deiconify()
        self.top.lift()
        self.top.focus_force()

    def close(self) -> None:
        """Close, asking first when the form has unsaved edits (Close, Escape, the title bar)."""
        if self.question is not None and self.question.exists():
            self.question.top.lift()
            return
        if not self.edits.edited() and not self.integrations.removed:
            self._close_now()
            return
        fields = ", ".join(label(key) for key in self.edits.edited()[:5]) or "removed modules"
        self.question = ChoiceDialog(
            self.top,
            "Unsaved changes",
            f"Save your changes ({fields}) before closing?",
            (SAVE, DISCARD, CANCEL),
            self._answer_close,
        )

    def _answer_close(self, answer: str | None) -> None:
        if answer == SAVE:
            self._close_after_save = True
            self.save()
        elif answer == DISCARD:
            log.info("Closed without saving the edits")
            self._close_now()

    def _close_now(self) -> None:
        """Remember the window's place, stop listening, detach the log handler, destroy it."""
        save_geometry(self.folder, self.top.winfo_geometry())
        self.edits.stop()
        self.agent.unsubscribe(self._listener)
        logging.getLogger("halo_integrator").removeHandler(self._tail)
        self.inbox.stop()
        self.top.destroy()
        _open_windows.pop(self.root, None)
        if self.on_closed is not None:
            self.on_closed()


def open_window(
    root: tk.Misc,
    agent: Agent,
    *,
    run_now: RunNow | None = None,
    on_saved: Callable[[], None] | None = None,
    on_closed: Callable[[], None] | None = None,
) -> SettingsWindow:
    """Open the window for ``root``, or focus the one already open there."""
    existing = _open_windows.get(root)
    if existing is not None and existing.top.winfo_exists():
        existing.focus()
        return existing
    window = SettingsWindow(root, agent, run_now=run_now, on_saved=on_saved, on_closed=on_closed)
    _open_windows[root] = window
    return window

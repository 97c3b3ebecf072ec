"""The tray agent: ``halo-integrator tray`` (and the ``halo-integrator-tray`` GUI entry point).

Threading model, and why. Tk is not thread-safe and pystray's loops differ per platform, so:

* **Main thread: Tk.** A withdrawn ``tk.Tk`` root owns every window (the settings dialog).
  Nothing else touches Tk; other threads hand it callables through ``tk_inbox.post`` (a
  ``TkInbox``: a queue drained by ``root.after``). This arrangement works with every pystray
  backend (win32, appindicator, gtk, xorg); ``run_detached`` only works with xorg.
* **Tray thread** (daemon): ``icon.run()``. Menu callbacks run here; they only start runs or
  hand work to Tk. Icon, tooltip and menu are changed from the status thread, which pystray
  allows (its GTK backends marshal to their own loop, win32 posts messages).
* **Status thread** (daemon, owned by ``TrayApp``): reads the shared state DB (so AUTO runs
  show up too), computes the state, updates the icon and raises notifications. It wakes on
  run events and every ``STATUS_POLL_SECONDS``: the GUI never blocks on disk or network.
  Each poll also reloads ``appsettings.json`` when its (mtime, size) changed, so a
  ``configure``, a ``module enable`` or a hand edit takes effect without a restart.
* **Scheduler thread and run workers**: see ``tray_agent.scheduler``. Each worker runs its
  module in a child process (``tray_agent.child_runs``) and relays what the child reports,
  so a crash, a hang or a leak in a module never reaches the tray.

Quit stops the schedules, asks running children to stop at a safe point and kills those
that have not within ``QUIT_SAFE_POINT_SECONDS`` (a run waiting between retries has nothing
in flight), then calls ``icon.stop()`` before destroying the Tk root (the other order hangs).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from core.agent import Agent
from core.errors import IntegratorError
from core.outcomes import Outcome
from core.private_files import private_folder
from core.run.events import RunEvent
from core.run.health import ModuleHealth
from core.run.logs import log_to_stderr
from core.run.request import RunRequest
from core.settings.model import resolve_settings_path
from tray_agent import tray_state
from tray_agent.child_runs import ChildRuns
from tray_agent.desktop_open import open_path
from tray_agent.exit_codes import EXIT_OK
from tray_agent.icons import state_icon
from tray_agent.notice_actions import notice_actions
from tray_agent.notifier import NotificationPolicy, Notifier
from tray_agent.run_logs import newest_log
from tray_agent.scheduler import ModuleSchedule, Scheduler
from tray_agent.single_instance import SingleInstance
from tray_agent.tk_inbox import TkInbox
from tray_agent.tray_backend import TrayUnavailableError, load_pystray, show_hover_text
from tray_agent.tray_menu import menu_entries
from tray_agent.tray_problems import TrayProblems, short_message, with_file_name
from tray_agent.tray_startup import EXIT_CANNOT_START, ask_first_instance, log_to_tray_file

log = logging.getLogger("halo_integrator.tray")

ICON_NAME = "halo-integrator"
STATUS_POLL_SECONDS = 15.0
TK_POLL_MILLISECONDS = 200
# Quit waits this long for runs to reach a safe point, then kills their children.
QUIT_SAFE_POINT_SECONDS = 1.0
# ... and this long for their worker threads to notice (they only read a closed pipe).
QUIT_WORKERS_SECONDS = 0.5


class TrayApp:
    """One tray icon for one settings folder; see the module docstring for its threads."""

    def __init__(self, root: Any, agent: Agent, pystray: Any) -> None:
        self.root, self.agent, self.pystray = root, agent, pystray
        self.scheduler = Scheduler(
            self._run_module, on_skipped=self._on_skipped, on_done=lambda _: self._dirty.set()
        )
        self.child_runs = ChildRuns(agent)
        self.policy = NotificationPolicy(folder_name=agent.settings_path.parent.name)
        self.notifier = Notifier()
        self.view = tray_state.build_view(None)
        self.tk_inbox = TkInbox(root, TK_POLL_MILLISECONDS)
        self._dirty = threading.Event()
        self._reload = threading.Event()
        self._skipped: set[str] = set()
        # Modules whose next run may deactivate past the guard: "allow once" (any thread).
        self._allow_once: set[str] = set()
        self._allow_lock = threading.Lock()
        self.problems = TrayProblems(agent.settings_path)
        self._logged_status: str | None = None
        self._quitting = False
        self._settings_window: Any = None
        self._shown: tuple[str, str] | None = None
        self.icon: Any = None

    # -- start-up ---------------------------------------------------------------------------

    def start(self) -> None:
        healths = self._load_schedules()
        self.policy.seed(healths or [])  # errors from before this start were notified then
        self.view = self._view_for(healths)
        self.icon = self._create_icon()
        threading.Thread(target=self.icon.run, name="tray-icon", daemon=True).start()
        self.agent.subscribe(self._on_event)
        self.scheduler.start()
        self._catch_up(healths or [])
        self._dirty.set()  # a first refresh at once: a settings problem is notified now
        threading.Thread(target=self._watch, name="tray-status", daemon=True).start()
        self.tk_inbox.start()

    def _create_icon(self) -> Any:
        menu = self.pystray.Menu(lambda: menu_entries(self))
        if self.pystray.Icon.__module__ == "pystray._xorg":
            icon = self._create_xembed_icon(menu)
        else:
            icon = self.pystray.Icon(
                ICON_NAME, state_icon(self.view.state), self.view.tooltip, menu=menu
            )
        if not getattr(icon, "HAS_DEFAULT_ACTION", True):
            log.info("This tray backend opens the menu on a click; Settings… is in it")
        show_hover_text(icon, self.view.tooltip)
        return icon

    def _create_xembed_icon(self, menu: Any) -> Any:
        """An XEmbed tray's icon: its menu and tooltip are Tk's (tray_backend's docstring)."""
        from tray_agent.tk_tray_menu import TkTrayMenu
        from tray_agent.xembed_icon import XembedIcon

        tk_menu = TkTrayMenu(self.root, menu)
        post = self.tk_inbox.post
        icon = XembedIcon(
            ICON_NAME,
            state_icon(self.view.state),
            self.view.tooltip,
            menu=menu,
            on_menu=lambda x, y: post(lambda: tk_menu.post(x, y)),
            on_hover=lambda x, y: post(lambda: tk_menu.hover(x, y)),
            on_leave=lambda: post(tk_menu.hide_tooltip),
        )
        tk_menu.icon = icon
        return icon

    def _load_schedules(self) -> list[ModuleHealth] | None:
        """(Re)read the settings, schedule their enabled modules; return the healths.

        Settings that cannot be used become the tray's problem, and the last good ones keep
        running (none at start) until the file changes again. None: no healths to show.
        """
        self.problems.reading()
        try:
            settings = self.agent.reload()
        except IntegratorError as exc:
            log.error("Settings cannot be used: %s", exc)
            self.problems.read(exc)
            return self._healths()
        if self.problems.has_settings:
            log.info("Settings reloaded from %s", settings.path)
        self.problems.read(None)
        enabled = [entry for entry in settings.modules if entry.enabled]
        self.scheduler.set_modules(ModuleSchedule(e.name, e.interval) for e in enabled)
        healths = self._healths()
        for health in healths or ():
            self.scheduler.restore(health.module, health.consecutive_failures, health.last_run_at)
        return healths

    def _catch_up(self, healths: Sequence[ModuleHealth]) -> None:
        """Run at once what missed a run while no tray ran, unless it is backing off."""
        overdue = [
            health.module
            for health in healths
            if health.enabled and self.scheduler.overdue(health.module, health.last_run_at)
        ]
        if overdue:
            log.info("Catching up on %s", ", ".join(overdue))
            self.scheduler.run_now(overdue)

    # -- runs -------------------------------------------------------------------------------

    def _run_module(self, name: str) -> bool:
        """On a worker thread: one module's run, in a child process; True when it succeeded
        (or was skipped)."""
        self._dirty.set()
        with self._allow_lock:
            allow = name in self._allow_once
            self._allow_once.discard(name)
        try:
            results = self.child_runs.run(RunRequest.of([name], allow_mass_deactivation=allow))
        except IntegratorError as exc:  # the settings or the state DB cannot be used
            log.error("%s cannot run: %s", name, exc)
            if not self._recorded(name, exc):
                self.problems.runs[name] = exc
            return False
        finally:
            self._dirty.set()
        self.problems.runs.pop(name, None)
        return all(result.ok for result in results)

    def _recorded(self, name: str, error: IntegratorError) -> bool:
        """True when the state DB holds ``error`` as the module's last one: the runner records
        invalid options as a failed run, and the module's health then says it (and notifies)."""
        try:
            healths = self.agent.statuses()
        except IntegratorError:
            return False
        return any(h.module == name and h.last_error == str(error) for h in healths)

    def _on_event(self, event: RunEvent) -> None:
        if event.kind == "finished" and event.result is not None:
            if event.result.outcome is Outcome.SKIPPED:
                self._on_skipped(event.module)
            else:
                self._skipped.discard(event.module)
            self._dirty.set()

    def _on_skipped(self, name: str) -> None:
        self._skipped.add(name)
        self._dirty.set()

    # -- the status thread ------------------------------------------------------------------

    def _watch(self) -> None:
        while not self._quitting:
            self._dirty.wait(STATUS_POLL_SECONDS)
            self._dirty.clear()
            if self._quitting:
                return
            try:
                self.refresh()
            except Exception:  # keep watching: the next poll may succeed
                log.exception("Could not refresh the tray state")

    def refresh(self) -> None:
        """Reload changed settings, read healths, update icon/tooltip/menu, notify (status
        thread)."""
        if self.problems.file_changed() or self._reload.is_set():
            self._reload.clear()
            healths = self._load_schedules()
        else:
            healths = self._healths()
        self.view = self._view_for(healths)
        self._notify(healths)
        self._log_status(healths)
        shown = (self.view.state, self.view.tooltip)
        if shown != self._shown:
            if self._shown is None or shown[0] != self._shown[0]:
                self.icon.icon = state_icon(self.view.state)
            show_hover_text(self.icon, self.view.tooltip)
            self._shown = shown
        self.icon.update_menu()

    def _healths(self) -> list[ModuleHealth] | None:
        if not self.problems.has_settings:
            return None
        try:
            healths = self.agent.statuses()
        except IntegratorError as exc:  # the state DB cannot be opened
            self.problems.status = exc
            return None
        self.problems.status = None
        return healths

    def _notify(self, healths: list[ModuleHealth] | None) -> None:
        notices = self.policy.observe(healths or [])
        problem = self.problems.current()
        title = problem.title if problem else ""
        if said := self.policy.observe_problem(title, str(problem) if problem else None):
            notices.append(said)
        for notice in notices:
            actions = notice_actions(self, notice)
            log.info("Notify (%s): %s: %s", notice.urgency, notice.title, notice.text)
            self.notifier.notify(notice.title, notice.text, urgency=notice.urgency, actions=actions)

    def _log_status(self, healths: list[ModuleHealth] | None) -> None:
        """Log each change of the modules' healths: the tray log tells what the icon showed."""
        status = tray_state.status_line(healths or ()) or self.view.state
        if status != self._logged_status:
            log.info("Status: %s", status)
            self._logged_status = status

    def _view_for(self, healths: list[ModuleHealth] | None) -> tray_state.TrayView:
        problem = self.problems.current()
        return tray_state.build_view(
            None if healths is None else with_file_name(healths, self.agent.settings_path),
            running=self.scheduler.running(),
            skipped=self._skipped,
            paused=self.scheduler.paused,
            next_run=self.scheduler.next_run(),
            problem=short_message(problem) if problem else None,
            setup_hint=self.problems.setup_hint(),
            folder_name=self.agent.settings_path.parent.name,
            module_next_runs={
                health.module: self.scheduler.next_run(health.module) for health in healths or ()
            },
        )

    # -- menu actions -----------------------------------------------------------------------

    def sync_now(self) -> None:
        """Tray thread: run every enabled module; with none configured, open the settings."""
        if not self.scheduler.run_now(None) and not self.view.module_states:
            log.info("Sync now: no module is enabled; opening the settings")
            self.tk_inbox.post(self.show_settings)

    def allow_once(self, name: str) -> None:
        """Any thread: run ``name`` now with the mass-deactivation guard released, once, as
        ``sync NAME --allow-mass-deactivation`` does. Not kept for a later run: a run that
        cannot start now (one is going) leaves the guard as it was."""
        with self._allow_lock:
            self._allow_once.add(name)
        if self.scheduler.run_now([name]):
            log.warning("%s runs once with the mass-deactivation guard released", name)
            return
        with self._allow_lock:
            self._allow_once.discard(name)
        message = f"{name} is running now; allow its deactivations once that run has ended."
        log.warning("%s", message)
        self.notifier.notify(f"{self.title}: {name} is running", message)

    def toggle_pause(self) -> None:
        self.scheduler.resume() if self.scheduler.paused else self.scheduler.pause()
        self._dirty.set()

    def _log_folder(self) -> Path:
        try:
            return self.agent.settings.log_folder
        except IntegratorError:
            return self.agent.settings_path.parent / "logs"

    def open_logs(self) -> None:
        open_path(private_folder(self._log_folder()), self._cannot_open)

    def view_last_log(self) -> None:
        """Open the newest run log of any configured module (or say there is none yet)."""
        modules = list(self.view.module_states) or self._configured_modules()
        newest = newest_log(self._log_folder(), modules)
        if newest is None:
            self._cannot_open(f"No run has written a log yet in {self._log_folder()}.")
            return
        open_path(newest, self._cannot_open)

    def open_module_log(self, name: str) -> None:
        """Any thread: open ``name``'s newest run log (a notification's "Open log")."""
        newest = newest_log(self._log_folder(), [name])
        if newest is None:
            self._cannot_open(f"{name} has not written a log yet in {self._log_folder()}.")
            return
        open_path(newest, self._cannot_open)

    def _configured_modules(self) -> list[str]:
        try:
            return [entry.name for entry in self.agent.settings.modules]
        except IntegratorError:
            return []

    def _cannot_open(self, message: str) -> None:
        """Any thread: an opener failed; say so in tray.log and in a notification."""
        log.error("%s", message)
        self.notifier.notify(f"{self.title}: cannot open", message)

    @property
    def title(self) -> str:
        return tray_state.title(self.agent.settings_path.parent.name)

    def show_settings(self) -> None:
        """Tk thread: raise the settings window, opening it the first time."""
        window = self._settings_window
        if window is not None and window.winfo_exists():
            window.deiconify()
            window.lift()
            window.focus_force()
            return
        try:
            from tray_agent.settings_dialog import open_settings_window
        except ImportError as exc:
            log.error("The settings dialog is not available: %s", exc)
            self.notifier.notify(self.title, "The settings dialog is not available.")
            return
        self._settings_window = open_settings_window(
            self.root, self.agent, run_now=self.scheduler.run_now, on_saved=self.settings_saved
        )

    def settings_saved(self) -> None:
        """The dialog saved the settings: reload schedules on the status thread."""
        self._reload.set()
        self._dirty.set()

    def quit(self) -> None:
        """Tk thread: stop schedules and runs (bounded, off the Tk thread), then exit."""
        if self._quitting:
            return
        self._quitting = True
        log.info("Quitting")
        show_hover_text(self.icon, f"{self.title}: stopping…")

        def wait_then_close() -> None:
            self.scheduler.stop(0)  # no new runs from here on
            self.child_runs.stop_all(QUIT_SAFE_POINT_SECONDS)
            self.scheduler.stop(QUIT_WORKERS_SECONDS)
            self.tk_inbox.post(self._close)

        threading.Thread(target=wait_then_close, name="tray-quit", daemon=True).start()

    def _close(self) -> None:
        self.tk_inbox.stop()
        self._dirty.set()
        self.icon.stop()  # before the Tk root goes, or the process hangs
        self.root.destroy()


def run_tray(settings_path: str | None) -> int:
    """Run the tray until Quit; a second start for the same folder raises the first one."""
    settings_file = resolve_settings_path(settings_path)
    instance = SingleInstance(settings_file.parent)
    if not instance.acquire():
        return ask_first_instance(instance)
    try:
        log_to_tray_file(settings_file.parent)
        return _run(settings_file, instance)
    finally:
        instance.release()


def _run(settings_file: Path, instance: SingleInstance) -> int:
    import tkinter

    try:
        root = tkinter.Tk(className=ICON_NAME)
        pystray = load_pystray()
    except (tkinter.TclError, TrayUnavailableError) as exc:
        message = str(exc)
        if isinstance(exc, tkinter.TclError):
            message = f"The tray needs a desktop session (DISPLAY): {exc}"
        log.error("%s", message)  # to stderr (see main) and to logs/tray.log
        return EXIT_CANNOT_START
    root.withdraw()
    app = TrayApp(root, Agent(settings_file, origin="tray"), pystray)
    app.start()
    instance.listen(lambda: app.tk_inbox.post(app.show_settings))
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: app.tk_inbox.post(app.quit))
    root.mainloop()
    log.info("Tray stopped")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """The GUI entry point (no console on Windows): ``halo-integrator-tray [--settings P]``."""
    parser = argparse.ArgumentParser(prog="halo-integrator-tray", description=__doc__)
    parser.add_argument("--settings", metavar="PATH", help="settings folder or appsettings.json")
    args = parser.parse_args(argv)
    log_to_stderr()
    return run_tray(args.settings)


if __name__ == "__main__":
    sys.exit(main())

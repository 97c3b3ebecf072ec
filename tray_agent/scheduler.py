"""Per-module schedules for the tray: one scheduler thread, one worker thread per run.

Threads and their owners: the ``Scheduler`` owns a single scheduler thread that only decides
*when* (``schedule`` jobs, pause, back-off) and starts a daemon worker thread per run; the
worker calls ``run_module(name)``, which blocks on network and disk. The GUI never waits for
either. A module already running in this process is skipped and logged here; a module running
in another process (an AUTO run, the CLI) is skipped by core's inter-process module lock,
which the runner reports as outcome "skipped".

Stopping is bounded: ``stop()`` starts no new runs, then waits until every running module
has finished, or until the timeout passes. The runs themselves are stopped by their owner
(the tray stops its child processes at a safe point, see ``tray_agent.child_runs``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import schedule

from core.settings.model import Interval

log = logging.getLogger("halo_integrator.tray.scheduler")

# A module that failed this many times in a row waits longer before the next try.
BACKOFF_AFTER_FAILURES = 2
BACKOFF_CAP_SECONDS = 3_600
SCHEDULER_TICK_SECONDS = 1.0

RunModule = Callable[[str], bool]
SkipListener = Callable[[str], None]
DoneListener = Callable[[str], None]


@dataclass(frozen=True)
class ModuleSchedule:
    """What the scheduler needs of a module: its name and interval (from ModuleSettings)."""

    name: str
    interval: Interval


def backoff_seconds(interval_seconds: float, consecutive_failures: int) -> float:
    """Extra wait after repeated failures: doubles per failure, capped (never below interval)."""
    if consecutive_failures < BACKOFF_AFTER_FAILURES:
        return 0.0
    doublings = min(consecutive_failures - BACKOFF_AFTER_FAILURES + 1, 10)
    return min(interval_seconds * (2**doublings - 1), max(BACKOFF_CAP_SECONDS, interval_seconds))


def _module_of(job: schedule.Job) -> str | None:
    """The module a job runs: ``set_modules`` makes every job with ``.do(self._due, name)``.

    ``schedule`` types ``job_func`` as optional (a job is only complete once ``.do()`` was
    called); None here means a job this class did not make.
    """
    return None if job.job_func is None else job.job_func.args[0]


class Scheduler:
    """Runs each module on its own cadence; ``run_module`` returns True on success."""

    def __init__(
        self,
        run_module: RunModule,
        *,
        on_skipped: SkipListener | None = None,
        on_done: DoneListener | None = None,
        tick_seconds: float = SCHEDULER_TICK_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._run_module = run_module
        # Wall-clock seconds, as the state DB's run times are (a test injects its own).
        self._clock = clock
        self._on_skipped = on_skipped or (lambda name: None)
        # Called once a worker is no longer counted as running (the menu's greyed entries).
        self._on_done = on_done or (lambda name: None)
        self._tick_seconds = tick_seconds
        self._jobs = schedule.Scheduler()
        self._lock = threading.Lock()  # guards the fields below
        self._modules: dict[str, ModuleSchedule] = {}
        self._running: dict[str, threading.Thread] = {}
        self._failures: dict[str, int] = {}
        self._not_before: dict[str, float] = {}
        self._paused = False
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    # -- configuration ----------------------------------------------------------------------

    def set_modules(self, modules: Iterable[ModuleSchedule]) -> None:
        """Replace the schedules (after the settings changed); running workers carry on.

        A module whose interval did not change keeps its job, so editing one module (or
        re-saving the file) does not push every other module's next run an interval away.
        """
        wanted = {module.name: module for module in modules}
        with self._lock:
            for job in list(self._jobs.jobs):
                name = _module_of(job)
                if name is None or wanted.get(name) != self._modules.get(name):
                    self._jobs.cancel_job(job)
            for name, module in wanted.items():
                if self._modules.get(name) != module:
                    self._job_for(module.interval).do(self._due, name)
            self._modules = wanted
        self._wake.set()

    def _job_for(self, interval: Interval) -> schedule.Job:
        if interval.daily_at is not None:
            return self._jobs.every().day.at(f"{interval.daily_at:%H:%M}")
        return self._jobs.every(interval.seconds_hint()).seconds

    def restore(self, name: str, consecutive_failures: int, last_run_at: float | None) -> None:
        """Seed failures and their back-off from the state DB (call after ``set_modules``).

        Both survive a restart this way: a module failing for days waits out its back-off
        after a login as it would have in the tray that ran it last.
        """
        with self._lock:
            self._failures[name] = consecutive_failures
            module = self._modules.get(name)
            if module is not None and last_run_at is not None:
                delay = backoff_seconds(module.interval.seconds_hint(), consecutive_failures)
                self._not_before[name] = last_run_at + delay

    def overdue(self, name: str, last_run_at: float | None, now: float | None = None) -> bool:
        """True if a scheduled module missed a run: it never ran, or its last run is more
        than an interval ago and its back-off (see ``restore``) is over. For the catch-up
        at start."""
        now = self._clock() if now is None else now
        with self._lock:
            module = self._modules.get(name)
            if module is None:
                return False
            if last_run_at is None:
                return True
            due = last_run_at + module.interval.seconds_hint()
            return now >= max(due, self._not_before.get(name, 0.0))

    # -- control ----------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="tray-scheduler", daemon=True)
        self._thread.start()

    @property
    def paused(self) -> bool:
        return self._paused

    def pause(self) -> None:
        self._paused = True
        log.info("Schedules paused")

    def resume(self) -> None:
        self._paused = False
        log.info("Schedules resumed")

    def run_now(self, names: Sequence[str] | None = None) -> list[str]:
        """Start the named modules (None: all scheduled) at once, paused or not; returns started."""
        chosen = list(self._modules) if names is None else list(names)
        return [name for name in chosen if self._start_worker(name, reason="on request")]

    def running(self) -> set[str]:
        with self._lock:
            return set(self._running)

    def next_run(self, name: str | None = None) -> float | None:
        """Epoch seconds of the next scheduled run (of ``name``, or of any module)."""
        with self._lock:
            times = [
                max(job.next_run.timestamp(), self._not_before.get(module, 0.0))
                for job in self._jobs.jobs
                if job.next_run is not None
                and (module := _module_of(job)) is not None
                and name in (None, module)
            ]
        return min(times) if times else None

    def stop(self, timeout_seconds: float) -> bool:
        """Start nothing new; wait (bounded) for runs to finish. True if all did."""
        self._stopping.set()
        self._wake.set()
        deadline = time.monotonic() + timeout_seconds
        while True:  # look at least once, even with no time to wait
            with self._lock:
                busy = set(self._running)
            if not busy:
                return True
            if time.monotonic() >= deadline:
                break
            time.sleep(0.05)
        log.warning("Stopping while still running: %s", ", ".join(sorted(busy)))
        return False

    # -- the scheduler thread and workers ---------------------------------------------------

    def _loop(self) -> None:
        while not self._stopping.is_set():
            with self._lock:
                idle = self._jobs.idle_seconds
            self._wake.wait(min(self._tick_seconds, max(idle or self._tick_seconds, 0.01)))
            self._wake.clear()
            self.tick()

    def tick(self) -> None:
        """Start the runs that are due now; what the scheduler thread does at each tick.

        Public so a test can drive the schedules by an injected clock, tick by tick.
        """
        if not self._stopping.is_set():
            self._jobs.run_pending()  # calls _due, which only starts threads

    def _due(self, name: str) -> None:
        if self._paused:
            return
        if self._clock() < self._not_before.get(name, 0.0):
            log.info("%s is backing off after repeated failures", name)
            return
        self._start_worker(name, reason="on schedule")

    def _start_worker(self, name: str, *, reason: str) -> bool:
        with self._lock:
            if self._stopping.is_set():
                return False
            if name in self._running:
                log.warning("%s is still running; the run %s was skipped", name, reason)
                overlapping = True
            else:
                overlapping = False
                worker = threading.Thread(
                    target=self._work, args=(name,), name=f"run-{name}", daemon=True
                )
                self._running[name] = worker
        if overlapping:
            self._on_skipped(name)
            return False
        worker.start()
        return True

    def _work(self, name: str) -> None:
        try:
            succeeded = self._run_module(name)
        except Exception:  # the runner reports module errors; this is a bug in the caller
            log.exception("Running %s failed unexpectedly", name)
            succeeded = False
        with self._lock:
            self._running.pop(name, None)
            failures = 0 if succeeded else self._failures.get(name, 0) + 1
            self._failures[name] = failures
            module = self._modules.get(name)
            interval = module.interval.seconds_hint() if module else 0
            self._not_before[name] = self._clock() + backoff_seconds(interval, failures)
        self._on_done(name)

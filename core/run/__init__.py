"""Running modules: the runner, the run request and context, locks, run logs, reporting to Halo."""

"""Exit codes every ``halo-integrator`` command shares (what a scheduler's history shows)."""

EXIT_OK = 0  # every module succeeded (or was skipped: another process was running it)
EXIT_FAILED = 1  # a module failed, Halo could not be validated, the tray could not start
EXIT_CONFIG = 2  # the settings (or the command's arguments) are missing or invalid

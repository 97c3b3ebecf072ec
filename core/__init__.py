"""The Halo Integrator engine: settings, secrets, the Halo client, sync modules and the runner.

Nothing in here imports a UI toolkit, so AUTO mode runs on a headless server and the tray
(`tray_agent`) is only one of the engine's front ends.
"""

__version__ = "0.1.0"

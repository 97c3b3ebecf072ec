"""The desktop fixture itself: if this fails, every GUI test would fail for the wrong reason."""

from __future__ import annotations

import subprocess
import sys
import time

from .desktop import Desktop


def test_desktop_has_a_tray_and_a_notification_daemon(desktop: Desktop) -> None:
    assert desktop.tray_owner() is not None
    code = (
        "from plyer import notification; notification.notify(title='Fixture check', "
        "message='hello', app_name='halo-integrator-test', timeout=5)"
    )
    subprocess.run([sys.executable, "-c", code], env=desktop.env, check=True, timeout=20)
    deadline = time.monotonic() + 15  # a busy 2-core machine delays dbus
    while time.monotonic() < deadline and not desktop.notifications():
        time.sleep(0.05)
    assert desktop.notifications()[-1][:3] == ("halo-integrator-test", "Fixture check", "hello")

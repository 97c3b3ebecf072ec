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
    # Right after start-up on a busy machine dunst has been seen to drop the very first
    # notification (seen in full runs only, after the fuzz tests); the tray tests check real
    # notifications. Here: the daemon logs one within three tries.
    for _ in range(3):
        subprocess.run([sys.executable, "-c", code], env=desktop.env, check=True, timeout=20)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not desktop.notifications():
            time.sleep(0.05)
        if desktop.notifications():
            break
    assert desktop.notifications(), f"dunst ran no script; its counts: {dunst_counts(desktop)}"
    assert desktop.notifications()[-1][:3] == ("halo-integrator-test", "Fixture check", "hello")


def dunst_counts(desktop: Desktop) -> dict[str, str]:
    """What dunst holds, for a failure message: was the notification received at all?"""
    return {
        what: subprocess.run(
            ["dunstctl", "count", what], env=desktop.env, capture_output=True, text=True
        ).stdout.strip()
        for what in ("waiting", "displayed", "history")
    }

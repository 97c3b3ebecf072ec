"""State icons (distinct at tray size) and the one-tray-per-settings-folder rule."""

from __future__ import annotations

import os
import socket
import stat
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from tray_agent.icons import palette, state_icon
from tray_agent.single_instance import LOCK_FILE_NAME, PORT_FILE_NAME, SingleInstance


def share_of(image: Image.Image, color: list[int]) -> float:
    """Share of the 16 px icon's opaque pixels close to ``color``."""
    small = image.resize((16, 16), Image.Resampling.LANCZOS).convert("RGBA")
    pixels = [small.getpixel((x, y)) for x in range(16) for y in range(16)]
    opaque = [pixel for pixel in pixels if pixel[3] > 200]  # type: ignore[index]
    near = [p for p in opaque if sum(abs(p[i] - color[i]) for i in range(3)) < 60]  # type: ignore[index]
    return len(near) / len(opaque)


def test_at_16_pixels_each_state_shows_its_own_palette_colour_only() -> None:
    coloured = ("ok", "syncing", "warning", "error", "not run yet")
    for state in coloured:
        for other in coloured:
            share = share_of(state_icon(state), palette()[other]["fill"])
            assert share > 0.3 if other == state else share < 0.05, (state, other)


def test_icons_with_the_same_colour_differ_by_their_badge() -> None:
    paused, unconfigured = state_icon("paused"), state_icon("not configured")
    assert paused.size == unconfigured.size == (64, 64)
    assert paused.tobytes() != unconfigured.tobytes()


def test_a_second_tray_on_the_same_folder_asks_the_first_for_its_settings(tmp_path: Path) -> None:
    first, second = SingleInstance(tmp_path), SingleInstance(tmp_path)
    asked = threading.Event()
    assert first.acquire()
    first.listen(asked.set)
    try:
        assert not second.acquire()
        assert second.ask_first_instance()
        assert asked.wait(2)
    finally:
        first.release()
    assert second.acquire()  # the folder is free again once the first tray has gone
    assert not first.ask_first_instance()  # and nobody answers the old port
    second.release()


def test_trays_on_different_folders_do_not_meet(tmp_path: Path) -> None:
    one, other = SingleInstance(tmp_path / "a"), SingleInstance(tmp_path / "b")
    assert one.acquire() and other.acquire()
    one.release()
    other.release()


def test_idle_connections_do_not_delay_a_second_start(tmp_path: Path) -> None:
    first, second = SingleInstance(tmp_path), SingleInstance(tmp_path)
    asked = threading.Event()
    assert first.acquire()
    first.listen(asked.set)
    port = int((tmp_path / PORT_FILE_NAME).read_text().split()[0])
    idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(8)]
    try:
        started = time.monotonic()
        assert second.ask_first_instance()
        assert time.monotonic() - started < 2  # not one receive timeout per idle connection
        assert asked.wait(2)
    finally:
        for connection in idle:
            connection.close()
        first.release()


def test_a_request_with_a_wrong_token_is_refused(tmp_path: Path) -> None:
    first = SingleInstance(tmp_path)
    asked = threading.Event()
    assert first.acquire()
    first.listen(asked.set)
    port = int((tmp_path / PORT_FILE_NAME).read_text().split()[0])
    try:
        for request in (b"show-settings 0123456789abcdef\n", b"show-settings\n", b"\xff\xfe\n"):
            with socket.create_connection(("127.0.0.1", port), timeout=3) as connection:
                connection.sendall(request)
                assert connection.recv(16) == b""  # closed without "ok"
        assert not asked.is_set()
    finally:
        first.release()


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
@pytest.mark.parametrize("umask", [0o022, 0o000])
def test_the_lock_and_port_files_and_a_new_settings_folder_are_owner_only(
    tmp_path: Path, umask: int
) -> None:
    folder = tmp_path / "new" / "settings"
    instance = SingleInstance(folder)
    previous_umask = os.umask(umask)
    try:
        assert instance.acquire()
        instance.listen(lambda: None)
    finally:
        os.umask(previous_umask)
    try:
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        assert stat.S_IMODE((folder / PORT_FILE_NAME).stat().st_mode) == 0o600
        assert stat.S_IMODE((folder / LOCK_FILE_NAME).stat().st_mode) == 0o600
    finally:
        instance.release()

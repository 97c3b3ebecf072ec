"""Owner-only settings on Windows: DPAPI for the key file, an owner-only ACL for each file.

NTFS ignores the POSIX modes set elsewhere: a file created in ``D:\\Halo\\5 Mins`` inherits
that folder's ACL, which usually lets every local user read it. So on Windows the key is
sealed with DPAPI in user scope (``CryptProtectData``: only this account, on this machine,
can unseal it) and the key and settings files get an ACL granting the current account alone
full control, set by the system's own ``icacls.exe``. Everything goes through ctypes and
subprocess: no new dependency.

This module has not run on Windows in this project's tests; they drive it through fakes of
its two boundaries, the DLL functions (``dlls``) and the process runner (``run``).
"""

from __future__ import annotations

import csv
import ctypes
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PureWindowsPath
from typing import Any, Protocol

from core.errors import ConfigError

CRYPTPROTECT_UI_FORBIDDEN = 0x1  # fail rather than show a prompt: AUTO runs have no desktop
PROTECTED_KEY_HEADER = b"dpapi:v1:"  # what a sealed key file starts with
KEY_DESCRIPTION = "Halo Integrator settings key"

Runner = Callable[..., "subprocess.CompletedProcess[bytes]"]


class FileProtection(Protocol):
    """What the key file and the settings writer ask of the platform (tests pass a fake)."""

    def protect(self, data: bytes) -> bytes: ...

    def unprotect(self, data: bytes) -> bytes: ...

    def restrict_to_owner(self, path: Path) -> None: ...


def platform_protection(os_name: str = os.name) -> FileProtection | None:
    """Return DPAPI and ACLs on Windows; None elsewhere, where mode 0600 already protects."""
    return WindowsProtection() if os_name == "nt" else None


class WindowsProtection:
    """The real backend: DPAPI through crypt32, ACLs through icacls."""

    def protect(self, data: bytes) -> bytes:
        return protect(data)

    def unprotect(self, data: bytes) -> bytes:
        return unprotect(data)

    def restrict_to_owner(self, path: Path) -> None:
        restrict_to_owner(path)


# --- DPAPI ------------------------------------------------------------------------------


class DataBlob(ctypes.Structure):
    """DPAPI's DATA_BLOB: a byte count and a pointer to the bytes."""

    _fields_ = (("cbData", ctypes.c_uint32), ("pbData", ctypes.POINTER(ctypes.c_char)))


@dataclass(frozen=True)
class Dlls:
    """The two Windows DLLs used, as ctypes loads them (or a test's fake)."""

    crypt32: Any
    kernel32: Any


def protect(data: bytes, dlls: Dlls | None = None) -> bytes:
    """Return ``data`` sealed for the current Windows account; OSError when DPAPI refuses."""
    dlls = dlls or _load_dlls()
    return _call_dpapi(dlls.crypt32.CryptProtectData, data, KEY_DESCRIPTION, dlls)


def unprotect(data: bytes, dlls: Dlls | None = None) -> bytes:
    """Return what ``protect`` sealed; OSError when it was sealed for another account or
    machine, or is damaged."""
    dlls = dlls or _load_dlls()
    return _call_dpapi(dlls.crypt32.CryptUnprotectData, data, None, dlls)


def _call_dpapi(function: Any, data: bytes, description: str | None, dlls: Dlls) -> bytes:
    """Both calls take (in, description, entropy, reserved, prompt, flags, out); the output
    is allocated by Windows and must be released with LocalFree once copied."""
    buffer = ctypes.create_string_buffer(data, len(data))
    blob_in = DataBlob(len(data), ctypes.cast(buffer, ctypes.POINTER(ctypes.c_char)))
    blob_out = DataBlob()
    succeeded = function(
        ctypes.byref(blob_in),
        description,
        None,
        None,
        None,
        CRYPTPROTECT_UI_FORBIDDEN,
        ctypes.byref(blob_out),
    )
    if not succeeded:
        error = getattr(ctypes, "get_last_error", lambda: 0)()
        raise OSError(f"{getattr(function, '__name__', 'DPAPI')} failed (Windows error {error})")
    try:
        return ctypes.string_at(blob_out.pbData, blob_out.cbData)
    finally:
        dlls.kernel32.LocalFree(ctypes.cast(blob_out.pbData, ctypes.c_void_p))


def _load_dlls() -> Dlls:
    """Load crypt32 and kernel32 with exact signatures (the pointers are 64-bit)."""
    win_dll = ctypes.WinDLL  # type: ignore[attr-defined]  # only exists on Windows
    crypt32 = win_dll("crypt32", use_last_error=True)
    kernel32 = win_dll("kernel32", use_last_error=True)
    blob_pointer = ctypes.POINTER(DataBlob)
    for function in (crypt32.CryptProtectData, crypt32.CryptUnprotectData):
        function.argtypes = (
            blob_pointer,
            ctypes.c_wchar_p,
            blob_pointer,
            ctypes.c_void_p,
            ctypes.c_void_p,
            ctypes.c_uint32,
            blob_pointer,
        )
        function.restype = ctypes.c_int
    kernel32.LocalFree.argtypes = (ctypes.c_void_p,)
    kernel32.LocalFree.restype = ctypes.c_void_p
    return Dlls(crypt32, kernel32)


# --- ACL --------------------------------------------------------------------------------


def restrict_to_owner(path: Path, run: Runner = subprocess.run) -> None:
    """Give ``path`` an ACL granting only the current account full control, nothing inherited.

    Called on a new, still empty temporary file, which keeps its ACL when it is renamed into
    place. Raises ConfigError naming the file when icacls refuses (nothing is saved then).
    """
    grant = f"*{current_user_sid(run)}:(F)"
    command = [_system_tool("icacls.exe"), str(path), "/inheritance:r", "/grant:r", grant]
    done = run(command, capture_output=True, check=False)
    if done.returncode != 0:
        raise ConfigError(
            f"cannot make the file readable by its owner only: icacls says {_output(done)}",
            path=str(path),
            hint="Run the integrator as the account that owns the settings folder.",
        )


def current_user_sid(run: Runner = subprocess.run) -> str:
    """Return the current account's SID (``S-1-5-21-…``), from ``whoami /user``.

    A SID rather than %USERNAME%: it also names SYSTEM and service accounts, and the
    environment cannot make it name someone else.
    """
    done = run(
        [_system_tool("whoami.exe"), "/user", "/fo", "csv", "/nh"], capture_output=True, check=False
    )
    rows = list(csv.reader(_output(done).splitlines()))
    if done.returncode != 0 or not rows or not rows[-1] or not rows[-1][-1].startswith("S-"):
        raise ConfigError(
            f"cannot tell which Windows account this is: whoami says {_output(done)}",
            hint="Run the integrator as an ordinary Windows account.",
        )
    return rows[-1][-1]


def _system_tool(name: str) -> str:
    """The full path of a System32 tool, so a same-named program on PATH is never run."""
    return str(PureWindowsPath(os.environ.get("SYSTEMROOT", r"C:\Windows"), "System32", name))


def _output(done: subprocess.CompletedProcess[bytes]) -> str:
    text = (done.stdout or b"") + (done.stderr or b"")
    return text.decode("utf-8", errors="replace").strip() or f"exit code {done.returncode}"

"""Which file a queued script's location may name: only one inside the scripts folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ScriptRefusedError
from core.sources.script_paths import resolve_script


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    scripts = tmp_path / "scripts"
    (scripts / "ad").mkdir(parents=True)
    (scripts / "ad" / "add_to_group.ps1").write_text("param($User)\n")
    # Explicit modes: under a umask of 002 they would be group-writable, which is refused.
    for path in (scripts, scripts / "ad"):
        path.chmod(0o755)
    (scripts / "ad" / "add_to_group.ps1").chmod(0o644)
    return scripts


def test_a_location_below_the_folder_resolves_with_either_separator(folder: Path) -> None:
    for location in ("ad/add_to_group.ps1", "ad\\add_to_group.ps1", " ad//add_to_group.ps1 "):
        found = resolve_script(folder, location)
        assert (found.path, found.name) == (
            folder / "ad" / "add_to_group.ps1",
            "ad/add_to_group.ps1",
        )


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ("", "names no file"),
        ("ad/../ad/add_to_group.ps1", "contains '..'"),
        ("C:\\Windows\\System32\\evil.ps1", "does not exist"),
        ("\\\\server\\share\\evil.ps1", "does not exist"),
        ("/etc/passwd", "leads outside the scripts folder"),
        ("ad", "is not a file"),
        ("ad/add_to_group.ps1\0.txt", "names no file"),
    ],
)
def test_a_location_that_does_not_name_a_script_inside_is_refused(
    folder: Path, location: str, reason: str
) -> None:
    with pytest.raises(ScriptRefusedError, match=reason.replace(".", r"\.")):
        resolve_script(folder, location)


def test_the_allow_list_compares_names_below_the_folder_in_any_case(folder: Path) -> None:
    assert resolve_script(folder, "ad/add_to_group.ps1", ["AD\\Add_To_Group.ps1"]).name
    with pytest.raises(ScriptRefusedError, match="not in allowed_scripts"):
        resolve_script(folder, "ad/add_to_group.ps1", ["add_to_group.ps1"])


def test_a_folder_others_may_write_is_refused(folder: Path) -> None:
    (folder / "ad").chmod(0o777)
    with pytest.raises(ScriptRefusedError, match="may be written by other users"):
        resolve_script(folder, "ad/add_to_group.ps1")

"""What Preview says for each kind of dry-run result (no display needed)."""

from __future__ import annotations

from core.outcomes import QUEUE, EntityResult, Outcome, RunCounts
from core.run.runner import ModuleRunResult
from core.state.store import MappedRecord
from core.sync.plan import Plan
from core.sync.records import SourceRecord
from tray_agent.settings_dialog.preview import NAMES_PER_KIND, preview_text


def record(number: int) -> SourceRecord:
    return SourceRecord(
        f"u{number}@example.com", {"name": f"User {number}"}, label=f"User {number}"
    )


def test_a_dry_run_lists_the_first_names_of_each_change() -> None:
    plan = Plan(
        creates=[record(n) for n in range(NAMES_PER_KIND + 3)],
        updates=[(record(100), 7)],
        deactivations=[MappedRecord("gone@example.com", 9, "f", True)],
    )
    counts = RunCounts(created=NAMES_PER_KIND + 3, updated=1, deactivated=1, unchanged=4)
    part = EntityResult("Users", counts=counts, plan=plan)
    text, ok = preview_text(ModuleRunResult("csv", Outcome.DRY_RUN, counts, parts=[part]))
    assert ok
    lines = text.splitlines()
    assert lines[0] == (
        f"Would create {NAMES_PER_KIND + 3}, update 1 and deactivate 1 (4 unchanged). "
        "Nothing was written to Halo."
    )
    assert lines.count("  create ... and 3 more") == 1
    assert "  deactivate gone@example.com" in lines


def test_a_refused_run_says_a_real_run_would_be_refused() -> None:
    counts = RunCounts(deactivated=60)
    result = ModuleRunResult(
        "csv", Outcome.REFUSED, counts, error="Refused to deactivate 60 of 100 records"
    )
    text, ok = preview_text(result)
    assert not ok and "A real run would be refused: Refused to deactivate 60 of 100" in text


def test_a_failed_or_skipped_preview_says_why() -> None:
    failed = ModuleRunResult("csv", Outcome.FAILED, error="The file x.csv does not exist.")
    assert preview_text(failed) == ("Preview failed: The file x.csv does not exist.", False)
    skipped = ModuleRunResult("csv", Outcome.SKIPPED, error="Module csv is already running")
    assert preview_text(skipped)[0] == "Preview failed: Module csv is already running"


def test_a_queue_says_how_many_items_it_would_process() -> None:
    part = EntityResult("Mail", kind=QUEUE, counts=RunCounts(processed=5))
    result = ModuleRunResult("mail", Outcome.DRY_RUN, RunCounts(processed=5), parts=[part])
    assert preview_text(result)[0].startswith("Would process 5.")

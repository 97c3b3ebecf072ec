"""The work ledger: each queue item claimed, written, finished once, across crashes."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from core.state.ledger import ItemState, WorkLedger
from core.state.store import StateStore


@pytest.fixture
def ledger(tmp_path: Path) -> WorkLedger:
    return WorkLedger(StateStore(tmp_path), "inbox", "mail")


def test_a_new_item_is_claimed_written_and_done(ledger: WorkLedger) -> None:
    claim = ledger.claim("v1/7", marker="msg-7", label="Printer broken")
    assert claim.previous is None and not claim.interrupted and not claim.in_halo
    assert (claim.item.state, claim.item.attempts) == (ItemState.CLAIMED, 1)
    ledger.written("v1/7", 1234)
    ledger.done("v1/7")
    again = ledger.claim("v1/7", marker="msg-7")
    assert again.in_halo and again.previous is ItemState.DONE
    assert (again.item.halo_id, again.item.attempts) == (1234, 1)  # not claimed a second time


def test_an_item_that_died_before_written_is_reported_as_interrupted(ledger: WorkLedger) -> None:
    ledger.claim("v1/8", marker="first-marker")  # ... and the process was killed
    claim = ledger.claim("v1/8", marker="second-marker")
    assert claim.interrupted and not claim.in_halo
    # The marker written with the first attempt is the one to look for in Halo.
    assert claim.item.marker == "first-marker" and claim.item.attempts == 2


def test_an_item_written_but_not_moved_is_only_finished(ledger: WorkLedger) -> None:
    ledger.claim("v1/9", marker="m")
    ledger.written("v1/9", 77)  # ... killed before the mail was moved
    claim = ledger.claim("v1/9", marker="m")
    assert claim.in_halo and claim.previous is ItemState.WRITTEN and claim.item.halo_id == 77


def test_a_finished_item_keeps_its_result_and_is_never_claimed_to_run_again(
    tmp_path: Path,
) -> None:
    ledger = WorkLedger(StateStore(tmp_path), "scripts", "script")
    ledger.claim("42", marker="", label="reset.ps1 for ticket 7")
    ledger.finished("42", '{"exit_code": 0}')  # ... killed before Halo took the result
    claim = ledger.claim("42", marker="")
    assert claim.result_kept and not claim.interrupted and not claim.in_halo
    assert (claim.item.state, claim.item.result, claim.item.attempts) == (
        ItemState.FINISHED,
        '{"exit_code": 0}',
        1,
    )
    ledger.done("42")
    assert ledger.claim("42", marker="").item.result == '{"exit_code": 0}'


def test_the_same_message_twice_is_one_item_in_halo(ledger: WorkLedger) -> None:
    ledger.claim("v1/10", marker="m10", dedupe_key="<abc@example.com>")
    ledger.written("v1/10", 500)
    claim = ledger.claim("v1/11", marker="m11", dedupe_key="<abc@example.com>")
    assert claim.twin is not None and claim.twin.halo_id == 500 and claim.in_halo
    other = ledger.claim("v1/12", marker="m12", dedupe_key="<other@example.com>")
    assert other.twin is None


def test_after_max_attempts_an_item_is_given_up_until_retried(ledger: WorkLedger) -> None:
    for attempt in range(1, 4):
        claim = ledger.claim("v1/13", marker="m")
        assert claim.item.attempts == attempt
        item = ledger.failed("v1/13", f"Halo said no ({attempt})", max_attempts=3)
    assert item.state is ItemState.FAILED and item.last_error == "Halo said no (3)"
    assert ledger.claim("v1/13", marker="m").given_up
    assert [i.key for i in ledger.in_state(ItemState.FAILED)] == ["v1/13"]
    ledger.retry("v1/13")
    fresh = ledger.claim("v1/13", marker="m")
    assert fresh.interrupted and fresh.item.attempts == 1


def test_ledgers_of_two_instances_and_two_queues_are_apart(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    WorkLedger(store, "inbox", "mail").claim("1", marker="m")
    assert WorkLedger(store, "sales", "mail").get("1") is None
    assert WorkLedger(store, "inbox", "script").get("1") is None
    store.forget_module("inbox")
    assert WorkLedger(store, "inbox", "mail").get("1") is None


def _claim_in_another_process(folder: str, results: multiprocessing.Queue[str]) -> None:
    claim = WorkLedger(StateStore(Path(folder)), "inbox", "mail").claim("v1/1", marker="m")
    results.put("new" if claim.previous is None else str(claim.previous))


def test_two_processes_claiming_one_item_at_once_see_it_new_only_once(tmp_path: Path) -> None:
    StateStore(tmp_path)
    context = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue[str] = context.Queue()
    workers = [
        context.Process(target=_claim_in_another_process, args=(str(tmp_path), results))
        for _ in range(4)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    outcomes = sorted(results.get(timeout=5) for _ in workers)
    assert outcomes == ["claimed", "claimed", "claimed", "new"]


def test_done_items_are_forgotten_after_a_while(ledger: WorkLedger) -> None:
    ledger.claim("old", marker="m")
    ledger.done("old")
    ledger.claim("open", marker="m")
    assert ledger.forget_done(older_than_seconds=-1) == 1
    assert ledger.get("old") is None and ledger.get("open") is not None

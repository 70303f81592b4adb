"""Runs as a state machine, kept by the SQL store and the in-memory store alike."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import pytest

from etl_studio.core.engine.events import RunLogLine
from etl_studio.core.history import IllegalTransition, InMemoryRunStore, RuleResult, RunRecord, RunStatus, SqlRunStore, open_run_store


def test_a_run_moves_queued_running_succeeded() -> None:
    record = RunRecord(pipeline="orders")
    record.move_to(RunStatus.RUNNING)
    assert record.started_at is not None
    record.move_to(RunStatus.SUCCEEDED)
    assert record.finished_at is not None and record.duration_seconds is not None


@pytest.mark.parametrize("final", [RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.INTERRUPTED])
def test_a_finished_run_cannot_move_again(final: RunStatus) -> None:
    record = RunRecord(pipeline="orders")
    record.move_to(RunStatus.RUNNING)
    record.move_to(final)
    with pytest.raises(IllegalTransition):
        record.move_to(RunStatus.RUNNING)


def test_a_queued_run_cannot_succeed_without_running() -> None:
    with pytest.raises(IllegalTransition, match="queued to succeeded"):
        RunRecord(pipeline="orders").move_to(RunStatus.SUCCEEDED)


@pytest.fixture(params=["sql", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path):
    if request.param == "memory":
        return InMemoryRunStore()
    return open_run_store(None, tmp_path)


def test_store_keeps_runs_newest_first_with_their_details(store) -> None:
    older = RunRecord(pipeline="a", created_at=datetime(2026, 1, 1, tzinfo=timezone.utc))
    newer = RunRecord(pipeline="b", created_at=datetime(2026, 1, 2, tzinfo=timezone.utc))
    store.save_run(older)
    store.save_run(newer)
    newer.move_to(RunStatus.RUNNING)
    newer.rows_loaded = 7
    store.save_run(newer)
    runs = store.list_runs()
    assert [r.pipeline for r in runs] == ["b", "a"]
    assert runs[0].status is RunStatus.RUNNING and runs[0].rows_loaded == 7
    assert [r.run_id for r in store.list_runs("a")] == [older.run_id]
    assert {r.run_id for r in store.unfinished_runs()} == {older.run_id, newer.run_id}
    line = RunLogLine(newer.run_id, "b", datetime(2026, 1, 2, 3, 4, tzinfo=timezone.utc), "INFO", "hello")
    store.add_logs([line])
    assert store.logs(newer.run_id) == [line]
    store.save_rule_results([RuleResult(newer.run_id, "email", "regex", "error", "quarantine", 10, 2, ["row 3: bad"])])
    assert store.rule_results(newer.run_id)[0].rows_failed == 2
    rows = pd.DataFrame({"email": ["x@", None], "__rule__": ["email", "email"], "__reason__": ["bad", "bad"]}, index=[3, 9])
    store.add_quarantined(newer.run_id, "b", rows)
    quarantined = store.quarantined(newer.run_id)
    assert quarantined["row"].tolist() == [3, 9]
    assert '"email": "x@"' in quarantined["values"][0] and '"email": null' in quarantined["values"][1]
    store.clear_run_details(newer.run_id)
    assert store.quarantined(newer.run_id).empty and store.rule_results(newer.run_id) == []


def test_state_database_lives_in_a_hidden_folder_beside_the_project(tmp_path: Path) -> None:
    store = open_run_store(None, tmp_path)
    assert isinstance(store, SqlRunStore)
    assert (tmp_path / ".etl_studio" / "state.db").exists()


def test_many_threads_opening_a_new_state_database_at_once_all_succeed(tmp_path: Path) -> None:
    import threading

    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def open_store() -> None:
        start.wait()
        try:
            open_run_store(None, tmp_path).dispose()
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []

"""The scheduler service: runs by itself in worker threads, retries, stops slow runs, runs upstream first."""

from __future__ import annotations

import pickle
import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from etl_studio.core.engine.events import RunFinished, RunLogLine, RunProgress, RunStarted
from etl_studio.core.history import RunStatus, open_run_store
from etl_studio.core.project import Project, load_project
from etl_studio.core.project.models import Schedule
from etl_studio.core.scheduling import SchedulerLocked, SchedulerService
from etl_studio.core.scheduling.state import recent_events
from tests.core.scheduling.conftest import pipeline, write_csv

WAIT = 30.0  # seconds: a deadline for conditions, never a fixed delay


class Recorder:
    """Collects run events from worker threads and lets the test wait for a condition on them."""

    def __init__(self) -> None:
        self.events: list[Any] = []
        self.threads: set[str] = set()
        self._changed = threading.Condition()

    def __call__(self, event: Any) -> None:
        with self._changed:
            self.events.append(event)
            self.threads.add(threading.current_thread().name)
            self._changed.notify_all()

    def finished(self, pipeline: str | None = None) -> list[Any]:
        return [e.record for e in self.events if isinstance(e, RunFinished) and (pipeline is None or e.record.pipeline == pipeline)]

    def wait_for(self, condition: Callable[[], bool], timeout: float = WAIT) -> bool:
        with self._changed:
            return self._changed.wait_for(condition, timeout)


def start(services: list[SchedulerService], project: Project, path: Path, recorder: Recorder | None = None) -> SchedulerService:
    service = SchedulerService(project, path.parent)
    if recorder is not None:
        service.add_listener(recorder)
    services.append(service)
    service.start()
    return service


def test_a_one_second_interval_runs_the_pipeline_again_and_again_in_worker_threads(make_project, services) -> None:
    project, path = make_project(pipeline("tick", schedule=Schedule(interval_seconds=1)))
    recorder = Recorder()
    start(services, project, path, recorder)

    assert recorder.wait_for(lambda: len(recorder.finished("tick")) >= 2), recorder.events
    services[0].stop()

    main = threading.main_thread().name
    assert recorder.threads and main not in recorder.threads
    store = open_run_store(None, path.parent)
    runs = [r for r in store.list_runs("tick") if r.status is RunStatus.SUCCEEDED]
    store.dispose()
    assert len(runs) >= 2
    assert {r.trigger for r in runs} == {"schedule"}
    assert all(r.params.get("window_start") and r.params.get("run_date") for r in runs)


def test_a_source_that_fails_twice_is_retried_and_the_run_ends_successful(make_project, services, tmp_path: Path) -> None:
    schedule = Schedule(interval_seconds=1, retries=3, retry_backoff_seconds=0.1, retry_max_delay_seconds=0.2)
    project, path = make_project(pipeline("late", schedule=schedule), missing=("late.csv",))
    recorder = Recorder()

    def deliver_file_after_second_failure(event: Any) -> None:
        # The export "arrives" only after two attempts have failed for real (file not found).
        if isinstance(event, RunLogLine) and event.message.startswith("attempt 2 of 4 failed"):
            write_csv(tmp_path / "late.csv")

    service = start(services, project, path, recorder)
    service.add_listener(deliver_file_after_second_failure)
    assert recorder.wait_for(lambda: bool(recorder.finished("late")))
    service.stop()

    record = recorder.finished("late")[0]
    assert record.status is RunStatus.SUCCEEDED, record.error
    assert record.trigger == "schedule" and record.rows_loaded == 20
    store = open_run_store(None, path.parent)
    messages = [line.message for line in store.logs(record.run_id)]
    history = store.list_runs("late")
    store.dispose()
    failures = [m for m in messages if m.startswith("attempt ") and "failed" in m]
    assert len(failures) == 2 and "CSV file not found" in failures[0] and "retrying in 0.1 s" in failures[0], messages
    assert "retrying in 0.2 s" in failures[1]
    assert "succeeded on attempt 3 of 4" in messages
    # One scheduled run in the history, not one per attempt; listeners heard it finish once.
    assert [r.run_id for r in history if r.run_id == record.run_id] == [record.run_id]
    assert len([r for r in recorder.finished("late") if r.run_id == record.run_id]) == 1


def test_a_run_over_its_timeout_is_stopped_and_recorded_as_timed_out(make_project, services) -> None:
    project, path = make_project(pipeline("slow", schedule=Schedule(interval_seconds=1, timeout_seconds=0.3), chunk_size=5))
    recorder = Recorder()
    service = start(services, project, path, recorder)

    def slow_chunk(event: Any) -> None:
        if isinstance(event, RunProgress):
            cancel = service.cancel_event("slow")
            assert cancel is not None and cancel.wait(10)  # a chunk that takes until the timeout fires

    service.add_listener(slow_chunk)
    assert recorder.wait_for(lambda: bool(recorder.finished("slow")))
    service.stop()

    record = recorder.finished("slow")[0]
    assert record.status is RunStatus.FAILED and record.error_kind == "timeout"
    assert "timed out after 0.3 s" in (record.error or "")
    store = open_run_store(None, path.parent)
    stored = store.get_run(record.run_id)
    store.dispose()
    assert stored is not None and stored.status is RunStatus.FAILED and stored.error_kind == "timeout"
    engine = sa.create_engine(f"sqlite:///{path.parent / 'warehouse.db'}")
    with engine.connect() as conn:
        assert not sa.inspect(conn).has_table("slow")  # stopped before its load committed
    engine.dispose()


def test_downstream_pipelines_run_after_each_successful_run_in_order(make_project, services) -> None:
    project, path = make_project(
        pipeline("extract", schedule=Schedule(interval_seconds=1)),
        pipeline("clean", depends_on=["extract"]),
        pipeline("report", depends_on=["clean"]),
        pipeline("unrelated"),
    )
    recorder = Recorder()
    start(services, project, path, recorder)
    assert recorder.wait_for(lambda: bool(recorder.finished("report")))
    services[0].stop()

    started = [(e.pipeline, e.trigger) for e in recorder.events if isinstance(e, RunStarted)]
    assert started[:3] == [("extract", "schedule"), ("clean", "dependency"), ("report", "dependency")]
    assert "unrelated" not in {name for name, _ in started}


def test_firing_a_pipeline_runs_its_upstream_pipelines_first_and_skips_after_a_failure(make_project, services) -> None:
    project, path = make_project(
        pipeline("customers"),
        pipeline("orders", depends_on=["customers"]),
        pipeline("totals", depends_on=["orders"], schedule=Schedule(cron="0 3 * * *")),
        missing=("orders.csv",),
    )
    recorder = Recorder()
    service = start(services, project, path, recorder)

    results = service.run_chain("totals")

    assert list(results) == ["customers", "orders", "totals"]
    assert results["customers"] is not None and results["customers"].status is RunStatus.SUCCEEDED
    assert results["customers"].trigger == "dependency"
    assert results["orders"] is not None and results["orders"].status is RunStatus.FAILED
    assert results["totals"] is None  # not run: its upstream failed
    events = recent_events(service.store.engine)  # type: ignore[union-attr]
    assert any(e["pipeline"] == "totals" and "upstream pipeline 'orders' did not succeed" in e["message"] for e in events)


def test_a_second_scheduler_of_the_same_project_is_refused_and_told_who_holds_it(make_project, services) -> None:
    project, path = make_project(pipeline("tick", schedule=Schedule(cron="0 2 * * *")))
    start(services, project, path)
    second = SchedulerService(project, path.parent, owner="app")
    try:
        second.start()
    except SchedulerLocked as exc:
        assert exc.holder is not None and exc.holder.by == "serve"
        assert f"pid {exc.holder.pid}" in str(exc) and "since" in str(exc)
    else:  # pragma: no cover - the assertion below explains
        second.stop()
        raise AssertionError("a second scheduler started on a locked project")
    services[0].stop()
    second.start()  # free again once the first one stopped
    second.stop()


def test_jobs_are_rebuilt_from_the_file_and_keep_their_stored_next_run_time(make_project, services) -> None:
    project, path = make_project(pipeline("nightly", schedule=Schedule(cron="0 2 * * *", timezone="Europe/Berlin")),
                                 pipeline("hourly", schedule=Schedule(cron="0 * * * *")))
    first = start(services, project, path)
    nightly = first.next_run_time("nightly")
    assert nightly is not None and nightly.astimezone(timezone.utc).hour in (0, 1)  # 02:00 Berlin
    first.stop()

    # The file changed while no scheduler ran: 'hourly' is gone, 'nightly' unchanged.
    edited = project.model_copy(update={"pipelines": [project.pipeline("nightly")]})
    second = start(services, edited, path)
    assert second.next_run_time("nightly") == nightly
    assert second.next_run_time("hourly") is None
    engine = second.store.engine  # type: ignore[union-attr]
    with engine.connect() as conn:
        ids = conn.execute(sa.text("select id from scheduler_jobs order by id")).scalars().all()
    assert ids == ["run:nightly"]

    second.reload(edited.model_copy(update={"pipelines": [pipeline("nightly", schedule=Schedule(cron="30 4 * * *", timezone="UTC"))]}))
    moved = second.next_run_time("nightly")
    assert moved is not None and (moved.hour, moved.minute) == (4, 30)


def _stored_next_run_in_the_past(path: Path, job_id: str, hours: float) -> None:
    """As if the scheduler had been off: the stored job (column and pickled state) says it was due hours ago."""
    store = open_run_store(None, path.parent)
    past = datetime.now(timezone.utc) - timedelta(hours=hours)
    with store.engine.begin() as conn:
        job_state = pickle.loads(conn.execute(sa.text("select job_state from scheduler_jobs where id = :id"), {"id": job_id}).scalar_one())
        job_state["next_run_time"] = past
        conn.execute(sa.text("update scheduler_jobs set next_run_time = :t, job_state = :s where id = :id"),
                     {"t": past.timestamp(), "s": pickle.dumps(job_state), "id": job_id})
    store.dispose()


def test_missed_fire_times_are_caught_up_once_after_a_restart(make_project, services) -> None:
    project, path = make_project(pipeline("daily", schedule=Schedule(cron="0 2 * * *", catch_up="once")))
    start(services, project, path).stop()
    _stored_next_run_in_the_past(path, "run:daily", hours=30)  # the server was off for more than a day

    recorder = Recorder()
    service = start(services, load_project(path), path, recorder)
    assert recorder.wait_for(lambda: bool(recorder.finished("daily")))
    service.stop()
    runs = recorder.finished("daily")
    assert len(runs) == 1 and runs[0].status is RunStatus.SUCCEEDED and runs[0].trigger == "schedule"


def test_missed_fire_times_are_skipped_when_the_schedule_says_so(make_project, services) -> None:
    project, path = make_project(pipeline("daily", schedule=Schedule(cron="0 2 * * *", catch_up="skip")))
    start(services, project, path).stop()
    _stored_next_run_in_the_past(path, "run:daily", hours=30)

    service = start(services, load_project(path), path)
    next_run = service.next_run_time("daily")
    assert next_run is not None and next_run > datetime.now(timezone.utc)
    events = recent_events(service.store.engine)  # type: ignore[union-attr]
    assert any("skipped (catch_up: skip)" in e["message"] for e in events)
    assert service.running_pipelines() == []

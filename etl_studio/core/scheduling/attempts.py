"""One scheduled run with its retries: failed attempts start again after an exponential, capped backoff."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from etl_studio.core.engine.events import Report, RunEvent, RunFinished, RunLogLine, ignore
from etl_studio.core.engine.runner import run_pipeline
from etl_studio.core.history.records import RunRecord, RunStatus, new_run_id
from etl_studio.core.history.store import RunStore
from etl_studio.core.project.models import Project


def backoff_delay(schedule_backoff: float, max_delay: float, failed_attempt: int) -> float:
    """Seconds to wait after the n-th failed attempt: backoff, 2x, 4x ... never more than max_delay."""
    return min(schedule_backoff * 2 ** (failed_attempt - 1), max_delay)


def run_with_retries(
    project: Project,
    name: str,
    *,
    project_dir: Path,
    store: RunStore,
    trigger: str,
    params: dict[str, Any],
    report: Report = ignore,
    cancel: threading.Event | None = None,
    stop: threading.Event | None = None,
    run_id: str | None = None,
    on_attempt: Callable[[int], None] | None = None,
) -> RunRecord:
    """Run a pipeline with its schedule's retries and timeout; every attempt is the same run in the history.

    Keeping one run id means the history shows one scheduled run, and its log tells the
    attempts apart. ``stop`` (the scheduler shutting down) ends the waiting between attempts.
    A cancelled run is never retried; a failed or timed-out one is.
    """
    schedule = project.pipeline(name).schedule
    attempts = (schedule.retries if schedule else 0) + 1
    timeout = schedule.timeout_seconds if schedule else None
    cancel = cancel or threading.Event()
    stop = stop or threading.Event()
    run_id = run_id or new_run_id()
    held: list[RunFinished] = []

    def relay(event: RunEvent) -> None:
        # A failed attempt's "finished" is held back: listeners hear the run end once, at its real end.
        if isinstance(event, RunFinished):
            held.append(event)
        else:
            report(event)

    record: RunRecord | None = None
    for attempt in range(1, attempts + 1):
        if on_attempt is not None:
            on_attempt(attempt)
        held.clear()
        record = run_pipeline(project, name, project_dir=project_dir, store=store, cancel=cancel, report=relay,
                              trigger=trigger, params=params, run_id=run_id, timeout_seconds=timeout)
        if record.status is not RunStatus.FAILED or attempt == attempts or cancel.is_set() and record.error_kind != "timeout":
            break
        assert schedule is not None
        delay = backoff_delay(schedule.retry_backoff_seconds, schedule.retry_max_delay_seconds, attempt)
        _log(store, report, record, "WARNING", f"attempt {attempt} of {attempts} failed: {record.error}; retrying in {delay:g} s")
        cancel.clear()  # a timeout set it; the next attempt gets its full time again
        if stop.wait(delay):
            _log(store, report, record, "WARNING", "the scheduler is stopping: no more attempts")
            break
    assert record is not None
    if attempt > 1:
        outcome = "succeeded" if record.status is RunStatus.SUCCEEDED else f"ended {record.status.value}"
        _log(store, report, record, "INFO" if record.status is RunStatus.SUCCEEDED else "ERROR",
             f"{outcome} on attempt {attempt} of {attempts}")
    for event in held:
        report(event)
    return record


def _log(store: RunStore, report: Report, record: RunRecord, level: str, message: str) -> None:
    line = RunLogLine(record.run_id, record.pipeline, datetime.now(timezone.utc), level, message)
    store.add_logs([line])
    report(line)

"""Backfill: run a pipeline over past windows in order, one execution id per window, resuming where it stopped."""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from etl_studio.core.engine.events import Report, ignore
from etl_studio.core.engine.reconcile import reconcile_runs
from etl_studio.core.errors import InvalidInputError
from etl_studio.core.history.records import RunRecord, RunStatus, new_run_id
from etl_studio.core.history.store import SqlRunStore
from etl_studio.core.project.models import Project
from etl_studio.core.scheduling import state
from etl_studio.core.scheduling.attempts import run_with_retries
from etl_studio.core.scheduling.triggers import RunWindow

_STEP = re.compile(r"^\s*(\d+)\s*(w|d|h|m|min|s)?\s*$", re.IGNORECASE)
_UNITS = {"w": timedelta(weeks=1), "d": timedelta(days=1), "h": timedelta(hours=1), "m": timedelta(minutes=1),
          "min": timedelta(minutes=1), "s": timedelta(seconds=1)}
MAX_WINDOWS = 100_000


def parse_step(text: str) -> timedelta:
    """'1d', '6h', '15min' (or '15m'), '1w', '3600s'; a bare number is days."""
    match = _STEP.match(text)
    if not match or int(match.group(1)) == 0:
        raise InvalidInputError(f"--step {text!r}: write a positive amount with a unit, e.g. 1d, 6h, 15min, 1w")
    return int(match.group(1)) * _UNITS[(match.group(2) or "d").lower()]


def parse_bound(text: str, *, end: bool) -> datetime:
    """A date (2024-01-31) or a date and time (2024-01-31T06:00). A plain end date includes that whole day."""
    try:
        if len(text.strip()) <= 10:
            day = date.fromisoformat(text.strip())
            moment = datetime(day.year, day.month, day.day)
            return moment + timedelta(days=1) if end else moment
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInputError(f"{'--to' if end else '--from'} {text!r}: write a date as YYYY-MM-DD (or YYYY-MM-DDTHH:MM)") from None
    return moment.replace(tzinfo=None) if moment.tzinfo else moment


def plan_windows(start: datetime, end: datetime, step: timedelta) -> list[RunWindow]:
    """Windows ``[start, start+step), ...`` up to ``end``; the last one is cut at ``end``."""
    if end <= start:
        raise InvalidInputError(f"the backfill ends ({end.isoformat(sep=' ')}) before it starts ({start.isoformat(sep=' ')})")
    if (end - start) / step > MAX_WINDOWS:
        raise InvalidInputError(f"that is more than {MAX_WINDOWS:,} windows; choose a larger --step")
    windows = []
    current = start
    while current < end:
        following = min(current + step, end)
        windows.append(RunWindow(current, following))
        current = following
    return windows


def execution_id(pipeline: str, window: RunWindow) -> str:
    """The same pipeline and window always get the same id, so a second backfill knows what is done."""
    text = f"{pipeline}\x1f{window.window_start.isoformat()}\x1f{window.window_end.isoformat()}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True)
class WindowOutcome:
    window: RunWindow
    execution_id: str
    status: str  # skipped (done before) | succeeded | failed | cancelled | interrupted
    run_id: str | None
    record: RunRecord | None = None


def window_statuses(store: SqlRunStore, pipeline: str) -> dict[str, tuple[str, str | None]]:
    """execution id -> (status, run id) of every window of the pipeline ever backfilled."""
    state.ensure_tables(store.engine)
    t = state.backfill_table
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(t.c.execution_id, t.c.status, t.c.run_id).where(t.c.pipeline == pipeline)).all()
    return {r.execution_id: (r.status, r.run_id) for r in rows}


def _save_window(store: SqlRunStore, pipeline: str, eid: str, window: RunWindow, status: str, run_id: str | None, *, new_attempt: bool = False) -> None:
    t = state.backfill_table
    now = state.naive_utc(state.utcnow())
    with store.engine.begin() as conn:
        row = conn.execute(sa.select(t.c.attempts).where(t.c.execution_id == eid)).first()
        if row is None:
            conn.execute(t.insert().values(execution_id=eid, pipeline=pipeline, window_start=window.window_start, window_end=window.window_end,
                                           status=status, run_id=run_id, attempts=1 if new_attempt else 0, updated_at=now))
        else:
            conn.execute(t.update().where(t.c.execution_id == eid).values(
                status=status, run_id=run_id, attempts=row.attempts + (1 if new_attempt else 0), updated_at=now))


def backfill(
    project: Project,
    pipeline: str,
    windows: list[RunWindow],
    *,
    project_dir: Path,
    store: SqlRunStore,
    report: Report = ignore,
    cancel: threading.Event | None = None,
    on_window: Callable[[WindowOutcome, int, int], None] | None = None,
) -> list[WindowOutcome]:
    """Run the windows in order; windows completed before are skipped; the first failure stops the backfill.

    Each window's execution id and run id are written before its run starts, so after a
    kill the next backfill finds the run: committed at the target (reconciled to succeeded)
    means done, anything else runs again — the load is all-or-nothing, so that is safe.
    """
    project.pipeline(pipeline)
    cancel = cancel or threading.Event()
    state.ensure_tables(store.engine)
    reconcile_runs(project, project_dir, store)
    known = window_statuses(store, pipeline)
    outcomes: list[WindowOutcome] = []
    for index, window in enumerate(windows, start=1):
        eid = execution_id(pipeline, window)
        status, run_id = known.get(eid, ("pending", None))
        if status == "running" and run_id:
            earlier = store.get_run(run_id)
            if earlier is not None and earlier.status is RunStatus.SUCCEEDED:
                _save_window(store, pipeline, eid, window, "succeeded", run_id)
                status = "succeeded"
        if status == "succeeded":
            outcome = WindowOutcome(window, eid, "skipped", run_id)
        elif cancel.is_set():
            break
        else:
            run_id = new_run_id()
            _save_window(store, pipeline, eid, window, "running", run_id, new_attempt=True)
            record = run_with_retries(project, pipeline, project_dir=project_dir, store=store, trigger="backfill",
                                      params=window.params(), report=report, cancel=cancel, stop=cancel, run_id=run_id)
            _save_window(store, pipeline, eid, window, record.status.value, run_id)
            outcome = WindowOutcome(window, eid, record.status.value, run_id, record)
        outcomes.append(outcome)
        if on_window is not None:
            on_window(outcome, index, len(windows))
        if outcome.status not in ("skipped", "succeeded"):
            break
    return outcomes

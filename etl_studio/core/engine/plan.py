"""plan_pipeline: run a pipeline up to the load, count what the load would do (insert, update, expire, delete, quarantine, reject), commit nothing."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from etl_studio.core.connections import ConnectionPool
from etl_studio.core.context import RunContext
from etl_studio.core.engine.events import Report, ignore
from etl_studio.core.engine.runlog import run_logger
from etl_studio.core.engine.runner import _Attempt, classify
from etl_studio.core.history.records import RunRecord, RunStatus
from etl_studio.core.history.store import InMemoryRunStore, open_run_store
from etl_studio.core.history.watermarks import WatermarkStore, watermark_store_for
from etl_studio.core.project.models import Project

SAMPLE_ROWS = 5
# The order an analyst reads a plan in.
PLAN_KINDS = ("insert", "update", "expire", "delete", "unchanged", "quarantine", "reject")


@dataclass
class LoadPlan:
    """What a run would do to the target, found by doing it in a transaction that is rolled back."""

    pipeline: str
    rows_read: int = 0
    counts: dict[str, int] = field(default_factory=dict)  # insert, update, expire, delete, unchanged, quarantine, reject
    samples: dict[str, pd.DataFrame] = field(default_factory=dict)  # up to SAMPLE_ROWS rows per kind
    sql: str = ""  # the statements the load runs (Target.describe_load)
    window: str | None = None  # the incremental read, in words
    watermark_from: str | None = None
    watermark_to: str | None = None  # where a run would move the watermark
    already_loaded_by: str | None = None  # run id, when this window was loaded before (nothing would load)
    notes: list[str] = field(default_factory=list)

    def count(self, kind: str) -> int:
        return self.counts.get(kind, 0)

    def summary(self) -> str:
        """One line: '3 to insert, 1 to update, 2 quarantined'."""
        words = {"insert": "to insert", "update": "to update", "expire": "to expire", "delete": "to delete",
                 "unchanged": "unchanged", "quarantine": "quarantined", "reject": "rejected by the database"}
        parts = [f"{self.counts[kind]:,} {words[kind]}" for kind in PLAN_KINDS if self.counts.get(kind)]
        return ", ".join(parts) or "nothing to load"


def plan_pipeline(
    project: Project,
    name: str,
    *,
    project_dir: Path,
    report: Report | None = None,
    cancel: threading.Event | None = None,
    watermarks: WatermarkStore | None = None,
) -> LoadPlan:
    """Read, transform and check like a run, load inside a transaction, count, roll back.

    The target and the watermark are left exactly as they were. Raises the engine's errors
    (ConfigError, DataError, ConnectionFailedError ...) when the run itself would fail.
    """
    pipeline = project.pipeline(name)
    report = report or ignore
    store = InMemoryRunStore()
    record = RunRecord(pipeline=pipeline.name, trigger="plan")
    record.move_to(RunStatus.RUNNING)
    pool = ConnectionPool(project, project_dir)
    context = RunContext(project_dir=project_dir, connections=pool, cancel=cancel or threading.Event(), logger=run_logger(pipeline.name))
    state = None
    if watermarks is None and pipeline.incremental is not None:
        state = open_run_store(project.state_database, project_dir)
        watermarks = watermark_store_for(state)
    attempt = _Attempt(project, record, context, store, report, None, watermarks, planning=True)
    try:
        try:
            attempt.execute()
        except Exception as exc:
            raise classify(exc) from exc
    finally:
        pool.dispose()
        if state is not None:
            state.dispose()
    plan = LoadPlan(pipeline.name, rows_read=record.rows_read, sql=attempt.sql, already_loaded_by=attempt.already_loaded_by)
    if attempt.window is not None:
        plan.window = attempt.window.describe()
        plan.watermark_from = attempt.window.previous
        plan.watermark_to = attempt.next_watermark
    if attempt.planned is not None:
        for kind, count in attempt.planned.counts.items():
            plan.counts[kind] = count
        plan.samples = {kind: sample.head(SAMPLE_ROWS) for kind, sample in attempt.planned.samples.items()}
        plan.notes += attempt.planned.notes
    if record.rows_quarantined:
        plan.counts["quarantine"] = record.rows_quarantined
        plan.samples["quarantine"] = store.quarantined(record.run_id, limit=SAMPLE_ROWS)
    if attempt.already_loaded_by:
        plan.notes.append(f"this window was already loaded by run {attempt.already_loaded_by[:8]}: a run would load nothing")
    return plan

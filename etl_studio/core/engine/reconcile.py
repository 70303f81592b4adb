"""Start-up reconciliation: a run left 'running' by a dead process is settled from the target's control table (watermark included)."""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path

from etl_studio.core.connections import ConnectionPool
from etl_studio.core.context import RunContext
from etl_studio.core.history.records import RunRecord, RunStatus
from etl_studio.core.history.store import RunStore
from etl_studio.core.history.watermarks import WatermarkStore, watermark_store_for
from etl_studio.core.project.models import Project

log = logging.getLogger(__name__)


def _process_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_live(record: RunRecord) -> bool:
    return record.host == socket.gethostname() and _process_alive(record.pid)


def reconcile_runs(project: Project, project_dir: Path, store: RunStore, watermarks: WatermarkStore | None = None) -> list[RunRecord]:
    """Settle every unfinished run whose process is gone: committed at the target -> succeeded, else interrupted.

    A committed run of an incremental pipeline also gets its watermark back from its control
    row: the process may have died between the target's commit and the state database's write.
    """
    from etl_studio.core import plugins

    settled: list[RunRecord] = []
    unfinished = [r for r in store.unfinished_runs() if not _is_live(r)]
    if not unfinished:
        return settled
    plugins.load_builtin_plugins()
    pool = ConnectionPool(project, project_dir)
    committed_by_pipeline: dict[str, set[str] | None] = {}
    targets_by_pipeline: dict[str, object] = {}
    try:
        for record in unfinished:
            if record.pipeline not in committed_by_pipeline:
                committed_by_pipeline[record.pipeline] = None
                try:
                    pipeline = project.pipeline(record.pipeline)
                    target = plugins.targets.get(pipeline.target.kind).from_spec(
                        pipeline.target.config, RunContext(project_dir=project_dir, connections=pool)
                    )
                    committed_by_pipeline[record.pipeline] = target.committed_runs(record.pipeline)
                    targets_by_pipeline[record.pipeline] = target
                except Exception as exc:  # noqa: BLE001 - an unreachable target leaves the run interrupted
                    log.warning("cannot read the control table of '%s': %s", record.pipeline, exc)
            committed = committed_by_pipeline[record.pipeline] or set()
            if record.run_id in committed and record.status is RunStatus.RUNNING:
                record.move_to(RunStatus.SUCCEEDED)
                record.error = None
                _recover_watermark(project, record, targets_by_pipeline.get(record.pipeline), watermarks or watermark_store_for(store))
            else:
                record.move_to(RunStatus.INTERRUPTED, error="the process running it stopped before the load committed; the target was left as it was")
            store.save_run(record)
            settled.append(record)
    finally:
        pool.dispose()
    return settled


def _recover_watermark(project: Project, record: RunRecord, target: object, watermarks: WatermarkStore) -> None:
    """Put a committed run's watermark into the state database, unless someone set it by hand since the run began."""
    try:
        pipeline = project.pipeline(record.pipeline)
    except Exception:  # noqa: BLE001 - a pipeline removed from the project has no watermark to keep
        return
    if pipeline.incremental is None or target is None:
        return
    try:
        control = target.committed_load(record.run_id)  # type: ignore[attr-defined]
    except Exception as exc:  # noqa: BLE001 - the run is settled anyway; the watermark stays behind, which re-reads rows
        log.warning("cannot read the watermark of run %s: %s", record.run_id[:8], exc)
        return
    if control is None or control.watermark is None:
        return
    current = watermarks.get(record.pipeline)
    if current is not None and (current.run_id == record.run_id or current.updated_at >= control.started_at):
        return
    watermarks.set(record.pipeline, control.watermark, record.run_id)
    log.info("watermark of '%s' recovered from the control row of run %s: %s", record.pipeline, record.run_id[:8], control.watermark)

"""Start-up reconciliation: a run left 'running' by a dead process is settled from the target's control table."""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path

from etl_studio.core.connections import ConnectionPool
from etl_studio.core.context import RunContext
from etl_studio.core.history.records import RunRecord, RunStatus
from etl_studio.core.history.store import RunStore
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


def reconcile_runs(project: Project, project_dir: Path, store: RunStore) -> list[RunRecord]:
    """Settle every unfinished run whose process is gone: committed at the target -> succeeded, else interrupted."""
    from etl_studio.core import plugins

    settled: list[RunRecord] = []
    unfinished = [r for r in store.unfinished_runs() if not _is_live(r)]
    if not unfinished:
        return settled
    plugins.load_builtin_plugins()
    pool = ConnectionPool(project, project_dir)
    committed_by_pipeline: dict[str, set[str] | None] = {}
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
                except Exception as exc:  # noqa: BLE001 - an unreachable target leaves the run interrupted
                    log.warning("cannot read the control table of '%s': %s", record.pipeline, exc)
            committed = committed_by_pipeline[record.pipeline] or set()
            if record.run_id in committed and record.status is RunStatus.RUNNING:
                record.move_to(RunStatus.SUCCEEDED)
                record.error = None
            else:
                record.move_to(RunStatus.INTERRUPTED, error="the process running it stopped before the load committed; the target was left as it was")
            store.save_run(record)
            settled.append(record)
    finally:
        pool.dispose()
    return settled

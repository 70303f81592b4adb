"""RunController: starts pipeline runs in worker threads, one at a time per pipeline, and relays their events."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, QThreadPool, Signal

from etl_studio.core.engine.events import RunFinished
from etl_studio.core.history.records import RunRecord, RunStatus, new_run_id
from etl_studio.core.project.models import Project
from etl_studio.gui.project_document import ProjectDocument
from etl_studio.gui.workers import Worker

log = logging.getLogger("etl_studio.gui")

# Runs get their own pool so that previews, connection tests and reflection (global pool)
# never queue behind a long load.
MAX_PARALLEL_RUNS = 8
# Chunk size for runs started from the window when the pipeline sets none. Some per-chunk
# work in the engine holds the GIL for a time proportional to the chunk (converting a chunk
# to Python rows for executemany); at the engine's 100,000 rows that froze the window for
# ~300 ms per chunk, at 20,000 the longest stall of a 1M-row run is ~150 ms and the run
# takes about as long (tests/benchmarks/gui_heartbeat.py).
GUI_CHUNK_ROWS = 20_000


@dataclass
class ActiveRun:
    pipeline: str
    run_id: str
    worker: Worker
    trigger: str
    last_progress: Any = None
    stopping: bool = False


@dataclass
class _Batch:
    """A "Run all": pipelines waiting for their upstream pipelines of the same batch."""

    order: list[str]
    waiting: dict[str, set[str]] = field(default_factory=dict)
    failed: set[str] = field(default_factory=set)


def with_gui_chunk_size(project: Project, pipeline: str) -> Project:
    target = project.pipeline(pipeline)
    if target.chunk_size is not None:
        return project
    pipelines = [p.model_copy(update={"chunk_size": GUI_CHUNK_ROWS}) if p.name == pipeline else p for p in project.pipelines]
    return project.model_copy(update={"pipelines": pipelines})


class RunController(QObject):
    """The GUI's only way to run pipelines. Panels listen to ``event`` (core run events)."""

    event = Signal(object)  # RunStarted / RunProgress / RunLogLine / RunFinished
    runStarted = Signal(str, str)  # pipeline, run id
    runFinished = Signal(str, object)  # pipeline, RunRecord (succeeded, failed or cancelled)
    runRefused = Signal(str, str)  # pipeline, why (already running ...)
    activeChanged = Signal()

    def __init__(self, document: ProjectDocument, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(MAX_PARALLEL_RUNS)
        self._active: dict[str, ActiveRun] = {}
        self._batch: _Batch | None = None
        # Pipelines running outside this controller (the scheduler): never started twice.
        self.busy_elsewhere: Callable[[], list[str]] = lambda: []
        # A QRunnable must outlive its run(); finished workers wait here until the pool is idle.
        self._retired: list[Worker] = []

    def set_document(self, document: ProjectDocument) -> None:
        if self._active:
            raise RuntimeError("cannot switch projects while pipelines are running")
        self.document = document
        self._batch = None

    # -- queries
    def is_running(self, pipeline: str | None = None) -> bool:
        return bool(self._active) if pipeline is None else pipeline in self._active

    def running(self) -> list[str]:
        return list(self._active)

    def active_runs(self) -> list[ActiveRun]:
        return list(self._active.values())

    # -- commands
    def start(self, pipeline: str, *, trigger: str = "manual", limit: int | None = None) -> str | None:
        """Start a run; returns its run id, or None (and ``runRefused``) when it cannot start."""
        if pipeline in self._active:
            self.runRefused.emit(pipeline, f"'{pipeline}' is already running; wait for it to finish or stop it")
            return None
        if pipeline in self.busy_elsewhere():
            self.runRefused.emit(pipeline, f"'{pipeline}' is running on its schedule; wait for it to finish")
            return None
        project = self.document.project
        if pipeline not in {p.name for p in project.pipelines}:
            self.runRefused.emit(pipeline, f"there is no pipeline named '{pipeline}'")
            return None
        from etl_studio.core.engine.runner import run_pipeline

        run_id = new_run_id()
        project = with_gui_chunk_size(project, pipeline)
        # The worker gets the project as it is now: later edits do not change a running run.
        fn = functools.partial(
            run_pipeline, project, pipeline, project_dir=self.document.project_dir, trigger=trigger, limit=limit, run_id=run_id
        )
        worker = Worker(fn)
        worker.signals.event.connect(self._relay)
        worker.signals.result.connect(lambda record, name=pipeline: self._finished(name, record))
        worker.signals.error.connect(lambda message, name=pipeline, rid=run_id: self._crashed(name, rid, message))
        self._active[pipeline] = ActiveRun(pipeline, run_id, worker, trigger)
        self.pool.start(worker)
        self.runStarted.emit(pipeline, run_id)
        self.activeChanged.emit()
        return run_id

    def stop(self, pipeline: str | None = None) -> None:
        """Cancel one run (or all): the engine stops between two chunks and rolls the load back."""
        names = [pipeline] if pipeline else list(self._active)
        if pipeline is None and self._batch is not None:
            self._batch = None  # nothing more of the batch starts
        for name in names:
            run = self._active.get(name)
            if run is not None:
                run.stopping = True
                run.worker.cancel()

    def run_all(self) -> list[str]:
        """Start every pipeline, upstream ones first; a pipeline waits for its upstreams in the batch."""
        from etl_studio.core.engine.dependencies import execution_order
        from etl_studio.core.errors import EtlError

        try:
            order = execution_order(self.document.project)
        except EtlError as exc:
            self.runRefused.emit("", str(exc))
            return []
        project = self.document.project
        batch = _Batch(order)
        for name in order:
            upstream = set(project.pipeline(name).depends_on) & set(order)
            batch.waiting[name] = upstream
        self._batch = batch
        return self._start_ready()

    def wait_for_all(self, timeout_ms: int = -1) -> bool:
        """Block until the run workers are done (for closing the window and tests)."""
        return self.pool.waitForDone(timeout_ms)

    # -- worker callbacks (GUI thread)
    def _relay(self, event: object) -> None:
        run = self._active.get(getattr(event, "pipeline", None) or "")
        if run is not None and type(event).__name__ == "RunProgress":
            run.last_progress = event
        if isinstance(event, RunFinished):
            return  # re-emitted from _finished, once the worker's result is in
        self.event.emit(event)

    def _finished(self, pipeline: str, record: RunRecord) -> None:
        run = self._active.pop(pipeline, None)
        if self.pool.activeThreadCount() == 0:
            self._retired.clear()
        if run is not None:
            self._retired.append(run.worker)
        self.event.emit(RunFinished(record))
        self.runFinished.emit(pipeline, record)
        self.activeChanged.emit()
        self._batch_step(pipeline, record.status is RunStatus.SUCCEEDED)

    def _crashed(self, pipeline: str, run_id: str, message: str) -> None:
        # run_pipeline never raises for a failed run; this is a bug or a missing pipeline.
        log.error("run of '%s' crashed: %s", pipeline, message)
        record = RunRecord(pipeline=pipeline, run_id=run_id)
        record.move_to(RunStatus.RUNNING)
        record.move_to(RunStatus.FAILED, error=message)
        self._finished(pipeline, record)

    def _batch_step(self, finished: str, succeeded: bool) -> None:
        batch = self._batch
        if batch is None or finished not in batch.order:
            return
        if not succeeded:
            batch.failed.add(finished)
        for name, upstream in batch.waiting.items():
            if finished in upstream:
                upstream.discard(finished)
                if not succeeded:
                    batch.failed.add(name)
        self._start_ready()
        if not batch.waiting and not any(name in self._active for name in batch.order):
            self._batch = None

    def _start_ready(self) -> list[str]:
        batch = self._batch
        if batch is None:
            return []
        skipped = True
        while skipped:  # a skipped pipeline skips the ones downstream of it too
            skipped = False
            for name in [n for n in batch.waiting if n in batch.failed]:
                batch.waiting.pop(name)
                self.runRefused.emit(name, f"'{name}' was not run: a pipeline it depends on did not succeed")
                for other, upstream in batch.waiting.items():
                    if name in upstream:
                        upstream.discard(name)
                        batch.failed.add(other)
                skipped = True
        started = []
        for name in [n for n, upstream in batch.waiting.items() if not upstream]:
            batch.waiting.pop(name)
            if self.start(name, trigger="manual"):
                started.append(name)
        return started

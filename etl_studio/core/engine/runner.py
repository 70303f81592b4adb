"""run_pipeline: extract -> steps -> mapping -> rules -> load, chunk by chunk, all-or-nothing at the target."""

from __future__ import annotations

import inspect
import logging
import queue
import threading
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from etl_studio.core.casting import forget_chunk
from etl_studio.core.cdc.pipelines import cdc_problems
from etl_studio.core.connections import ConnectionPool, explain_db_error
from etl_studio.core.context import RunContext, mask_secrets
from etl_studio.core.engine.assembly import DEFAULT_CHUNK_SIZE, assemble
from etl_studio.core.engine.events import Report, RunFinished, RunProgress, RunStarted, ignore
from etl_studio.core.engine.flow import ROW_ERROR_COLUMN, ChunkChecker, run_steps
from etl_studio.core.engine.incremental import (
    IncrementalWindow,
    WatermarkTracker,
    apply_window,
    execution_id_for,
    filter_chunk,
    incremental_problems,
    window_for,
)
from etl_studio.core.engine.memory import use_lean_memory_pool
from etl_studio.core.engine.runlog import RunLogHandler, run_logger
from etl_studio.core.errors import (
    ConfigError,
    ConnectionFailedError,
    DataError,
    EtlError,
    InvalidInputError,
    RunCancelled,
    TransientError,
)
from etl_studio.core.history.records import RuleResult, RunRecord, RunStatus
from etl_studio.core.history.store import RunStore, open_run_store
from etl_studio.core.history.watermarks import WatermarkStore, watermark_store_for
from etl_studio.core.mapping.apply import compile_mapping
from etl_studio.core.project.models import Project, TargetColumn
from etl_studio.core.targets.base import ControlRecord, LoadSession, PlannedChanges

log = logging.getLogger(__name__)
RETRY_BASE_SECONDS = 1.0
RETRY_MAX_SECONDS = 60.0
QUARANTINE_BATCH = 20_000  # quarantined rows gathered before one write to the state database
RESUME_LOOKBACK = 5  # recent runs searched for the last committed watermark of a source that keeps a position


def classify(exc: BaseException) -> BaseException:
    """Driver errors become the engine's own kinds: a dropped connection is transient, the rest is data."""
    if isinstance(exc, EtlError):
        return exc
    if isinstance(exc, sa.exc.DBAPIError):
        if exc.connection_invalidated or isinstance(exc, sa.exc.OperationalError) and _looks_transient(exc):
            return TransientError(explain_db_error(exc))
        if isinstance(exc, sa.exc.OperationalError):
            return ConnectionFailedError(explain_db_error(exc))
        return DataError(explain_db_error(exc))
    return exc


def _looks_transient(exc: BaseException) -> bool:
    text = str(exc).lower()
    return any(s in text for s in ("server closed the connection", "lost connection", "connection reset", "terminating connection", "gone away", "broken pipe"))


_DONE = object()  # the end of the chunks handed to a ChunkLoader
WRITE_AHEAD = 1  # a chunk handed over waits until the writer takes it: one written, one prepared, no more


class ChunkLoader:
    """Hands chunks to ``session.write`` on a thread of its own, so that reading and transforming
    the next chunk overlaps the database ingesting this one (COPY works on the server's core).

    put() returns once the writer took the chunk (a hand-over, ``WRITE_AHEAD``): memory holds the
    chunk being written and the one being prepared, whatever the data size. Handing over instead
    of queueing one more chunk measured about 20 MB less peak memory and the same speed.
    The session is used by the writer thread only between the first put() and finish() or
    abandon(); the run thread commits, plans or rolls back only after that. A write error
    stops the writing (later chunks are dropped) and is raised in the run thread by the next
    put() or by finish(). The writer never logs nor reports: those stay with the run thread.
    A session that cannot be written from another thread (``threaded_writes`` false) is
    written inline, as before.
    """

    def __init__(self, session: LoadSession) -> None:
        self.session = session
        self.rows_loaded = 0
        self.error: BaseException | None = None
        self._dropping = False
        self._thread: threading.Thread | None = None
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=WRITE_AHEAD)
        if getattr(session, "threaded_writes", False):
            self._thread = threading.Thread(target=self._write_all, name="etl-studio-writer", daemon=True)
            self._thread.start()

    def _write_all(self) -> None:
        while True:
            chunk = self._queue.get()
            self._queue.task_done()  # taken: the run thread may go on preparing the next one
            if chunk is _DONE:
                return
            if self.error is not None or self._dropping:
                continue  # keep taking chunks so that put() never blocks on a dead writer
            try:
                self.rows_loaded += self.session.write(chunk)
            except BaseException as exc:  # noqa: BLE001 - raised again in the run thread
                self.error = exc

    def _raise_error(self) -> None:
        if self.error is not None:
            self._dropping = True  # first: the writer must not take up the next chunk in between
            error, self.error = self.error, None
            raise error

    def put(self, chunk: pd.DataFrame) -> None:
        """Hand one chunk to the writer (returns once it took it); raises an earlier chunk's write error."""
        if self._thread is None:
            self.rows_loaded += self.session.write(chunk)
            return
        self._raise_error()
        # Encoding for the wire here, on the run's thread, while the writer sends the chunk before:
        # the writer then only sends, and the database never waits for an encoding.
        prepared = self.session.prepare_chunk(chunk)
        del chunk  # the encoded form is all the writer needs
        self._queue.put(prepared)
        del prepared
        self._queue.join()  # until the writer took it; it takes every chunk, even after an error
        self._raise_error()

    def finish(self) -> None:
        """Wait until every queued chunk is written; raises the writer's error."""
        self._stop()
        self._raise_error()

    def abandon(self) -> None:
        """Stop writing (queued chunks are dropped) and wait for the write in progress to end."""
        self._dropping = True
        self._stop()

    def _stop(self) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        if self._dropping:
            while True:
                try:
                    self._queue.get_nowait()
                    self._queue.task_done()
                except queue.Empty:
                    break
        self._queue.put(_DONE)
        thread.join()


class ChunkPrefetcher:
    """Reads and runs the steps on a thread of its own, one chunk ahead of the mapping and rules.

    Arrow and numpy let go of the interpreter lock while they work, so reading and cleaning
    the next chunk overlaps checking this one: the cleaning benchmark (1M rows, trim, dedupe,
    a derived decimal, a regex rule) measured 3.1-3.4 s -> 2.3-2.4 s for that part. The steps
    keep their order and state: one thread runs them all, chunk after chunk. A chunk is handed
    over (the reading thread waits until the run takes it), so memory holds the chunk being
    checked and the next one, never a queue. Errors (a cancel too) are raised again in the
    run's thread by iteration, and close() stops the reading after the chunk in hand. A run
    whose connections are bound to a thread (in-memory SQLite) does not use it.
    """

    def __init__(self, chunks: Iterator[pd.DataFrame]) -> None:
        self._chunks = chunks
        self._ready = threading.Condition()
        self._item: tuple[str, Any] | None = None
        self._stopped = False
        self._thread = threading.Thread(target=self._produce, name="etl-studio-reader", daemon=True)
        self._thread.start()

    def _hand_over(self, kind: str, value: Any) -> bool:
        """Offer one item and wait until the run took it; False once close() was called."""
        with self._ready:
            self._item = (kind, value)
            self._ready.notify_all()
            while self._item is not None and not self._stopped:
                self._ready.wait()
            return not self._stopped

    def _produce(self) -> None:
        try:
            for chunk in self._chunks:
                forget_chunk()  # this thread's memory of the chunk's columns: of no use for the next one
                if not self._hand_over("chunk", chunk):
                    return
                del chunk  # not held while the next one is read
            self._hand_over("end", None)
        except BaseException as exc:  # noqa: BLE001 - raised again in the run's thread
            self._hand_over("error", exc)
        finally:
            close = getattr(self._chunks, "close", None)
            if close is not None:
                close()  # the source's files and cursors, now, on this thread
            forget_chunk()

    def __iter__(self) -> Iterator[pd.DataFrame]:
        while True:
            with self._ready:
                while self._item is None:
                    self._ready.wait()
                kind, value = self._item
                self._item = None
                self._ready.notify_all()
            if kind == "chunk":
                yield value
                del value
            elif kind == "end":
                return
            else:
                raise value

    def close(self) -> None:
        """Stop reading (after the chunk being read) and wait for the thread to end."""
        with self._ready:
            self._stopped = True
            self._ready.notify_all()
        self._thread.join()


class QuarantineBatch:
    """Quarantined rows on their way to the state database, written a batch at a time.

    One write (a transaction, on SQLite an fsync) per chunk cost about 10 ms a chunk, whatever
    the number of rows; batches of QUARANTINE_BATCH rows make it a few writes per run. The
    runner flushes before the target commits, so a committed run always has its quarantine.
    """

    def __init__(self, store: RunStore, run_id: str, pipeline: str) -> None:
        self.store, self.run_id, self.pipeline = store, run_id, pipeline
        self._frames: list[pd.DataFrame] = []
        self._rows = 0

    def add(self, rows: pd.DataFrame) -> None:
        self._frames.append(rows)
        self._rows += len(rows)
        if self._rows >= QUARANTINE_BATCH:
            self.flush()

    def flush(self) -> None:
        frames, self._frames, self._rows = self._frames, [], 0
        if frames:
            self.store.add_quarantined(self.run_id, self.pipeline, frames[0] if len(frames) == 1 else pd.concat(frames))

    def flush_after_failure(self, logger: logging.Logger) -> None:
        """A failed run keeps the rows it quarantined so far, as when they were written chunk by chunk."""
        count = self._rows
        try:
            self.flush()
        except Exception as exc:  # noqa: BLE001 - the run's own error is the one to report
            logger.warning("could not record %d quarantined row(s): %s", count, mask_secrets(str(exc)))


def infer_target_columns(frame: pd.DataFrame) -> list[TargetColumn]:
    """For a pipeline without a mapping: the columns as they come, typed from their dtypes."""
    from etl_studio.core.engine.profile import vocabulary_type

    return [TargetColumn(name=str(name), type=vocabulary_type(frame[name], frame[name].dropna())) for name in frame.columns]


class _Attempt:
    """One try at the whole run. Retries start from scratch: nothing was committed."""

    def __init__(self, project: Project, record: RunRecord, context: RunContext, store: RunStore, report: Report, limit: int | None,
                 watermarks: WatermarkStore | None = None, *, planning: bool = False) -> None:
        self.project, self.record, self.context, self.store, self.report, self.limit = project, record, context, store, report, limit
        self.rule_results: list[RuleResult] = []
        self.watermarks = watermarks
        self.window: IncrementalWindow | None = None
        self.committed_watermark: str | None = None
        # Planning: everything up to the load, then the session's plan() instead of commit().
        self.planning = planning
        self.planned: PlannedChanges | None = None
        self.next_watermark: str | None = None
        self.already_loaded_by: str | None = None
        self.sql = ""

    def _incremental(self, pipeline: Any, source: Any) -> tuple[IncrementalWindow | None, bool, WatermarkTracker | None]:
        """The run's read window from the committed watermark; whether the source filters itself."""
        if pipeline.incremental is None:
            return None, False, None
        problems = incremental_problems(pipeline)
        if problems:
            raise ConfigError("incremental pipeline '" + pipeline.name + "': " + "; ".join(problems))
        mark = self.watermarks.get(pipeline.name) if self.watermarks is not None else None
        window = window_for(pipeline.incremental, mark.value if mark else None)
        pushed = apply_window(source, window)
        self.context.logger.info("incremental read: %s%s", window.describe(), " (filtered by the source's query)" if pushed else "")
        return window, pushed, WatermarkTracker(window)

    def execute(self) -> None:
        record, context = self.record, self.context
        pipeline = self.project.pipeline(record.pipeline)
        mismatch = cdc_problems(pipeline)
        if mismatch:
            raise ConfigError(f"pipeline '{pipeline.name}': " + "; ".join(message for _, message in mismatch))
        parts = assemble(pipeline, context)
        assert parts.target is not None
        carried = tuple(parts.source.change_columns)
        execution_id = execution_id_for(pipeline, context.params)
        if execution_id:
            earlier = parts.target.committed_execution(pipeline.name, execution_id)
            if earlier:
                self.already_loaded_by = str(earlier)
                context.logger.warning(
                    "execution %s was already loaded by run %s: nothing to do (a rerun of a window never loads it twice)",
                    execution_id, str(earlier)[:8],
                )
                record.rows_read = record.rows_quarantined = record.rows_loaded = 0
                return
        window, pushed, tracker = self._incremental(pipeline, parts.source)
        self.window = window
        if parts.source.commits_position and not self.planning:
            self._finish_interrupted_advance(pipeline.name, parts.source, parts.target)
        chunk_size = pipeline.chunk_size or DEFAULT_CHUNK_SIZE
        record.rows_read = record.rows_quarantined = record.rows_loaded = 0
        self.store.clear_run_details(record.run_id)
        total = parts.source.estimate_rows()
        if self.limit is not None:
            total = min(total, self.limit) if total is not None else self.limit
        self.report(RunStarted(record.run_id, record.pipeline, record.trigger, total))
        started = time.monotonic()
        checker: ChunkChecker | None = None
        session: LoadSession | None = None
        loader: ChunkLoader | None = None
        logger = context.logger
        params = context.params

        def raw_chunks():
            for chunk in parts.source.read_chunks(chunk_size, self.limit):
                context.check_cancelled()
                if window is not None and not pushed:
                    chunk = filter_chunk(chunk, window)
                if tracker is not None:
                    tracker.observe(chunk)
                record.rows_read += len(chunk)
                yield chunk

        quarantine = QuarantineBatch(self.store, record.run_id, record.pipeline)
        thread_bound = getattr(context.connections, "thread_bound", None)
        prefetcher = None if thread_bound is None or thread_bound() else ChunkPrefetcher(run_steps(raw_chunks(), parts.steps))
        chunks = prefetcher if prefetcher is not None else run_steps(raw_chunks(), parts.steps)
        try:
            for chunk in chunks:
                context.check_cancelled()
                if checker is None:
                    # The step errors and the source's change columns go round the mapping: never target columns.
                    input_columns = [c for c in chunk.columns if c != ROW_ERROR_COLUMN and c not in carried]
                    plan = compile_mapping(pipeline.mapping, input_columns, params=params.keys())
                    columns = pipeline.mapping or infer_target_columns(chunk.drop(columns=[ROW_ERROR_COLUMN, *carried], errors="ignore"))
                    session = self._open_target(parts.target, columns)
                    loader = ChunkLoader(session)
                    checker = ChunkChecker(plan, parts.rules, record.run_id, params, carry=carried)
                checked = checker.check(chunk)
                # Only the rows that load and the quarantined ones go on: the chunk as it came and
                # the mapped frame (for previews) are let go before the hand-over waits for the writer.
                good, rejected = checked.good, checked.quarantined
                del chunk, checked
                if len(rejected):
                    quarantine.add(rejected)
                    record.rows_quarantined += len(rejected)
                del rejected
                if len(good):
                    assert loader is not None
                    loader.put(good)
                    record.rows_loaded = loader.rows_loaded  # what the database took so far
                del good
                self.report(RunProgress(record.run_id, record.pipeline, record.rows_read, total, time.monotonic() - started))
                logger.debug("chunk done: %d read, %d quarantined, %d loaded so far", record.rows_read, record.rows_quarantined, record.rows_loaded)
            quarantine.flush()  # every quarantined row is in the state database before the target commits
            if loader is not None:
                loader.finish()
                record.rows_loaded = loader.rows_loaded
            if checker is None:
                # No rows at all: still create/empty the target as the mode says.
                if pipeline.mapping:
                    session = self._open_target(parts.target, list(pipeline.mapping))
                    checker = ChunkChecker(compile_mapping([], []), parts.rules, record.run_id, params)
                else:
                    logger.warning("the source has no rows and the pipeline no mapping: nothing to load")
                    checker = ChunkChecker(compile_mapping([], []), parts.rules, record.run_id, params)
            failures = checker.finish()
            self.rule_results = list(checker.results.values())
            for rule, message in failures:
                if rule.severity == "error":
                    raise DataError(f"rule '{rule.name}' failed: {message}; nothing was loaded")
                logger.warning("rule '%s' (warning): %s", rule.name, message)
            for result in self.rule_results:
                if result.rows_failed:
                    logger.info("rule '%s': %d of %d rows failed (%s)", result.rule, result.rows_failed, result.rows_checked,
                               "quarantined" if result.severity == "error" else "warning only, loaded")
            context.check_cancelled()
            watermark = self._next_watermark(window, tracker)
            if window is None and parts.source.watermark is not None:
                watermark = parts.source.watermark  # CDC: the LSN read up to, committed with the changes
            if self.planning:
                self.next_watermark = watermark
                self.planned = session.plan() if session is not None else None
                return  # the finally clause rolls the load back
            if session is not None:
                session.commit(
                    ControlRecord(record.run_id, record.pipeline, record.started_at or record.created_at, record.rows_loaded,
                                  watermark=watermark, execution_id=execution_id)
                )
                session = None
                # After the target's commit, never before: the control row holds the same
                # watermark, so a crash right here is repaired by start-up reconciliation.
                if window is not None and watermark is not None and watermark != window.previous and self.watermarks is not None:
                    self.watermarks.set(pipeline.name, watermark, record.run_id)
                    logger.info("watermark of '%s' advanced to %s", pipeline.name, watermark)
                self.committed_watermark = watermark
                self._after_commit(parts.source, watermark)
        finally:
            if prefetcher is not None:
                prefetcher.close()  # before the rollback: the reading thread may still use a connection
            quarantine.flush_after_failure(logger)
            if loader is not None:
                loader.abandon()  # never roll back under a write in progress
            if session is not None:
                session.rollback()
            if checker is not None and not self.rule_results:
                self.rule_results = list(checker.results.values())

    def _after_commit(self, source: Any, watermark: str | None) -> None:
        """Tell the source its load committed (CDC: advance the slot). A failure does not fail the run:
        the changes are committed, and the next run re-reads and re-applies them, which changes nothing."""
        try:
            source.after_commit(watermark)
        except Exception as exc:  # noqa: BLE001 - the data is committed; only the source's position lags
            self.context.logger.warning(
                "the load committed, but the source could not record it (%s); the next run reads those changes again "
                "and applying them again changes nothing", mask_secrets(str(exc)),
            )

    def _finish_interrupted_advance(self, name: str, source: Any, target: Any) -> None:
        """Before reading: move the source to the last committed watermark, should a run have died between
        its commit and its advance; otherwise it would re-read (harmlessly) what the target already holds."""
        try:
            committed = self._last_committed_watermark(name, target)
            if committed is not None:
                source.after_commit(committed)
        except Exception as exc:  # noqa: BLE001 - reading from where the source stands is safe, only slower
            self.context.logger.warning("could not move the source to the last committed watermark (%s); reading from where it stands",
                                        mask_secrets(str(exc)))

    def _last_committed_watermark(self, name: str, target: Any) -> str | None:
        """The watermark in the control row of this project's newest committed run of the pipeline.

        Only runs of this state database count, looked up by run id: another project may have a
        pipeline of the same name loading into the same database, and its watermark (another
        slot's LSN) must never move this source.
        """
        asked = 0
        for run in self.store.list_runs(name, limit=RESUME_LOOKBACK):
            if run.run_id == self.record.run_id or run.status not in (RunStatus.SUCCEEDED, RunStatus.RUNNING):
                continue  # failed, cancelled and interrupted runs committed nothing
            control = target.committed_load(run.run_id)
            if control is not None and control.watermark is not None:
                return control.watermark
            asked += 1
            if asked >= RESUME_LOOKBACK:
                break
        return None

    def _next_watermark(self, window: IncrementalWindow | None, tracker: WatermarkTracker | None) -> str | None:
        if window is None or tracker is None:
            return None
        if self.limit is not None:
            # The first N rows in source order are not the N oldest: moving the watermark
            # to their largest value could skip rows never read.
            self.context.logger.warning("a run with a row limit does not move the watermark")
            return window.previous
        if tracker.unreadable:
            self.context.logger.warning("%d row(s) had an unreadable %s and were not read", tracker.unreadable, window.column)
        return tracker.new_watermark()

    def _open_target(self, target: Any, columns: list[TargetColumn]) -> LoadSession:
        differences = target.schema_differences(columns)
        if differences:
            raise ConfigError("the target table does not match the mapping:\n  - " + "\n  - ".join(differences))
        if self.planning:
            try:
                self.sql = target.describe_load(columns)
            except Exception as exc:  # noqa: BLE001 - the plan still counts rows without the SQL text
                self.sql = f"-- cannot describe the load: {exc}"
        return open_session(target, columns, self.record.run_id, load_time=self.record.started_at or self.record.created_at,
                            planning=self.planning)


def open_session(target: Any, columns: list[TargetColumn], run_id: str, **options: Any) -> LoadSession:
    """target.open() with the options this target understands (planning, load_time); others are left out."""
    accepted = inspect.signature(target.open).parameters
    return target.open(columns, run_id, **{name: value for name, value in options.items() if name in accepted})


def run_pipeline(
    project: Project,
    pipeline_name: str,
    *,
    project_dir: Path,
    store: RunStore | None = None,
    cancel: threading.Event | None = None,
    report: Report | None = None,
    trigger: str = "manual",
    limit: int | None = None,
    params: dict[str, Any] | None = None,
    run_id: str | None = None,
    timeout_seconds: float | None = None,
    watermarks: WatermarkStore | None = None,
) -> RunRecord:
    """Run one pipeline to the end. Never raises for a failed run: the record says how it ended.

    Raises InvalidInputError only when ``pipeline_name`` is not in the project. A run still
    going after ``timeout_seconds`` is stopped like a cancel and recorded as failed, timed out.
    An incremental pipeline reads from, and advances, its watermark in ``watermarks`` (default:
    the state database beside ``store``), only after the target committed.
    """
    pipeline = project.pipeline(pipeline_name)
    use_lean_memory_pool()
    report = report or ignore
    cancel = cancel or threading.Event()
    own_store = store is None
    store = store or open_run_store(project.state_database, project_dir)
    record = RunRecord(pipeline=pipeline.name, trigger=trigger, params=dict(params or {}))
    if run_id:
        record.run_id = run_id
    store.save_run(record)
    logger = run_logger(pipeline.name)
    handler = RunLogHandler(record.run_id, pipeline.name, report, store)
    logger.addHandler(handler)
    pool = ConnectionPool(project, project_dir)
    context = RunContext(project_dir=project_dir, connections=pool, params=dict(params or {}), cancel=cancel, logger=logger)
    if watermarks is None and pipeline.incremental is not None:
        watermarks = watermark_store_for(store)
    attempt = _Attempt(project, record, context, store, report, limit, watermarks)
    timed_out = threading.Event()
    timer: threading.Timer | None = None
    if timeout_seconds is not None:
        def time_is_up() -> None:
            timed_out.set()
            cancel.set()

        timer = threading.Timer(timeout_seconds, time_is_up)
        timer.daemon = True
        timer.start()
    try:
        record.move_to(RunStatus.RUNNING)
        store.save_run(record)
        logger.info("run %s of '%s' started (trigger: %s)", record.run_id[:8], pipeline.name, trigger)

        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            logger.warning("attempt %d failed: %s; retrying in %.0f s", state.attempt_number, exc, state.upcoming_sleep)

        def cancellable_sleep(seconds: float) -> None:
            if cancel.wait(seconds):
                raise RunCancelled("the run was cancelled")

        retrying = Retrying(
            retry=retry_if_exception_type(TransientError),
            stop=stop_after_attempt(pipeline.retries + 1),
            wait=wait_exponential(multiplier=RETRY_BASE_SECONDS, max=RETRY_MAX_SECONDS),
            sleep=cancellable_sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        for try_ in retrying:
            with try_:
                try:
                    attempt.execute()
                except Exception as exc:
                    raise classify(exc) from exc
        record.move_to(RunStatus.SUCCEEDED)
        logger.info("run finished: %d read, %d quarantined, %d loaded", record.rows_read, record.rows_quarantined, record.rows_loaded)
    except RunCancelled:
        if timed_out.is_set():
            record.error_kind = "timeout"
            record.move_to(RunStatus.FAILED, error=f"timed out after {timeout_seconds:g} s; the target was left as it was")
            logger.error("run %s", record.error)
        else:
            record.move_to(RunStatus.CANCELLED, error="cancelled by the user; the target was left as it was")
            logger.warning("run cancelled; the target was left as it was")
    except InvalidInputError as exc:
        record.error_kind = "invalid_input"
        record.move_to(RunStatus.FAILED, error=mask_secrets(str(exc)))
        logger.error("run failed: %s", record.error)
    except EtlError as exc:
        record.error_kind = type(exc).__name__
        record.move_to(RunStatus.FAILED, error=mask_secrets(str(exc)))
        logger.error("run failed: %s", record.error)
    except Exception as exc:  # noqa: BLE001 - a bug must still end the run as failed, with the traceback in the log
        record.error_kind = "internal"
        record.move_to(RunStatus.FAILED, error=mask_secrets(f"internal error: {type(exc).__name__}: {exc}"))
        logger.error("run failed: %s", record.error)
        logger.debug("%s", traceback.format_exc())
    finally:
        if timer is not None:
            timer.cancel()
        store.save_rule_results(attempt.rule_results)
        store.save_run(record)
        handler.flush()
        logger.removeHandler(handler)
        pool.dispose()
        if own_store and hasattr(store, "dispose"):
            store.dispose()  # type: ignore[union-attr]
    report(RunFinished(record))
    return record

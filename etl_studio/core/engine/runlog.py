"""A run's log: standard logging records of the run's logger, turned into RunLogLines for the GUI and the store."""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timezone

from etl_studio.core.context import mask_secrets
from etl_studio.core.engine.events import Report, RunLogLine

FLUSH_EVERY = 200  # lines; the store is written in batches, never per line


class RunLogHandler(logging.Handler):
    def __init__(self, run_id: str, pipeline: str, report: Report, store: object) -> None:
        super().__init__(logging.DEBUG)
        self.run_id, self.pipeline, self.report, self.store = run_id, pipeline, report, store
        self._buffer: list[RunLogLine] = []
        self._buffer_lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = mask_secrets(record.getMessage())
        except Exception:  # noqa: BLE001 - a bad log call must not break a run
            message = str(record.msg)
        line = RunLogLine(self.run_id, self.pipeline, datetime.fromtimestamp(record.created, timezone.utc), record.levelname, message)
        self.report(line)
        with self._buffer_lock:
            self._buffer.append(line)
            full = len(self._buffer) >= FLUSH_EVERY
        if full:
            self.flush()

    def flush(self) -> None:
        with self._buffer_lock:
            lines, self._buffer = self._buffer, []
        if lines:
            self.store.add_logs(lines)  # type: ignore[attr-defined]


def run_logger(pipeline: str) -> logging.Logger:
    """One logger per pipeline: a pipeline never runs twice at once, so its handler sees only its run."""
    logger = logging.getLogger(f"etl_studio.run.{pipeline}")
    logger.setLevel(logging.DEBUG)
    return logger

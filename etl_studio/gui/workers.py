"""Workers: preview, run, connection tests and reflection off the GUI thread, reporting via signals."""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, Signal


class WorkerSignals(QObject):
    """A QRunnable is not a QObject, so its signals live here (queued to the GUI thread)."""

    event = Signal(object)  # RunStarted / RunProgress / RunLogLine / RunFinished from core
    result = Signal(object)
    error = Signal(str)  # one line for the user; the traceback goes to the log file
    finished = Signal()


class Worker(QRunnable):
    """Runs ``fn(report=..., cancel=...)`` in the thread pool.

    ``fn`` is a core function (run_pipeline, preview_pipeline, test_connection ...)
    partially applied with its arguments; ``report`` is the event signal's emit.
    """

    def __init__(self, fn: Callable[..., Any], *, wants_report: bool = True, wants_cancel: bool = True) -> None:
        super().__init__()
        self.setAutoDelete(False)  # the owner keeps it to cancel it
        self.fn = fn
        self.signals = WorkerSignals()
        self.cancel_event = threading.Event()
        self._wants_report = wants_report
        self._wants_cancel = wants_cancel

    def cancel(self) -> None:
        self.cancel_event.set()

    def run(self) -> None:
        kwargs: dict[str, Any] = {}
        if self._wants_report:
            kwargs["report"] = self.signals.event.emit
        if self._wants_cancel:
            kwargs["cancel"] = self.cancel_event
        try:
            value = self.fn(**kwargs)
        except Exception as exc:  # noqa: BLE001 - every failure must reach the user as a message
            import logging

            logging.getLogger("etl_studio.gui").debug("worker failed:\n%s", traceback.format_exc())
            self.signals.error.emit(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        else:
            self.signals.result.emit(value)
        finally:
            self.signals.finished.emit()

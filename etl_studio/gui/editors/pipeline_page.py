"""PipelinePage: the base of the pipeline editor's tabs — shows one pipeline, edits it by snapshot."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QThreadPool
from PySide6.QtWidgets import QWidget

from etl_studio.core.project.models import Pipeline
from etl_studio.gui.project_document import ProjectDocument
from etl_studio.gui.workers import Worker


class WorkerSlot(QObject):
    """Runs one background call at a time for a page; a newer call makes older results stale."""

    def __init__(self, parent: QObject) -> None:
        super().__init__(parent)
        self._generation = 0
        self._keep: list[Worker] = []  # a QRunnable must outlive its run()

    def start(self, fn: Callable[[], Any], on_result: Callable[[Any], None], on_error: Callable[[str], None]) -> None:
        self._generation += 1
        generation = self._generation
        worker = Worker(fn, wants_report=False, wants_cancel=False)
        worker.signals.result.connect(lambda value: self._deliver(generation, on_result, value))
        worker.signals.error.connect(lambda message: self._deliver(generation, on_error, message))
        worker.signals.finished.connect(lambda: self._retire(worker))
        self._keep.append(worker)
        QThreadPool.globalInstance().start(worker)

    def _deliver(self, generation: int, callback: Callable[[Any], None], value: Any) -> None:
        # The page may be gone (another project was opened) by the time a result arrives.
        if shiboken6.isValid(self) and generation == self._generation:
            callback(value)

    def _retire(self, worker: Worker) -> None:
        # Dropped one finish later, when its thread has certainly left run().
        self._keep = [w for w in self._keep[-4:] if w is not worker] + [worker]

    def cancel(self) -> None:
        self._generation += 1


class PipelinePage(QWidget):
    """Subclasses implement ``reload()`` (show the pipeline) and edit through ``edit()``."""

    def __init__(self, document: ProjectDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.pipeline_name: str | None = None
        document.changed.connect(self._document_changed)

    def set_pipeline(self, name: str | None) -> None:
        self.pipeline_name = name
        self.reload()

    def pipeline(self) -> Pipeline | None:
        return self.document.find_pipeline(self.pipeline_name)

    def edit(self, pipeline: Pipeline, text: str, merge_key: str | None = None) -> None:
        assert self.pipeline_name is not None
        self.document.replace_pipeline(self.pipeline_name, pipeline, text, merge_key)

    def _document_changed(self) -> None:
        if self.pipeline_name is not None and self.pipeline() is None:
            self.pipeline_name = None  # renamed or deleted; the window selects another
        self.reload()

    def reload(self) -> None:
        raise NotImplementedError

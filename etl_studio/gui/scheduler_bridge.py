"""SchedulerBridge: the app's scheduler on/off switch — owns the core SchedulerService and relays its runs as Qt signals."""

from __future__ import annotations

import logging
import threading
from datetime import datetime

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QApplication, QSystemTrayIcon

from etl_studio.core.engine.events import RunEvent, RunFinished
from etl_studio.core.errors import EtlError
from etl_studio.core.history.records import RunStatus
from etl_studio.core.project import load_project
from etl_studio.core.scheduling import SchedulerService
from etl_studio.gui.project_document import ProjectDocument

log = logging.getLogger("etl_studio.gui")
TRAY_MESSAGE_MS = 10_000


class SchedulerBridge(QObject):
    """Start/stop the project's schedules inside the app; listen to ``event`` like RunController's.

    Runs happen in APScheduler's worker threads; their events arrive here through a
    queued signal, so every signal of this object is emitted in the GUI thread.
    """

    event = Signal(object)  # RunStarted / RunProgress / RunLogLine / RunFinished of scheduled runs
    runningChanged = Signal(bool)  # the switch: on / off
    refused = Signal(str)  # why the scheduler did not start (another one holds the project, not saved ...)
    notified = Signal(str, str)  # title, text: a scheduled run failed (also shown as a desktop notification)
    nextRunsChanged = Signal()  # the "next run" column should be read again
    _from_worker = Signal(object)
    _stop_done = Signal()

    def __init__(self, document: ProjectDocument, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self._service: SchedulerService | None = None
        self._stopper: threading.Thread | None = None
        self._tray: QSystemTrayIcon | None = None
        self._from_worker.connect(self._deliver, Qt.ConnectionType.QueuedConnection)
        self._stop_done.connect(self.nextRunsChanged, Qt.ConnectionType.QueuedConnection)
        self._connect_document()

    # -- the project
    def _connect_document(self) -> None:
        self.document.undo_stack.cleanChanged.connect(self._saved)

    def set_document(self, document: ProjectDocument) -> None:
        """Another project was opened: the old one's schedules stop (running runs finish first)."""
        self.stop(wait=True)
        try:
            self.document.undo_stack.cleanChanged.disconnect(self._saved)
        except (RuntimeError, TypeError):
            pass
        self.document = document
        self._connect_document()
        self.nextRunsChanged.emit()

    def _saved(self, clean: bool) -> None:
        # The file is the truth: the schedules follow the project when it is saved, not while it is edited.
        if clean and self._service is not None and self.document.path is not None:
            try:
                self._service.reload(load_project(self.document.path))
            except EtlError as exc:
                self.refused.emit(f"the saved project's schedules could not be loaded: {exc}")
            self.nextRunsChanged.emit()

    # -- the switch
    def is_running(self) -> bool:
        return self._service is not None

    def set_running(self, on: bool) -> None:
        """For a checkable QAction's ``toggled``."""
        if on:
            self.start()
        else:
            self.stop()

    def start(self) -> bool:
        """Start running the saved project's schedules; False (and ``refused``) when it cannot."""
        if self._service is not None:
            return True
        if self.document.path is None:
            self.refused.emit("save the project first: schedules run from the project file")
            self.runningChanged.emit(False)
            return False
        if self._stopper is not None:
            self._stopper.join()  # the previous scheduler still holds the lock until its runs end
            self._stopper = None
        try:
            service = SchedulerService(load_project(self.document.path), self.document.project_dir, owner="app")
            service.add_listener(self._from_worker.emit)
            service.start()
        except EtlError as exc:  # SchedulerLocked says who holds the project
            self.refused.emit(str(exc))
            self.runningChanged.emit(False)
            return False
        self._service = service
        self.runningChanged.emit(True)
        self.nextRunsChanged.emit()
        return True

    def stop(self, *, cancel_running: bool = False, wait: bool = False) -> None:
        """No new runs start at once; running ones finish (or are cancelled) in the background unless ``wait``."""
        service, self._service = self._service, None
        if service is None:
            return
        if wait:
            service.stop(cancel_running=cancel_running)
        else:
            def stop_in_background() -> None:
                service.stop(cancel_running=cancel_running)
                self._stop_done.emit()

            self._stopper = threading.Thread(target=stop_in_background, name="scheduler-stop", daemon=True)
            self._stopper.start()
        self.runningChanged.emit(False)
        self.nextRunsChanged.emit()

    def shutdown(self) -> None:
        """Closing the app: cancel running scheduled runs (they roll back) and wait for them."""
        self.stop(cancel_running=True, wait=True)
        if self._stopper is not None:
            self._stopper.join()
            self._stopper = None

    # -- queries and commands
    def next_run_time(self, pipeline: str) -> datetime | None:
        return self._service.next_run_time(pipeline) if self._service is not None else None

    def running_pipelines(self) -> list[str]:
        return self._service.running_pipelines() if self._service is not None else []

    def run_now(self, pipeline: str) -> None:
        """Run a pipeline through the scheduler (upstream first), e.g. from a 'Run now' menu item."""
        if self._service is None:
            self.refused.emit("the scheduler is off")
            return
        self._service.run_now(pipeline)

    def cancel(self, pipeline: str) -> bool:
        return self._service.cancel(pipeline) if self._service is not None else False

    # -- events from worker threads (delivered here in the GUI thread)
    def _deliver(self, event: RunEvent) -> None:
        self.event.emit(event)
        if isinstance(event, RunFinished):
            self.nextRunsChanged.emit()
            record = event.record
            if record.status in (RunStatus.FAILED, RunStatus.INTERRUPTED):
                title = f"'{record.pipeline}' {record.status.value}"
                text = f"{record.trigger} run: {record.error or 'no details'}"
                self.notified.emit(title, text)
                self._desktop_notification(title, text)

    def _desktop_notification(self, title: str, text: str) -> None:
        if not QSystemTrayIcon.isSystemTrayAvailable():
            return
        if self._tray is None:
            app = QApplication.instance()
            icon = app.windowIcon() if isinstance(app, QApplication) else None
            self._tray = QSystemTrayIcon(icon, self) if icon is not None else QSystemTrayIcon(self)
            self._tray.setToolTip("ETL Studio scheduler")
            self._tray.show()
        self._tray.showMessage(title, text, QSystemTrayIcon.MessageIcon.Warning, TRAY_MESSAGE_MS)

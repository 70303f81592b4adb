"""Renders the main window with a project (the demo by default) to PNG files: mapping, preview, history, log.

The project is copied to a temporary folder first: the runs write a warehouse and a state
database, and neither the demo nor the analyst's own project may change by being pictured.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEventLoop, QPoint, QRect, QSettings, Qt, QTimer
from PySide6.QtGui import QColor, QPainter, QPixmap
from PySide6.QtWidgets import QApplication, QDialog, QWidget

from etl_studio.bundled import DEMO_PROJECT

WINDOW_SIZE = (1440, 900)
WAIT_MS = 60_000


class ScreenshotError(RuntimeError):
    pass


def wait_for(signal: Any, timeout_ms: int = WAIT_MS, until: Callable[[], bool] | None = None) -> Any:
    """Run the event loop until ``signal`` fires (and ``until()`` holds); return the signal's arguments."""
    loop = QEventLoop()
    received: list[Any] = []

    def on_signal(*args: Any) -> None:
        received.append(args)
        if until is None or until():
            loop.quit()

    signal.connect(on_signal)
    timer = QTimer()
    timer.setSingleShot(True)
    timer.timeout.connect(loop.quit)
    timer.start(timeout_ms)
    try:
        if until is None or not until():
            loop.exec()
    finally:
        signal.disconnect(on_signal)
    if until is not None and not until():
        raise ScreenshotError(f"timed out after {timeout_ms / 1000:.0f} s waiting for {signal}")
    if until is None and not received:
        raise ScreenshotError(f"timed out after {timeout_ms / 1000:.0f} s waiting for {signal}")
    return received[-1] if received else None


def wait_until(predicate: Callable[[], bool], what: str, timeout_ms: int = WAIT_MS) -> None:
    """Keep the event loop running until ``predicate()`` holds, looking every 50 ms."""
    loop = QEventLoop()
    poll = QTimer()
    poll.setInterval(50)
    poll.timeout.connect(lambda: predicate() and loop.quit())
    QTimer.singleShot(timeout_ms, loop.quit)
    if not predicate():
        poll.start()
        loop.exec()
        poll.stop()
    if not predicate():
        raise ScreenshotError(f"timed out after {timeout_ms / 1000:.0f} s waiting for {what}")


def settle(ms: int = 150) -> None:
    """Let queued paints and layout passes happen (timers, not sleeps: the event loop keeps running)."""
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def copy_project(project_path: Path, into: Path) -> Path:
    """The project file and the data files beside it, without its state folder or earlier outputs."""
    source_dir = project_path.parent
    for item in source_dir.iterdir():
        if item.name.startswith(".") or item.suffix in (".db", ".sqlite", ".bak") or item.name.endswith("-wal"):
            continue  # state, warehouse and backups: the pictures show a fresh start
        if item.is_file():
            shutil.copy2(item, into / item.name)
        elif item.is_dir():
            shutil.copytree(item, into / item.name)
    return into / project_path.name


def _with_dialog(window: QWidget, dialog: QDialog) -> QPixmap:
    """The window with the dialog drawn over its upper right part (the docks below stay visible)."""
    picture = window.grab()
    shot = dialog.grab()
    painter = QPainter(picture)
    x = max(0, picture.width() - shot.width() - 30)
    y = 70
    for spread, alpha in ((10, 18), (6, 28), (3, 40)):
        painter.fillRect(QRect(x - spread + 4, y - spread + 6, shot.width() + 2 * spread, shot.height() + 2 * spread), QColor(0, 0, 0, alpha))
    painter.drawPixmap(QPoint(x, y), shot)
    painter.setPen(QColor("#8c959f"))
    painter.drawRect(QRect(x, y, shot.width() - 1, shot.height() - 1))
    painter.end()
    return picture


def render_screenshots(outdir: Path, project_path: Path | None = None) -> list[Path]:
    """mapping.png, preview.png, history.png and log.png in ``outdir``; the demo project by default."""
    from etl_studio.gui.main_window import MainWindow
    from etl_studio.gui.project_document import ProjectDocument

    app = QApplication.instance() or QApplication([])
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    project_path = Path(project_path or DEMO_PROJECT).resolve()
    if not project_path.is_file():
        raise ScreenshotError(f"no project file at {project_path}")

    with tempfile.TemporaryDirectory(prefix="etl-studio-screenshots-") as scratch:
        scratch_dir = Path(scratch)
        (scratch_dir / "project").mkdir()
        copy = copy_project(project_path, scratch_dir / "project")
        settings = QSettings(str(scratch_dir / "settings.ini"), QSettings.Format.IniFormat)
        document = ProjectDocument.open(copy)
        window = MainWindow(document, settings, check_connections=False)
        written: list[Path] = []
        try:
            window.resize(*WINDOW_SIZE)
            window.show()
            written += _take_all(app, window, outdir)
        finally:
            window.run_controller.stop()
            window.run_controller.wait_for_all(30_000)
            for dialog in window.findChildren(QDialog):
                dialog.close()
            # hide, not close: closing asks about unsaved edits and running pipelines
            window.hide()
            settle(50)  # the finished runs' signals arrive before the window goes
            window.deleteLater()
            settle(50)
    return written


def _pipeline_to_show(window: Any) -> str:
    pipelines = window.document.project.pipelines
    if not pipelines:
        raise ScreenshotError("the project has no pipeline to show")
    # The last pipeline is usually the one the others feed: the richest to look at.
    return pipelines[-1].name


def _take_all(app: Any, window: Any, outdir: Path) -> list[Path]:
    written = []
    name = _pipeline_to_show(window)
    mapping = window.pipeline_editor.mapping_panel
    preview = window.panels["preview"]
    history = window.panels["history"]

    # 1. The mapping editor with its lines and an expression column selected.
    preview_done = _expect(preview.previewFinished, preview.previewFailed)
    window.select_pipeline(name)
    window.pipeline_editor.show_tab("mapping")
    if not mapping.source_model.rowCount():
        wait_for(mapping.sourceColumnsLoaded)
    expressions = [c for c in mapping.target_model.target_columns() if c.expr]
    if expressions:
        mapping.select_target(max(expressions, key=lambda c: len(c.expr or "")).name)
        mapping.target_view.scrollToTop()
    window.resizeDocks([window.docks["preview"]], [200], Qt.Orientation.Vertical)
    settle()
    written.append(_save(window.grab(), outdir / "mapping.png"))

    # 2. The preview, tall, with a column that breaks a rule profiled.
    window.docks["preview"].show()
    window.docks["preview"].raise_()
    if preview.result is None:
        preview_done.wait()
    window.resizeDocks([window.docks["preview"]], [560], Qt.Orientation.Vertical)
    _profile_a_broken_column(preview)
    settle()
    written.append(_save(window.grab(), outdir / "preview.png"))

    # 3. Two runs of every pipeline with the real engine, then the history with a run's details.
    finished: list[str] = []
    window.run_controller.runFinished.connect(lambda pipeline, _record: finished.append(pipeline))
    # A pipeline skipped because the one it depends on failed never finishes: count it as done.
    window.run_controller.runRefused.connect(lambda pipeline, _why: pipeline and finished.append(pipeline))
    pipelines = len(window.document.project.pipelines)
    for round_ in (1, 2):
        if not window.run_all():
            raise ScreenshotError("no pipeline could be started (see the status bar)")
        wait_until(lambda r=round_: len(finished) >= r * pipelines and not window.run_controller.is_running(),
                   f"run {round_} of the pipelines")
    window.docks["history"].show()
    window.docks["history"].raise_()
    wait_for(history.historyLoaded, until=lambda: history.model.rowCount() >= 2 * len(window.document.project.pipelines)
             and all(r.status.is_final for r in history.model.runs()))
    window.resizeDocks([window.docks["history"]], [400], Qt.Orientation.Vertical)
    history.pipeline_combo.setCurrentIndex(0)  # every pipeline's runs; the chart follows the selected run
    latest = max((r for r in history.model.runs() if r.pipeline == name), key=lambda r: r.created_at)
    history.select_run(latest.run_id)
    dialog = history.open_details(latest.run_id)
    if dialog is None:
        raise ScreenshotError("the run history did not list the run just made")
    if dialog.details is None:
        wait_for(dialog.loaded)
    quarantine_tab = 2 if dialog.details is not None and len(dialog.details.quarantined) else 1
    dialog.tabs.setCurrentIndex(quarantine_tab)
    dialog.resize(860, 400)
    settle()
    written.append(_save(_with_dialog(window, dialog), outdir / "history.png"))
    dialog.close()

    # 4. The log of those runs.
    log = window.panels["log"]
    log.flush()
    log.level_combo.setCurrentIndex(0)  # every level, so that the colours show
    window.docks["log"].show()
    window.docks["log"].raise_()
    window.resizeDocks([window.docks["log"]], [430], Qt.Orientation.Vertical)
    log.view.scrollToBottom()
    settle()
    written.append(_save(window.grab(), outdir / "log.png"))
    return written


class _expect:
    """Remembers whether one of some signals fired, from now on (so a fast signal is not missed)."""

    def __init__(self, *signals: Any) -> None:
        self.fired = False
        self.signals = signals
        for signal in signals:
            signal.connect(self._fire)

    def _fire(self, *_args: Any) -> None:
        self.fired = True

    def wait(self, timeout_ms: int = WAIT_MS) -> None:
        if self.fired:
            return
        loop = QEventLoop()
        for signal in self.signals:
            signal.connect(loop.quit)
        QTimer.singleShot(timeout_ms, loop.quit)
        loop.exec()
        if not self.fired:
            raise ScreenshotError("timed out waiting for the preview")


def _profile_a_broken_column(preview: Any) -> None:
    model = preview.transformed_model
    columns = [str(c) for c in model.frame.columns]
    result = preview.result
    broken = [v.column for v in (result.violations if result is not None else []) if v.column in columns]
    column = broken[0] if broken else (columns[0] if columns else None)
    if column is None:
        return
    preview.profile_column(preview.transformed_view, columns.index(column))
    if broken:
        violation = next(v for v in result.violations if v.column == column)
        row = model.row_of_label(violation.row)
        if row >= 0:
            index = model.index(row, columns.index(column))
            preview.transformed_view.scrollTo(index, preview.transformed_view.ScrollHint.PositionAtCenter)
            preview.transformed_view.horizontalScrollBar().setValue(0)  # keep the key columns in view


def _save(picture: QPixmap, path: Path) -> Path:
    if picture.isNull() or not picture.save(str(path), "PNG"):
        raise ScreenshotError(f"could not write {path}")
    return path

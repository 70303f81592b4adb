"""The log panel: live lines of every run, coloured by level, filtered, searchable; batched so runs stay fast."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QAbstractItemView, QComboBox, QHBoxLayout, QHeaderView, QLabel, QLineEdit, QToolButton, QVBoxLayout, QWidget

from etl_studio.core.engine.events import RunFinished, RunLogLine, RunStarted
from etl_studio.gui.project_document import ProjectDocument
from etl_studio.gui.qt_models.log import LogFilterModel, LogModel
from etl_studio.gui.widgets.column_views import PlaceholderTableView

# Lines arrive from a worker thread in bursts; the view takes them at most this often.
FLUSH_INTERVAL_MS = 100
LEVEL_CHOICES = (("All levels", "DEBUG"), ("Info and above", "INFO"), ("Warnings and errors", "WARNING"), ("Errors only", "ERROR"))
ALL_PIPELINES = "All pipelines"


class LogPanel(QWidget):
    linesAdded = Signal(int)  # after each flushed batch: how many lines it held

    def __init__(self, document: ProjectDocument, parent: QWidget | None = None, max_lines: int = 50_000) -> None:
        super().__init__(parent)
        self.setObjectName("logPanel")
        self.document = document
        self.pipeline_name: str | None = None
        self._buffer: list[RunLogLine] = []
        self._flush_timer = QTimer(self)
        self._flush_timer.setObjectName("logFlushTimer")
        self._flush_timer.setSingleShot(True)
        self._flush_timer.setInterval(FLUSH_INTERVAL_MS)
        self._flush_timer.timeout.connect(self.flush)

        self.model = LogModel(max_lines, self)
        self.proxy = LogFilterModel(self)
        self.proxy.setSourceModel(self.model)

        self.level_combo = QComboBox(self)
        self.level_combo.setObjectName("logLevelFilter")
        self.level_combo.setToolTip("Show lines at this level and above")
        for text, level in LEVEL_CHOICES:
            self.level_combo.addItem(text, level)
        self.level_combo.setCurrentIndex(1)
        self.level_combo.currentIndexChanged.connect(lambda _i: self._apply_filters())
        self.pipeline_combo = QComboBox(self)
        self.pipeline_combo.setObjectName("logPipelineFilter")
        self.pipeline_combo.setToolTip("Show the lines of one pipeline only")
        self.pipeline_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.pipeline_combo.currentIndexChanged.connect(lambda _i: self._apply_filters())
        self.search = QLineEdit(self)
        self.search.setObjectName("logSearch")
        self.search.setPlaceholderText("Search messages…")
        self.search.setClearButtonEnabled(True)
        self.search.setToolTip("Show only lines whose message contains this text (not case-sensitive)")
        self.search.textChanged.connect(lambda _t: self._apply_filters())

        self.copy_action = QAction("Copy", self)
        self.copy_action.setObjectName("logCopyAction")
        self.copy_action.setToolTip("Copy the selected lines, or every shown line if none is selected (Ctrl+C)")
        self.copy_action.setShortcut(QKeySequence.StandardKey.Copy)
        self.copy_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.copy_action.triggered.connect(self.copy)
        self.clear_action = QAction("Clear", self)
        self.clear_action.setObjectName("logClearAction")
        self.clear_action.setToolTip("Clear the panel (the run history keeps every run's log)")
        self.clear_action.triggered.connect(self.clear)
        self.follow_action = QAction("Follow", self)
        self.follow_action.setObjectName("logFollowAction")
        self.follow_action.setCheckable(True)
        self.follow_action.setChecked(True)
        self.follow_action.setToolTip("Keep the newest line in view while a run writes")
        self.addActions([self.copy_action, self.clear_action])

        self.count_label = QLabel(self)
        self.count_label.setObjectName("logCount")
        self.count_label.setStyleSheet("color: #57606a;")

        self.view = PlaceholderTableView(self)
        self.view.setObjectName("logView")
        self.view.setModel(self.proxy)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        # Fixed row heights: a 50,000-line log must not be measured line by line.
        self.view.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        header = self.view.horizontalHeader()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        mono = self.view.fontMetrics()
        self.view.setColumnWidth(LogModel.TIME, mono.horizontalAdvance("00:00:00.000") + 20)
        self.view.setColumnWidth(LogModel.LEVEL, mono.horizontalAdvance("WARNING") + 24)
        self.view.setColumnWidth(LogModel.PIPELINE, 110)
        self.view.set_placeholder("No log lines yet. Run a pipeline (Run ▶) and its log appears here as it goes.")
        self.view.addAction(self.copy_action)

        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(self.level_combo)
        bar.addWidget(self.pipeline_combo)
        bar.addWidget(self.search, 1)
        for action in (self.follow_action, self.copy_action, self.clear_action):
            button = QToolButton(self)
            button.setObjectName(action.objectName().replace("Action", "Button"))
            button.setDefaultAction(action)
            bar.addWidget(button)
        bar.addWidget(self.count_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(self.view, 1)

        self.model.rowsInserted.connect(self._after_insert)
        document.changed.connect(self._refresh_pipelines)
        self._refresh_pipelines()
        self._apply_filters()

    # -- the panel contract
    def set_pipeline(self, name: str | None) -> None:
        """Remembered for the pipeline filter's list; the log keeps showing every run."""
        self.pipeline_name = name

    def handle_event(self, event: Any) -> None:
        if isinstance(event, RunLogLine):
            self._buffer.append(event)
            if not self._flush_timer.isActive():
                self._flush_timer.start()
        elif isinstance(event, (RunStarted, RunFinished)):
            pipeline = event.pipeline if isinstance(event, RunStarted) else event.record.pipeline
            self._remember_pipeline(pipeline)

    def flush(self) -> None:
        if not self._buffer:
            return
        batch, self._buffer = self._buffer, []
        for pipeline in {line.pipeline for line in batch}:
            self._remember_pipeline(pipeline)
        self.model.append_lines(batch)
        self._update_count()
        self.linesAdded.emit(len(batch))

    def clear(self) -> None:
        self._buffer.clear()
        self.model.clear()
        self._update_count()

    def copy(self) -> str:
        rows = sorted({i.row() for i in self.view.selectionModel().selectedRows()}) or range(self.proxy.rowCount())
        lines = []
        for row in rows:
            source = self.proxy.mapToSource(self.proxy.index(row, 0)).row()
            line = self.model.line(source)
            lines.append(f"{line.time.isoformat(sep=' ', timespec='milliseconds')}\t{line.level}\t{line.pipeline}\t{line.message}")
        text = "\n".join(lines)
        QGuiApplication.clipboard().setText(text)
        return text

    # -- internals
    def _apply_filters(self) -> None:
        self.proxy.set_min_level(self.level_combo.currentData() or "DEBUG")
        pipeline = self.pipeline_combo.currentText()
        self.proxy.set_pipeline(None if pipeline == ALL_PIPELINES else pipeline)
        self.proxy.set_search(self.search.text())
        self._update_count()

    def _remember_pipeline(self, name: str) -> None:
        if self.pipeline_combo.findText(name) < 0:
            self.pipeline_combo.addItem(name)

    def _refresh_pipelines(self) -> None:
        current = self.pipeline_combo.currentText() or ALL_PIPELINES
        names = [p.name for p in self.document.project.pipelines]
        names += [n for n in self.model.pipelines() if n not in names]
        self.pipeline_combo.blockSignals(True)
        self.pipeline_combo.clear()
        self.pipeline_combo.addItems([ALL_PIPELINES, *names])
        self.pipeline_combo.setCurrentText(current if current in names else ALL_PIPELINES)
        self.pipeline_combo.blockSignals(False)

    def _after_insert(self, _parent: QModelIndex, _first: int, _last: int) -> None:
        if self.follow_action.isChecked():
            self.view.scrollToBottom()

    def _update_count(self) -> None:
        total, shown = self.model.rowCount(), self.proxy.rowCount()
        self.count_label.setText(f"{total:,} lines" if shown == total else f"{shown:,} of {total:,} lines")

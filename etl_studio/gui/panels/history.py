"""Run history: every run from the state database, its trend, and a dialog with one run's details."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd
from PySide6.QtCore import QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QSplitter,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from etl_studio.core.engine.events import RunFinished, RunStarted
from etl_studio.core.history import RuleResult, RunRecord, RunStatus, open_run_store
from etl_studio.gui.project_document import ProjectDocument
from etl_studio.gui.qt_models.dataframe import DataFrameModel
from etl_studio.gui.qt_models.log import LogModel
from etl_studio.gui.qt_models.run_history import (
    STATUS_COLOURS,
    RuleResultsModel,
    RunHistoryFilterModel,
    RunHistoryModel,
    format_duration,
    format_moment,
    status_icon,
)
from etl_studio.gui.widgets.charts import RunTrendChart
from etl_studio.gui.widgets.column_views import PlaceholderTableView
from etl_studio.gui.widgets import background
from etl_studio.gui.workers import Worker

ALL_PIPELINES = "All pipelines"
ALL_STATUSES = "Any status"
HISTORY_LIMIT = 500
# Several events (started, finished) arrive together; one reload answers them all.
RELOAD_DELAY_MS = 250


# --- reads in a worker thread ----------------------------------------------------------------


def read_runs(store: Any, state_database: str | None, project_dir: Path, limit: int = HISTORY_LIMIT) -> tuple[Any, list[RunRecord]]:
    """The store (opened here the first time: that creates the tables of a new state database) and its runs."""
    store = store or open_run_store(state_database, project_dir)
    return store, store.list_runs(limit=limit)


@dataclass
class RunDetails:
    record: RunRecord
    logs: list[Any]
    rules: list[RuleResult]
    quarantined: pd.DataFrame


def read_run_details(store: Any, run_id: str) -> RunDetails:
    record = store.get_run(run_id)
    if record is None:
        raise LookupError(f"run {run_id[:8]} is not in the state database any more")
    return RunDetails(record, store.logs(run_id), store.rule_results(run_id), store.quarantined(run_id))


def expand_quarantine(frame: pd.DataFrame) -> pd.DataFrame:
    """The stored ``values`` JSON spread into one column per field, beside row, rule and reason."""
    import json

    if frame.empty or "values" not in frame.columns:
        return frame
    values = pd.DataFrame([json.loads(v) if isinstance(v, str) else {} for v in frame["values"]], index=frame.index)
    out = frame.drop(columns=["values"]).rename(columns={"row": "Row", "rule": "Rule", "reason": "Reason"})
    return pd.concat([out, values], axis=1).set_index("Row")


# --- the details dialog ----------------------------------------------------------------------


class RunDetailsDialog(QDialog):
    """One run: summary and error, its log, per-rule results and quarantined rows; Re-run."""

    loaded = Signal()
    rerunRequested = Signal(str)

    def __init__(self, store: Any, record: RunRecord, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("runDetailsDialog")
        self.setWindowTitle(f"Run of {record.pipeline} — {format_moment(record.started_at or record.created_at)}")
        self.record = record
        self.details: RunDetails | None = None

        self.summary = QLabel(self)
        self.summary.setObjectName("runDetailsSummary")
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error = QPlainTextEdit(self)
        self.error.setObjectName("runDetailsError")
        self.error.setReadOnly(True)
        self.error.setMaximumHeight(80)
        self.error.setStyleSheet("QPlainTextEdit { color: #cf222e; background: #ffebe9; }")

        self.log_model = LogModel(parent=self)
        self.rules_model = RuleResultsModel(parent=self)
        self.quarantine_model = DataFrameModel(parent=self)
        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("runDetailsTabs")
        self.log_view = self._table("runDetailsLog", self.log_model, "Loading the log…")
        self.log_view.horizontalHeader().setStretchLastSection(True)
        self.rules_view = self._table("runDetailsRules", self.rules_model, "Loading the rule results…")
        self.quarantine_view = self._table("runDetailsQuarantine", self.quarantine_model, "Loading the quarantined rows…")
        self.quarantine_view.verticalHeader().setVisible(True)
        self.tabs.addTab(self.log_view, "Log")
        self.tabs.addTab(self.rules_view, "Quality rules")
        self.tabs.addTab(self.quarantine_view, "Quarantined rows")

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        self.buttons.setObjectName("runDetailsButtons")
        self.rerun_button = self.buttons.addButton("Re-run", QDialogButtonBox.ButtonRole.ActionRole)
        self.rerun_button.setObjectName("runDetailsRerun")
        self.rerun_button.setToolTip(f"Run {record.pipeline} again now")
        self.rerun_button.clicked.connect(lambda: self.rerunRequested.emit(record.pipeline))
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.error)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.buttons)
        self.resize(900, 560)
        self._show_summary(record)

        self._worker = Worker(partial(read_run_details, store, record.run_id), wants_report=False, wants_cancel=False)
        self._worker.signals.result.connect(self._loaded)
        self._worker.signals.error.connect(self._failed)
        background.start(self._worker)

    def _table(self, name: str, model: Any, placeholder: str) -> PlaceholderTableView:
        view = PlaceholderTableView(self)
        view.setObjectName(name)
        view.setModel(model)
        view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        view.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        view.set_placeholder(placeholder)
        return view

    def _show_summary(self, record: RunRecord) -> None:
        colour = STATUS_COLOURS[record.status].name()
        self.summary.setText(
            f"<b style='font-size:14px'>{record.pipeline}</b> &nbsp; <b style='color:{colour}'>{record.status.value}</b>"
            f" &nbsp; trigger: {record.trigger} &nbsp; run {record.run_id[:8]}<br>"
            f"Started {format_moment(record.started_at) or '—'} · finished {format_moment(record.finished_at) or '—'}"
            f" · took {format_duration(record.duration_seconds) or '—'}<br>"
            f"Rows read <b>{record.rows_read:,}</b> · quarantined <b>{record.rows_quarantined:,}</b>"
            f" · loaded <b>{record.rows_loaded:,}</b>"
        )
        self.error.setVisible(bool(record.error))
        self.error.setPlainText(record.error or "")

    def _loaded(self, details: RunDetails) -> None:
        self.details = details
        self._show_summary(details.record)
        self.log_model.append_lines(details.logs)
        self.log_view.resizeColumnToContents(0)
        self.log_view.set_placeholder("This run wrote no log lines.")
        self.rules_model.set_results(details.rules)
        self.rules_view.resizeColumnsToContents()
        self.rules_view.set_placeholder("The pipeline has no quality rules, or the run stopped before checking them.")
        self.quarantine_model.set_frame(expand_quarantine(details.quarantined))
        self.quarantine_view.resizeColumnsToContents()
        self.quarantine_view.set_placeholder("No row was quarantined in this run.")
        failed = sum(not r.passed for r in details.rules)
        self.tabs.setTabText(1, f"Quality rules ({failed} failed)" if failed else "Quality rules")
        self.tabs.setTabText(2, f"Quarantined rows ({len(details.quarantined):,})")
        self.loaded.emit()

    def _failed(self, message: str) -> None:
        for view in (self.log_view, self.rules_view, self.quarantine_view):
            view.set_placeholder(f"Cannot read the run's details: {message}")
        self.loaded.emit()


# --- the panel -------------------------------------------------------------------------------


class HistoryPanel(QWidget):
    rerunRequested = Signal(str)  # pipeline name
    historyLoaded = Signal(list)  # list[RunRecord], after each reload

    def __init__(self, document: ProjectDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("historyPanel")
        self.document = document
        self.pipeline_name: str | None = None
        self.dialogs: list[RunDetailsDialog] = []
        self._worker: Worker | None = None
        self._pending = False
        self._store: Any = None
        self._store_key: Any = None
        self._reload_timer = QTimer(self)
        self._reload_timer.setSingleShot(True)
        self._reload_timer.setInterval(RELOAD_DELAY_MS)
        self._reload_timer.timeout.connect(self.refresh)

        self.model = RunHistoryModel(self)
        self.proxy = RunHistoryFilterModel(self)
        self.proxy.setSourceModel(self.model)

        self.pipeline_combo = QComboBox(self)
        self.pipeline_combo.setObjectName("historyPipelineFilter")
        self.pipeline_combo.setToolTip("Show the runs of one pipeline")
        self.pipeline_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.pipeline_combo.currentIndexChanged.connect(lambda _i: self._apply_filters())
        self.status_combo = QComboBox(self)
        self.status_combo.setObjectName("historyStatusFilter")
        self.status_combo.setToolTip("Show runs with this status")
        self.status_combo.addItem(ALL_STATUSES, None)
        for status in RunStatus:
            self.status_combo.addItem(status_icon(status), status.value, status.value)
        self.status_combo.currentIndexChanged.connect(lambda _i: self._apply_filters())
        self.search = QLineEdit(self)
        self.search.setObjectName("historySearch")
        self.search.setPlaceholderText("Search pipeline, run id or error…")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(lambda _t: self._apply_filters())

        self.details_action = self._action("historyDetailsAction", "Details…", "Open the selected run's log, rule results and quarantined rows (Enter)", self.open_selected)
        self.rerun_action = self._action("historyRerunAction", "Re-run", "Run the selected run's pipeline again now", self.rerun_selected, "Ctrl+R")
        self.refresh_action = self._action("historyRefreshAction", "Refresh", "Read the run history again (Ctrl+R)", self.refresh, "Ctrl+R")

        self.view = PlaceholderTableView(self)
        self.view.setObjectName("historyView")
        self.view.setModel(self.proxy)
        self.view.setSortingEnabled(True)
        self.view.sortByColumn(RunHistoryModel.STARTED, Qt.SortOrder.DescendingOrder)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        header = self.view.horizontalHeader()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSortIndicatorShown(True)
        widths = (100, 100, 70, 135, 75, 75, 85, 70)
        for column, width in enumerate(widths):
            self.view.setColumnWidth(column, width)
        self.view.set_placeholder("No runs yet. Run a pipeline (Run ▶) and every run is listed here with its counts.")
        # activated: a double-click, or Enter on the keyboard (connecting doubleClicked too would open two dialogs)
        self.view.activated.connect(self._double_clicked)
        self.view.selectionModel().currentRowChanged.connect(lambda *_: self._update_chart())

        self.chart = RunTrendChart(self)
        self.status_label = QLabel(self)
        self.status_label.setObjectName("historyStatus")
        self.status_label.setStyleSheet("color: #57606a;")

        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(self.pipeline_combo)
        bar.addWidget(self.status_combo)
        bar.addWidget(self.search, 1)
        for action in (self.details_action, self.rerun_action, self.refresh_action):
            button = QToolButton(self)
            button.setObjectName(action.objectName().replace("Action", "Button"))
            button.setDefaultAction(action)
            bar.addWidget(button)
        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        splitter.setObjectName("historySplitter")
        splitter.addWidget(self.view)
        splitter.addWidget(self.chart)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setSizes([730, 350])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.status_label)

        document.changed.connect(self._refresh_pipelines)
        document.pathChanged.connect(self._path_changed)
        self._refresh_pipelines()
        self._update_actions()
        self.refresh()

    def _action(self, name: str, text: str, tip: str, slot: Any, shortcut: Any = None) -> QAction:
        action = QAction(text, self)
        action.setObjectName(name)
        action.setToolTip(tip)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    # -- the panel contract
    def set_pipeline(self, name: str | None) -> None:
        """Show that pipeline's runs (None: every pipeline's)."""
        self.pipeline_name = name
        self.pipeline_combo.setCurrentText(name if name and self.pipeline_combo.findText(name) >= 0 else ALL_PIPELINES)
        self._update_chart()

    def handle_event(self, event: Any) -> None:
        if isinstance(event, (RunStarted, RunFinished)):
            self._reload_timer.start()

    def refresh(self) -> None:
        if self._worker is not None:
            self._pending = True  # one read at a time; read again when this one is back
            return
        project = self.document.project
        key = (project.state_database, self.document.project_dir)
        if key != self._store_key:
            self._close_store()
            self._store_key = key
        worker = Worker(partial(read_runs, self._store, *key), wants_report=False, wants_cancel=False)
        # Bound methods, not lambdas: Qt drops the connection when the panel is destroyed.
        worker.signals.result.connect(self._runs_read)
        worker.signals.error.connect(self._read_failed)
        worker.signals.finished.connect(self._read_done)
        self._worker = worker
        background.start(worker)

    def _path_changed(self, _path: str) -> None:
        self.refresh()

    def _read_done(self) -> None:
        self._worker = None
        if self._pending:
            self._pending = False
            self.refresh()

    def _close_store(self) -> None:
        if self._store is not None and hasattr(self._store, "dispose"):
            self._store.dispose()
        self._store = None

    # -- reading
    def _runs_read(self, result: tuple[Any, list[RunRecord]]) -> None:
        self._store, runs = result
        self.view.set_placeholder("No runs yet. Run a pipeline (Run ▶) and every run is listed here with its counts.")
        selected = self.selected_run()
        self.model.set_runs(runs)
        self._refresh_pipelines()
        if selected is not None:
            self.select_run(selected.run_id)
        self._update_status()
        self._update_chart()
        self._update_actions()
        self.historyLoaded.emit(runs)

    def _read_failed(self, message: str) -> None:
        self.view.set_placeholder(f"Cannot read the run history: {message}")
        self.status_label.setText(f"Cannot read the state database: {message}")
        self.historyLoaded.emit([])

    # -- selection and actions
    def selected_run(self) -> RunRecord | None:
        index = self.view.currentIndex()
        if not index.isValid():
            return None
        return self.model.run(self.proxy.mapToSource(index).row())

    def select_run(self, run_id: str) -> bool:
        for row in range(self.proxy.rowCount()):
            index = self.proxy.index(row, 0)
            if self.model.run(self.proxy.mapToSource(index).row()).run_id == run_id:
                self.view.setCurrentIndex(index)
                self.view.selectRow(row)
                return True
        return False

    def open_details(self, run_id: str) -> RunDetailsDialog | None:
        record = next((r for r in self.model.runs() if r.run_id == run_id), None)
        if record is None or self._store is None:
            return None
        dialog = RunDetailsDialog(self._store, record, self)
        dialog.rerunRequested.connect(self.rerunRequested)
        dialog.finished.connect(lambda _r, d=dialog: self.dialogs.remove(d) if d in self.dialogs else None)
        self.dialogs.append(dialog)
        dialog.show()
        return dialog

    def open_selected(self) -> RunDetailsDialog | None:
        run = self.selected_run()
        return self.open_details(run.run_id) if run else None

    def rerun_selected(self) -> None:
        run = self.selected_run()
        pipeline = run.pipeline if run else self.pipeline_name
        if pipeline:
            self.rerunRequested.emit(pipeline)

    def _double_clicked(self, index: QModelIndex) -> None:
        if index.isValid():
            self.open_details(self.model.run(self.proxy.mapToSource(index).row()).run_id)

    # -- internals
    def _apply_filters(self) -> None:
        pipeline = self.pipeline_combo.currentText()
        self.proxy.set_pipeline(None if pipeline == ALL_PIPELINES else pipeline)
        self.proxy.set_status(self.status_combo.currentData())
        self.proxy.set_search(self.search.text())
        self._update_status()
        self._update_chart()
        self._update_actions()

    def _refresh_pipelines(self) -> None:
        current = self.pipeline_combo.currentText() or ALL_PIPELINES
        names = [p.name for p in self.document.project.pipelines]
        names += sorted({r.pipeline for r in self.model.runs()} - set(names))
        if [self.pipeline_combo.itemText(i) for i in range(self.pipeline_combo.count())] == [ALL_PIPELINES, *names]:
            return
        self.pipeline_combo.blockSignals(True)
        self.pipeline_combo.clear()
        self.pipeline_combo.addItems([ALL_PIPELINES, *names])
        self.pipeline_combo.setCurrentText(current if current in names else ALL_PIPELINES)
        self.pipeline_combo.blockSignals(False)

    def _chart_pipeline(self) -> str | None:
        run = self.selected_run()
        if run is not None:
            return run.pipeline
        pipeline = self.pipeline_combo.currentText()
        return pipeline if pipeline != ALL_PIPELINES else self.pipeline_name

    def _update_chart(self) -> None:
        pipeline = self._chart_pipeline()
        runs = [r for r in self.model.runs() if r.pipeline == pipeline]
        runs.sort(key=lambda r: r.started_at or r.created_at)
        self.chart.set_runs(pipeline, runs)
        self._update_actions()

    def _update_status(self) -> None:
        runs = self.model.runs()
        shown = self.proxy.rowCount()
        failed = sum(r.status is RunStatus.FAILED for r in runs)
        text = f"{len(runs):,} runs" if shown == len(runs) else f"{shown:,} of {len(runs):,} runs shown"
        if failed:
            text += f" · {failed} failed"
        self.status_label.setText(text + " · double-click a run for its details")

    def _update_actions(self) -> None:
        has_run = self.selected_run() is not None
        self.details_action.setEnabled(has_run)
        self.rerun_action.setEnabled(has_run or self.pipeline_name is not None)

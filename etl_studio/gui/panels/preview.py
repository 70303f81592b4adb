"""The preview: the first N rows raw and transformed side by side, broken rules highlighted, a column profile."""

from __future__ import annotations

import time
from functools import partial
from typing import Any

import pandas as pd
import shiboken6
from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from etl_studio.core.engine.profile import profile_column
from etl_studio.gui.project_document import ProjectDocument
from etl_studio.gui.qt_models.dataframe import DataFrameModel
from etl_studio.gui.qt_models.preview_table import PreviewTableModel
from etl_studio.gui.widgets.column_profile import ColumnProfileView
from etl_studio.gui.widgets.column_views import PlaceholderTableView
from etl_studio.gui.widgets import background
from etl_studio.gui.workers import Worker

DEFAULT_ROWS = 200
MAX_ROWS = 100_000
# Typing in the mapping fires an edit per keystroke; the preview waits for a pause.
DEBOUNCE_MS = 400
RULE_COLUMN, REASON_COLUMN = "__rule__", "__reason__"


def run_preview(project: Any, pipeline_name: str, project_dir: Any, rows: int, *, report: Any = None, cancel: Any = None) -> Any:
    from etl_studio.core.engine.preview import preview_pipeline

    return preview_pipeline(project, pipeline_name, project_dir=project_dir, rows=rows, cancel=cancel)


def quarantine_table(quarantined: pd.DataFrame) -> pd.DataFrame:
    """Rule and reason first, then the row's values; the index stays the source row number."""
    if quarantined is None or quarantined.empty:
        return pd.DataFrame(columns=["Rule", "Reason"])
    data = [c for c in quarantined.columns if c not in (RULE_COLUMN, REASON_COLUMN)]
    out = quarantined[[RULE_COLUMN, REASON_COLUMN, *data]].rename(columns={RULE_COLUMN: "Rule", REASON_COLUMN: "Reason"})
    return out


def rule_table(rule_counts: dict[str, int], severities: dict[str, str]) -> pd.DataFrame:
    rows = [(name, severities.get(name, ""), count, "passed" if not count else f"{count} row(s) fail") for name, count in rule_counts.items()]
    return pd.DataFrame(rows, columns=["Rule", "Severity", "Rows failing", "Result"])


class PreviewPanel(QWidget):
    previewFinished = Signal(object)  # PreviewResult
    previewFailed = Signal(str)
    previewStarted = Signal()

    def __init__(self, document: ProjectDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("previewPanel")
        self.document = document
        self.pipeline_name: str | None = None
        self.result: Any = None
        self._worker: Worker | None = None
        self._running: list[Worker] = []  # the current preview, for the destroyed hook
        self._started = 0.0
        self._stale = False
        self._last_inputs: Any = None
        self._debounce = QTimer(self)
        self._debounce.setObjectName("previewDebounce")
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(self.refresh)

        self.rows_spin = QSpinBox(self)
        self.rows_spin.setObjectName("previewRows")
        self.rows_spin.setRange(1, MAX_ROWS)
        self.rows_spin.setSingleStep(100)
        self.rows_spin.setValue(DEFAULT_ROWS)
        self.rows_spin.setPrefix("first ")
        self.rows_spin.setSuffix(" rows")
        self.rows_spin.setKeyboardTracking(False)
        self.rows_spin.setToolTip("How many source rows the preview reads (it never writes to the target)")
        self.rows_spin.valueChanged.connect(lambda _v: self.schedule_refresh())
        self.auto_check = QCheckBox("Refresh after each edit", self)
        self.auto_check.setObjectName("previewAutoRefresh")
        self.auto_check.setChecked(True)
        self.auto_check.setToolTip("Run the preview again shortly after every change to the pipeline")
        self.refresh_action = QAction("Refresh", self)
        self.refresh_action.setObjectName("previewRefreshAction")
        self.refresh_action.setToolTip("Run the preview now (Ctrl+Shift+P)")
        self.refresh_action.setShortcut(QKeySequence("Ctrl+Shift+P"))
        self.refresh_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.refresh_action.triggered.connect(self.refresh)
        self.addAction(self.refresh_action)
        refresh_button = QToolButton(self)
        refresh_button.setObjectName("previewRefreshButton")
        refresh_button.setDefaultAction(self.refresh_action)
        self.status = QLabel(self)
        self.status.setObjectName("previewStatus")
        self.status.setStyleSheet("color: #57606a;")
        self.problems = QLabel(self)
        self.problems.setObjectName("previewProblems")
        self.problems.setWordWrap(True)
        self.problems.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.problems.setStyleSheet("QLabel { color: #82071e; background: #ffebe9; border: 1px solid #ff8182; padding: 4px; }")
        self.problems.hide()

        self.raw_model = PreviewTableModel(parent=self)
        self.transformed_model = PreviewTableModel(parent=self)
        self.quarantine_model = DataFrameModel(parent=self)
        self.rules_model = DataFrameModel(parent=self)
        self.raw_view = self._table("previewRawView", self.raw_model)
        self.transformed_view = self._table("previewTransformedView", self.transformed_model)
        self.quarantine_view = self._table("previewQuarantineView", self.quarantine_model)
        self.rules_view = self._table("previewRulesView", self.rules_model)
        self.raw_view.setToolTip("Source rows as read; the row header is the source row number")
        self.transformed_view.setToolTip("Rows after the steps and the mapping; a red cell breaks a rule (hover it for the reason)")
        self.quarantine_view.set_placeholder("No row goes to quarantine in these rows.")
        self.rules_view.set_placeholder("The pipeline has no quality rules yet.")
        self.profile = ColumnProfileView(self)

        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(self.rows_spin)
        bar.addWidget(refresh_button)
        bar.addWidget(self.auto_check)
        bar.addStretch(1)
        bar.addWidget(self.status)

        tables = QSplitter(Qt.Orientation.Horizontal, self)
        tables.setObjectName("previewTablesSplitter")
        tables.addWidget(self._titled("Raw rows (source)", self.raw_view))
        tables.addWidget(self._titled("Transformed rows (what would load)", self.transformed_view))
        profile_scroll = QScrollArea(self)
        profile_scroll.setObjectName("columnProfileScroll")
        profile_scroll.setWidgetResizable(True)
        profile_scroll.setFrameShape(QFrame.Shape.NoFrame)
        profile_scroll.setWidget(self.profile)
        tables.addWidget(profile_scroll)
        tables.setStretchFactor(0, 4)
        tables.setStretchFactor(1, 5)
        tables.setStretchFactor(2, 2)
        tables.setSizes([420, 520, 260])
        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("previewTabs")
        self.tabs.addTab(self.quarantine_view, "Quarantined rows")
        self.tabs.addTab(self.rules_view, "Quality rules")
        body = QSplitter(Qt.Orientation.Vertical, self)
        body.setObjectName("previewBodySplitter")
        body.addWidget(tables)
        body.addWidget(self.tabs)
        body.setStretchFactor(0, 3)
        body.setStretchFactor(1, 1)
        body.setSizes([540, 170])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(self.problems)
        layout.addWidget(body, 1)

        for view in (self.raw_view, self.transformed_view):
            view.clicked.connect(partial(self._cell_clicked, view))
            view.horizontalHeader().sectionClicked.connect(partial(self._header_clicked, view))
            view.selectionModel().currentRowChanged.connect(partial(self._sync_rows, view))
        document.changed.connect(self._on_document_changed)
        # A deleted panel has no use for the preview still running: stop it. The hook holds the
        # list, not the panel, whose Python half must not be touched once Qt deleted it.
        self.destroyed.connect(partial(_cancel_all, self._running))
        self.set_pipeline(None)

    def _table(self, name: str, model: Any) -> PlaceholderTableView:
        view = PlaceholderTableView(self)
        view.setObjectName(name)
        view.setModel(model)
        view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectItems)
        view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        view.verticalHeader().setVisible(True)
        view.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        view.horizontalHeader().setSectionsClickable(True)
        view.setShowGrid(True)
        view.setStyleSheet("QTableView { gridline-color: #eaeef2; }")
        return view

    def _titled(self, title: str, widget: QWidget) -> QWidget:
        box = QWidget(self)
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        label = QLabel(title, box)
        label.setObjectName(f"{widget.objectName()}Title")
        label.setStyleSheet("color: #57606a; font-weight: 600;")
        layout.addWidget(label)
        layout.addWidget(widget, 1)
        return box

    # -- the panel contract
    def set_pipeline(self, name: str | None) -> None:
        self.pipeline_name = name
        self._last_inputs = None
        self._cancel()
        self._clear()
        if name is None:
            self.raw_view.set_placeholder("Select a pipeline in the project explorer to preview its first rows.")
            self.transformed_view.set_placeholder("The rows as they would load appear here, with broken rules in red.")
            self.status.setText("")
            self.refresh_action.setEnabled(False)
            return
        self.refresh_action.setEnabled(True)
        self.raw_view.set_placeholder("Reading the first rows…")
        self.transformed_view.set_placeholder("")
        self.schedule_refresh(immediately=True)

    def schedule_refresh(self, immediately: bool = False) -> None:
        if self.pipeline_name is None:
            return
        if not self.isVisible():
            self._stale = True  # a hidden panel previews when it is shown, not on every edit
            return
        if immediately:
            self._debounce.stop()
            self.refresh()
        else:
            self._debounce.start()

    def refresh(self) -> None:
        """Start a preview of the current pipeline, cancelling the one still running."""
        self._debounce.stop()
        if self.pipeline_name is None:
            return
        try:
            self.document.pipeline(self.pipeline_name)
        except Exception:  # noqa: BLE001 - renamed or removed: nothing to preview
            self.set_pipeline(None)
            return
        self._cancel()
        self._stale = False
        project = self.document.project
        self._last_inputs = (project.pipeline(self.pipeline_name), tuple(project.connections), self.rows_spin.value())
        worker = Worker(partial(run_preview, project, self.pipeline_name, self.document.project_dir, self.rows_spin.value()))
        # Bound methods, not lambdas: Qt drops the connection when the panel is destroyed.
        worker.signals.result.connect(self._finished)
        worker.signals.error.connect(self._failed)
        self._worker = worker
        self._running[:] = [worker]
        self._started = time.monotonic()
        self.status.setText("Running the preview…")
        self.previewStarted.emit()
        background.start(worker)

    # -- results
    def _cancel(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            self._worker = None
        self._running.clear()

    def _from_current_worker(self) -> bool:
        # A result may arrive after the panel was deleted (another project opened, the window
        # closed): its C++ half is gone, so nothing of it may be touched, sender() included.
        if not shiboken6.isValid(self):
            return False
        return self._worker is not None and self.sender() is self._worker.signals

    def _finished(self, result: Any) -> None:
        if not self._from_current_worker():
            return  # overtaken by a newer preview
        self._worker = None
        self._running.clear()
        self.result = result
        self._show(result)
        self.previewFinished.emit(result)

    def _failed(self, message: str) -> None:
        if not self._from_current_worker():
            return
        self._worker = None
        self._running.clear()
        self._show_problems([message])
        self.status.setText("The preview failed")
        self.previewFailed.emit(message)

    def _show(self, result: Any) -> None:
        pipeline = self.document.pipeline(self.pipeline_name) if self.pipeline_name else None
        warning_rules = {r.name for r in pipeline.rules if r.severity == "warning"} if pipeline else set()
        severities = {r.name: r.severity for r in pipeline.rules} if pipeline else {}
        target_to_source = {c.name: c.source for c in pipeline.mapping if c.source} if pipeline else {}
        quarantined = result.quarantined if result.quarantined is not None else pd.DataFrame()
        quarantined_rows = list(quarantined.index)
        self.raw_model.set_preview(result.raw, result.violations, quarantined_rows=quarantined_rows, warning_rules=warning_rules,
                                   column_alias={**{c: c for c in result.raw.columns}, **target_to_source})
        self.transformed_model.set_preview(result.transformed, result.violations, quarantined_rows=quarantined_rows, warning_rules=warning_rules)
        self.quarantine_model.set_frame(quarantine_table(quarantined))
        self.rules_model.set_frame(rule_table(result.rule_counts, severities))
        for view in (self.raw_view, self.transformed_view, self.quarantine_view, self.rules_view):
            _fit_columns(view)
        self.raw_view.set_placeholder("The source gave no rows.")
        self.transformed_view.set_placeholder("No row reaches the mapping (a step filters every row out).")
        self.tabs.setTabText(0, f"Quarantined rows ({len(quarantined):,})")
        failing = sum(1 for c in result.rule_counts.values() if c)
        self.tabs.setTabText(1, f"Quality rules ({failing} failing)" if failing else "Quality rules")
        self._show_problems(list(result.problems))
        elapsed = time.monotonic() - self._started
        cells = self.transformed_model.violation_count()
        self.status.setText(
            f"{len(result.raw):,} rows read · {len(result.transformed):,} transformed · "
            f"{len(quarantined):,} quarantined · {cells:,} rule violation{'s' if cells != 1 else ''} · {elapsed:.1f} s"
        )
        self._reprofile()

    def _show_problems(self, problems: list[str]) -> None:
        self.problems.setVisible(bool(problems))
        self.problems.setText("\n".join(f"⚠ {p}" for p in problems[:6]))

    def _clear(self) -> None:
        self.result = None
        for model in (self.raw_model, self.transformed_model):
            model.set_preview(pd.DataFrame())
        self.quarantine_model.set_frame(None)
        self.rules_model.set_frame(None)
        self.profile.show_profile(None, None)
        self._show_problems([])

    # -- the column profile
    def profile_column(self, view: PlaceholderTableView, column: int) -> None:
        model = view.model()
        if not isinstance(model, PreviewTableModel) or not 0 <= column < model.columnCount():
            return
        name = model.column_name(column)
        where = "raw" if view is self.raw_view else "transformed"
        self._profiled = (where, name)
        self.profile.show_profile(name, profile_column(model.frame[name]), where)

    def _reprofile(self) -> None:
        where, name = getattr(self, "_profiled", (None, None))
        view = self.raw_view if where == "raw" else self.transformed_view
        model = view.model()
        if isinstance(model, PreviewTableModel) and name in [str(c) for c in model.frame.columns]:
            self.profile_column(view, [str(c) for c in model.frame.columns].index(name))
        elif self.transformed_model.columnCount():
            self.profile_column(self.transformed_view, 0)

    def _cell_clicked(self, view: PlaceholderTableView, index: QModelIndex) -> None:
        if index.isValid():
            self.profile_column(view, index.column())

    def _header_clicked(self, view: PlaceholderTableView, section: int) -> None:
        self.profile_column(view, section)

    def _sync_rows(self, view: PlaceholderTableView, current: QModelIndex, _previous: QModelIndex) -> None:
        """Selecting a row on one side shows the same source row on the other."""
        if not current.isValid():
            return
        model = view.model()
        other = self.transformed_view if view is self.raw_view else self.raw_view
        other_model = other.model()
        assert isinstance(model, PreviewTableModel) and isinstance(other_model, PreviewTableModel)
        row = other_model.row_of_label(model.row_label(current.row()))
        if row < 0 or other.currentIndex().row() == row:
            return
        target = other_model.index(row, max(0, other.currentIndex().column()))
        other.selectionModel().blockSignals(True)
        other.selectionModel().setCurrentIndex(target, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        other.selectionModel().blockSignals(False)
        other.viewport().update()
        other.scrollTo(target)

    # -- following the document
    def _on_document_changed(self) -> None:
        if self.pipeline_name is None or not self.auto_check.isChecked():
            return
        try:
            pipeline = self.document.pipeline(self.pipeline_name)
        except Exception:  # noqa: BLE001
            self.set_pipeline(None)
            return
        inputs = (pipeline, tuple(self.document.project.connections), self.rows_spin.value())
        if inputs != self._last_inputs:  # edits of other pipelines do not change this preview
            self.schedule_refresh()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802
        super().showEvent(event)
        if self._stale:
            self.schedule_refresh(immediately=True)


def _cancel_all(workers: list[Worker], *_destroyed: Any) -> None:
    for worker in workers:
        worker.cancel()
    workers.clear()


def _fit_columns(view: PlaceholderTableView) -> None:
    # Measured on the first rows only: resizeColumnsToContents on 100,000 rows would stall.
    header = view.horizontalHeader()
    metrics = view.fontMetrics()
    model = view.model()
    for column in range(model.columnCount()):
        texts = [str(model.headerData(column, Qt.Orientation.Horizontal) or "")]
        texts += [str(model.index(row, column).data() or "") for row in range(min(50, model.rowCount()))]
        width = max(metrics.horizontalAdvance(t) for t in texts) + 18
        header.resizeSection(column, max(50, min(width, 260)))

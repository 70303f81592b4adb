"""The load plan dialog: what a run's load would do (insert, update, expire, delete ...), found in a worker, committing nothing."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QCloseEvent, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from etl_studio.core.engine.events import RunProgress
from etl_studio.core.engine.plan import PLAN_KINDS, LoadPlan, plan_pipeline
from etl_studio.core.project.models import Project
from etl_studio.gui.qt_models.dataframe import DataFrameModel
from etl_studio.gui.style import MARGIN, SPACING, colour, set_status, status_label
from etl_studio.gui.widgets import background
from etl_studio.gui.workers import Worker

KIND_TITLES = {
    "insert": ("Insert", "new rows added to the table"),
    "update": ("Update", "existing rows whose values change"),
    "expire": ("Expire", "current versions closed by a newer one (SCD type 2)"),
    "delete": ("Delete", "rows removed from the table"),
    "unchanged": ("Unchanged", "rows already in the table as they are: nothing happens"),
    "quarantine": ("Quarantine", "rows a quality rule stops; they are kept with the reason, not loaded"),
    "reject": ("Reject", "rows the database refuses (they would go to the dead-letter table)"),
}


def _run_plan(project: Project, name: str, project_dir: Path, *, report: Any = None, cancel: Any = None) -> LoadPlan:
    return plan_pipeline(project, name, project_dir=project_dir, report=report, cancel=cancel)


class PlanCountsModel(QAbstractTableModel):
    """One row per kind of change, in the order an analyst reads a plan."""

    HEADERS = ("Change", "Rows", "What it means")

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.counts: dict[str, int] = {}
        self.kinds: list[str] = list(PLAN_KINDS)

    def set_plan(self, plan: LoadPlan | None) -> None:
        self.beginResetModel()
        self.counts = dict(plan.counts) if plan is not None else {}
        extra = [k for k in self.counts if k not in PLAN_KINDS]  # kinds a newer engine may add
        self.kinds = list(PLAN_KINDS) + extra
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.kinds)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.HEADERS)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self.kinds):
            return None
        kind = self.kinds[index.row()]
        count = self.counts.get(kind, 0)
        title, meaning = KIND_TITLES.get(kind, (kind.capitalize(), ""))
        if role == Qt.ItemDataRole.DisplayRole:
            return (title, f"{count:,}", meaning)[index.column()]
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{title}: {meaning}"
        if role == Qt.ItemDataRole.UserRole:
            return count if index.column() == 1 else kind
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column() == 1:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ForegroundRole and not count:
            return QBrush(colour("muted"))
        if role == Qt.ItemDataRole.FontRole and count and index.column() < 2:
            font = QFont()
            font.setBold(True)
            return font
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole and 0 <= section < len(self.HEADERS):
            return self.HEADERS[section]
        return None


class PlanDialog(QDialog):
    """Opens at once with "Planning…"; the plan (or one line saying why it failed) fills it when ready."""

    planFinished = Signal(object)  # LoadPlan
    planFailed = Signal(str)

    def __init__(self, pipeline: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("planDialog")
        self.setWindowTitle(f"Load plan — {pipeline}")
        self.resize(900, 640)
        self.pipeline = pipeline
        self.plan: LoadPlan | None = None
        self.error: str | None = None
        self._worker: Worker | None = None

        layout = QVBoxLayout(self)
        layout.setContentsMargins(MARGIN, MARGIN, MARGIN, MARGIN)
        layout.setSpacing(SPACING)
        self.summary = QLabel(f"Planning the load of '{pipeline}': reading, transforming and checking the rows…", self)
        self.summary.setObjectName("planSummary")
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        font = self.summary.font()
        font.setPointSizeF(font.pointSizeF() * 1.15)
        font.setBold(True)
        self.summary.setFont(font)
        layout.addWidget(self.summary)
        self.details = QLabel(self)
        self.details.setObjectName("planDetails")
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details.hide()
        layout.addWidget(self.details)
        self.error_label = status_label("planError", self)
        layout.addWidget(self.error_label)

        busy = QHBoxLayout()
        self.progress = QProgressBar(self)
        self.progress.setObjectName("planProgress")
        self.progress.setRange(0, 0)
        self.progress.setTextVisible(False)
        busy.addWidget(self.progress, 1)
        self.cancel_button = QPushButton("Stop", self)
        self.cancel_button.setObjectName("planCancel")
        self.cancel_button.setToolTip("Stop planning; nothing was or will be committed")
        self.cancel_button.clicked.connect(self.cancel)
        busy.addWidget(self.cancel_button)
        layout.addLayout(busy)

        self.counts_model = PlanCountsModel(self)
        self.counts_view = QTableView(self)
        self.counts_view.setObjectName("planCounts")
        self.counts_view.setModel(self.counts_model)
        self.counts_view.verticalHeader().hide()
        self.counts_view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.counts_view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.counts_view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.counts_view.horizontalHeader().setStretchLastSection(True)
        self.counts_view.doubleClicked.connect(self._count_activated)
        rows = len(PLAN_KINDS) + 1
        self.counts_view.setFixedHeight(self.counts_view.verticalHeader().defaultSectionSize() * rows + 4)
        self.counts_view.hide()
        layout.addWidget(self.counts_view)

        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("planTabs")
        self.tabs.hide()
        layout.addWidget(self.tabs, 1)
        self.sql_text = QPlainTextEdit(self)
        self.sql_text.setObjectName("planSql")
        self.sql_text.setReadOnly(True)
        self.sql_text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.sample_views: dict[str, QTableView] = {}

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.setObjectName("planButtons")
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    # -- running
    def start(self, project: Project, project_dir: Path) -> Worker:
        """Plan ``project``'s pipeline (as edited, saved or not) in the thread pool."""
        worker = Worker(functools.partial(_run_plan, project, self.pipeline, project_dir))
        # Bound methods: Qt drops them if the dialog is gone before the plan is.
        worker.signals.event.connect(self._progress)
        worker.signals.result.connect(self._finished)
        worker.signals.error.connect(self._failed)
        self._worker = worker
        background.start(worker)
        return worker

    def is_running(self) -> bool:
        return self._worker is not None

    def cancel(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            self.summary.setText("Stopping…")

    def _progress(self, event: object) -> None:
        if isinstance(event, RunProgress) and self._worker is not None:
            self.summary.setText(f"Planning the load of '{self.pipeline}': {event.rows_done:,} rows read…")

    def _finished(self, plan: LoadPlan) -> None:
        self._worker = None
        self.show_plan(plan)
        self.planFinished.emit(plan)

    def _failed(self, message: str) -> None:
        self._worker = None
        self.error = message
        self._done_running()
        self.summary.setText(f"No plan for '{self.pipeline}': the run would fail before loading.")
        set_status(self.error_label, "error", message)
        self.planFailed.emit(message)

    def _done_running(self) -> None:
        self.progress.hide()
        self.cancel_button.hide()

    # -- showing
    def show_plan(self, plan: LoadPlan) -> None:
        self.plan = plan
        self._done_running()
        self.summary.setText(f"{plan.rows_read:,} row(s) read — the load would do: {plan.summary()}. Nothing was committed.")
        lines = []
        if plan.window:
            moved = f"; the watermark would move from {plan.watermark_from or 'none'} to {plan.watermark_to or 'none'}"
            lines.append(f"Incremental: {plan.window}{moved}.")
        lines += [f"Note: {note}" for note in plan.notes]
        self.details.setText("\n".join(lines))
        self.details.setVisible(bool(lines))
        if plan.already_loaded_by:
            set_status(self.error_label, "warning", f"This window was already loaded by run {plan.already_loaded_by[:8]}: a run would load nothing.")
        self.counts_model.set_plan(plan)
        self.counts_view.show()
        self.tabs.clear()
        self.sample_views.clear()
        for kind in self.counts_model.kinds:
            sample = plan.samples.get(kind)
            if sample is None or sample.empty:
                continue
            view = QTableView(self.tabs)
            view.setObjectName(f"planSample_{kind}")
            view.setModel(DataFrameModel(sample, view))
            view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
            view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
            title = KIND_TITLES.get(kind, (kind.capitalize(), ""))[0]
            shown = len(sample)
            total = plan.counts.get(kind, shown)
            label = f"{title} ({shown} of {total:,})" if total > shown else f"{title} ({shown})"
            self.tabs.addTab(view, label)
            self.tabs.setTabToolTip(self.tabs.count() - 1, f"A sample of the rows to {kind}: {KIND_TITLES.get(kind, ('', ''))[1]}")
            self.sample_views[kind] = view
        self.sql_text.setPlainText(plan.sql or "-- this target does not describe its statements")
        self.tabs.addTab(self.sql_text, "SQL")
        self.tabs.setTabToolTip(self.tabs.count() - 1, "The statements the load runs")
        self.tabs.show()

    def tab_titles(self) -> list[str]:
        return [self.tabs.tabText(i) for i in range(self.tabs.count())]

    def _count_activated(self, index: QModelIndex) -> None:
        kind = self.counts_model.data(index.siblingAtColumn(0), Qt.ItemDataRole.UserRole)
        view = self.sample_views.get(kind)
        if view is not None:
            self.tabs.setCurrentWidget(view)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        self.cancel()
        super().closeEvent(event)

    def reject(self) -> None:
        self.cancel()
        super().reject()


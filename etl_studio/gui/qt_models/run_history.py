"""Runs from the state database as a sortable, filterable table, and one run's rule results."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, QRectF, QSortFilterProxyModel, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QIcon, QPainter, QPen, QPixmap

from etl_studio.core.history import RuleResult, RunRecord, RunStatus

_Index = QModelIndex | QPersistentModelIndex
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
RUN_ID_ROLE = Qt.ItemDataRole.UserRole + 2

STATUS_COLOURS = {
    RunStatus.SUCCEEDED: QColor("#1a7f37"),
    RunStatus.FAILED: QColor("#cf222e"),
    RunStatus.RUNNING: QColor("#2f6feb"),
    RunStatus.QUEUED: QColor("#8a8f98"),
    RunStatus.CANCELLED: QColor("#6e7781"),
    RunStatus.INTERRUPTED: QColor("#bf8700"),
}
_STATUS_MARKS = {
    RunStatus.SUCCEEDED: "✓", RunStatus.FAILED: "✕", RunStatus.RUNNING: "▶",
    RunStatus.QUEUED: "…", RunStatus.CANCELLED: "■", RunStatus.INTERRUPTED: "!",
}
_icons: dict[RunStatus, QIcon] = {}


def status_icon(status: RunStatus) -> QIcon:
    """A filled circle in the status colour with a mark, drawn once per status (no image files)."""
    if status not in _icons:
        pixmap = QPixmap(32, 32)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(STATUS_COLOURS[status])
        painter.drawEllipse(QRectF(2, 2, 28, 28))
        painter.setPen(QPen(QColor("white")))
        font = QFont()
        font.setPixelSize(18)
        font.setBold(True)
        painter.setFont(font)
        painter.drawText(QRectF(0, 0, 32, 32), Qt.AlignmentFlag.AlignCenter, _STATUS_MARKS[status])
        painter.end()
        _icons[status] = QIcon(pixmap)
    return _icons[status]


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def format_moment(moment: datetime | None) -> str:
    if moment is None:
        return ""
    local = moment.astimezone() if moment.tzinfo is not None else moment
    return local.strftime("%Y-%m-%d %H:%M:%S")


class RunHistoryModel(QAbstractTableModel):
    STATUS, PIPELINE, TRIGGER, STARTED, DURATION, READ, QUARANTINED, LOADED = range(8)
    HEADERS = ("Status", "Pipeline", "Trigger", "Started", "Duration", "Rows read", "Quarantined", "Loaded")
    _NUMERIC = (4, 5, 6, 7)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._runs: list[RunRecord] = []

    def set_runs(self, runs: Sequence[RunRecord]) -> None:
        self.beginResetModel()
        self._runs = list(runs)
        self.endResetModel()

    def runs(self) -> list[RunRecord]:
        return list(self._runs)

    def run(self, row: int) -> RunRecord:
        return self._runs[row]

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._runs)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(self.HEADERS):
            if role == Qt.ItemDataRole.DisplayRole:
                return self.HEADERS[section]
            if role == Qt.ItemDataRole.TextAlignmentRole and section in self._NUMERIC:
                return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def flags(self, index: _Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._runs):
            return None
        run = self._runs[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(run, col)
        if role == SORT_ROLE:
            return self._sort_value(run, col)
        if role == Qt.ItemDataRole.DecorationRole and col == self.STATUS:
            return status_icon(run.status)
        if role == Qt.ItemDataRole.ForegroundRole:
            if col == self.STATUS:
                return QBrush(STATUS_COLOURS[run.status])
            if col == self.QUARANTINED and run.rows_quarantined:
                return QBrush(QColor("#9a6700"))
        if role == Qt.ItemDataRole.TextAlignmentRole and col in self._NUMERIC:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            lines = [f"Run {run.run_id[:8]} of {run.pipeline}: {run.status.value}", f"Started {format_moment(run.started_at) or 'not yet'}"]
            if run.error:
                lines.append(f"Error: {run.error}")
            lines.append("Double-click for the log, rule results and quarantined rows")
            return "\n".join(lines)
        if role == RUN_ID_ROLE:
            return run.run_id
        return None

    def _display(self, run: RunRecord, col: int) -> Any:
        if col == self.STATUS:
            return run.status.value
        if col == self.PIPELINE:
            return run.pipeline
        if col == self.TRIGGER:
            return run.trigger
        if col == self.STARTED:
            return format_moment(run.started_at or run.created_at)
        if col == self.DURATION:
            return format_duration(run.duration_seconds)
        if col == self.READ:
            return f"{run.rows_read:,}"
        if col == self.QUARANTINED:
            return f"{run.rows_quarantined:,}"
        if col == self.LOADED:
            return f"{run.rows_loaded:,}"
        return None

    def _sort_value(self, run: RunRecord, col: int) -> Any:
        if col == self.STARTED:
            return (run.started_at or run.created_at).timestamp()
        if col == self.DURATION:
            return run.duration_seconds or 0.0
        if col == self.READ:
            return run.rows_read
        if col == self.QUARANTINED:
            return run.rows_quarantined
        if col == self.LOADED:
            return run.rows_loaded
        return self._display(run, col)


class RunHistoryFilterModel(QSortFilterProxyModel):
    """Filters by pipeline, status and a text found in the pipeline, run id or error."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pipeline: str | None = None
        self._status: str | None = None
        self._search = ""
        self.setSortRole(SORT_ROLE)

    def set_pipeline(self, pipeline: str | None) -> None:
        self.beginFilterChange()
        self._pipeline = pipeline or None
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def set_status(self, status: str | None) -> None:
        self.beginFilterChange()
        self._status = status or None
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def set_search(self, text: str) -> None:
        self.beginFilterChange()
        self._search = text.strip().lower()
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, source_parent: _Index) -> bool:  # noqa: N802
        model = self.sourceModel()
        if not isinstance(model, RunHistoryModel):
            return True
        run = model.run(source_row)
        if self._pipeline is not None and run.pipeline != self._pipeline:
            return False
        if self._status is not None and run.status.value != self._status:
            return False
        if self._search:
            haystack = " ".join([run.pipeline, run.run_id, run.trigger, run.error or ""]).lower()
            return self._search in haystack
        return True


class RuleResultsModel(QAbstractTableModel):
    HEADERS = ("Rule", "Kind", "Severity", "Action", "Rows checked", "Rows failed", "Result")

    def __init__(self, results: Sequence[RuleResult] = (), parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._results = list(results)

    def set_results(self, results: Sequence[RuleResult]) -> None:
        self.beginResetModel()
        self._results = list(results)
        self.endResetModel()

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._results)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole and 0 <= section < len(self.HEADERS):
            return self.HEADERS[section]
        return None

    def flags(self, index: _Index) -> Qt.ItemFlag:
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable if index.isValid() else Qt.ItemFlag.NoItemFlags

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._results):
            return None
        result = self._results[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if col == 6:
                if result.run_level_failure:
                    return f"failed: {result.run_level_failure}"
                return "passed" if result.passed else f"{result.rows_failed:,} row(s) failed"
            return (result.rule, result.kind, result.severity, result.action, f"{result.rows_checked:,}", f"{result.rows_failed:,}")[col]
        if role == Qt.ItemDataRole.ForegroundRole and col in (5, 6) and not result.passed:
            return QBrush(QColor("#cf222e") if result.severity == "error" else QColor("#9a6700"))
        if role == Qt.ItemDataRole.DecorationRole and col == 0:
            return status_icon(RunStatus.SUCCEEDED if result.passed else RunStatus.FAILED if result.severity == "error" else RunStatus.INTERRUPTED)
        if role == Qt.ItemDataRole.TextAlignmentRole and col in (4, 5):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole and result.samples:
            return "Failing values:\n" + "\n".join(result.samples[:10])
        return None

"""Log lines of runs as a table (time, level, pipeline, message), appended in batches, capped in size."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, QSortFilterProxyModel, Qt
from PySide6.QtGui import QBrush, QColor, QFont

from etl_studio.core.engine.events import RunLogLine

_Index = QModelIndex | QPersistentModelIndex
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
LEVEL_RANK = {name: i for i, name in enumerate(LEVELS)}
LEVEL_COLOURS = {"DEBUG": QColor("#8a8f98"), "INFO": QColor("#1f2328"), "WARNING": QColor("#9a6700"), "ERROR": QColor("#cf222e")}
LEVEL_BACKGROUNDS = {"ERROR": QColor("#ffebe9"), "WARNING": QColor("#fff8c5")}
DEFAULT_MAX_LINES = 50_000
LEVEL_ROLE = Qt.ItemDataRole.UserRole + 1
PIPELINE_ROLE = Qt.ItemDataRole.UserRole + 2
RUN_ROLE = Qt.ItemDataRole.UserRole + 3


def level_rank(level: str) -> int:
    return LEVEL_RANK.get(level.upper(), LEVEL_RANK["INFO"])


def format_time(moment: datetime) -> str:
    # Run times are UTC; the analyst reads them in local time.
    local = moment.astimezone() if moment.tzinfo is not None else moment
    return local.strftime("%H:%M:%S.") + f"{local.microsecond // 1000:03d}"


class LogModel(QAbstractTableModel):
    """Keeps the last ``max_lines`` lines; older ones drop off the top in one removal."""

    TIME, LEVEL, PIPELINE, MESSAGE = range(4)
    HEADERS = ("Time", "Level", "Pipeline", "Message")

    def __init__(self, max_lines: int = DEFAULT_MAX_LINES, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.max_lines = max_lines
        self._lines: list[RunLogLine] = []
        self._bold = QFont()
        self._bold.setBold(True)

    def lines(self) -> list[RunLogLine]:
        return list(self._lines)

    def line(self, row: int) -> RunLogLine:
        return self._lines[row]

    def append_lines(self, lines: Sequence[RunLogLine]) -> None:
        """One insertion per batch, so a fast run costs one view update per batch, not per line."""
        if not lines:
            return
        lines = list(lines)[-self.max_lines:]
        overflow = len(self._lines) + len(lines) - self.max_lines
        if overflow > 0:
            self.beginRemoveRows(QModelIndex(), 0, overflow - 1)
            del self._lines[:overflow]
            self.endRemoveRows()
        first = len(self._lines)
        self.beginInsertRows(QModelIndex(), first, first + len(lines) - 1)
        self._lines.extend(lines)
        self.endInsertRows()

    def clear(self) -> None:
        self.beginResetModel()
        self._lines.clear()
        self.endResetModel()

    def pipelines(self) -> list[str]:
        return sorted({line.pipeline for line in self._lines})

    # -- Qt model
    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._lines)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole and 0 <= section < len(self.HEADERS):
            return self.HEADERS[section]
        return None

    def flags(self, index: _Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._lines):
            return None
        line = self._lines[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if col == self.TIME:
                return format_time(line.time)
            if col == self.LEVEL:
                return line.level
            if col == self.PIPELINE:
                return line.pipeline
            if col == self.MESSAGE:
                # One row per line: a traceback's first line here, the rest in the tooltip.
                return line.message.splitlines()[0] if line.message else ""
        elif role == Qt.ItemDataRole.ForegroundRole:
            return QBrush(LEVEL_COLOURS.get(line.level.upper(), LEVEL_COLOURS["INFO"]))
        elif role == Qt.ItemDataRole.BackgroundRole:
            colour = LEVEL_BACKGROUNDS.get(line.level.upper())
            return QBrush(colour) if colour is not None else None
        elif role == Qt.ItemDataRole.FontRole and col == self.LEVEL and line.level.upper() in ("WARNING", "ERROR"):
            return self._bold
        elif role == Qt.ItemDataRole.ToolTipRole:
            return f"{line.time.isoformat(sep=' ', timespec='milliseconds')} · run {line.run_id[:8]}\n{line.message}"
        elif role == LEVEL_ROLE:
            return level_rank(line.level)
        elif role == PIPELINE_ROLE:
            return line.pipeline
        elif role == RUN_ROLE:
            return line.run_id
        return None


class LogFilterModel(QSortFilterProxyModel):
    """Shows lines at or above a level, of one pipeline (or all), containing a search text."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._min_level = 0
        self._pipeline: str | None = None
        self._search = ""
        self._run: str | None = None

    def set_min_level(self, level: str) -> None:
        self.beginFilterChange()
        self._min_level = level_rank(level)
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def set_pipeline(self, pipeline: str | None) -> None:
        self.beginFilterChange()
        self._pipeline = pipeline or None
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def set_run(self, run_id: str | None) -> None:
        self.beginFilterChange()
        self._run = run_id or None
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def set_search(self, text: str) -> None:
        self.beginFilterChange()
        self._search = text.strip().lower()
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, source_parent: _Index) -> bool:  # noqa: N802
        model = self.sourceModel()
        if not isinstance(model, LogModel):
            return True
        line = model.line(source_row)
        if level_rank(line.level) < self._min_level:
            return False
        if self._pipeline is not None and line.pipeline != self._pipeline:
            return False
        if self._run is not None and line.run_id != self._run:
            return False
        return not self._search or self._search in line.message.lower()

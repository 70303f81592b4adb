"""A pandas DataFrame as a read-only table; NULLs shown as a grey NULL, row labels as the row header."""

from __future__ import annotations

import datetime as dt
import decimal
import math
import numbers
from typing import Any

import pandas as pd
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor, QFont

_Index = QModelIndex | QPersistentModelIndex
NULL_TEXT = "NULL"
NULL_COLOUR = QColor("#8a8f98")
MAX_CELL_CHARS = 200
SORT_ROLE = Qt.ItemDataRole.UserRole + 10


def is_null(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    try:
        return bool(pd.isna(value)) if not isinstance(value, (list, tuple, dict)) else False
    except (TypeError, ValueError):
        return False


def display_value(value: Any) -> str:
    """How a cell reads: exact decimals, ISO dates, no trailing .0 on whole floats."""
    if is_null(value):
        return NULL_TEXT
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if isinstance(value, float):
        return f"{value:.0f}" if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, pd.Timestamp):
        return value.isoformat(sep=" ") if (value.hour or value.minute or value.second or value.microsecond) else value.date().isoformat()
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    return text if len(text) <= MAX_CELL_CHARS else text[: MAX_CELL_CHARS - 1] + "…"


class DataFrameModel(QAbstractTableModel):
    def __init__(self, frame: pd.DataFrame | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._frame = frame if frame is not None else pd.DataFrame()
        self._italic = QFont()
        self._italic.setItalic(True)

    @property
    def frame(self) -> pd.DataFrame:
        return self._frame

    def set_frame(self, frame: pd.DataFrame | None) -> None:
        self.beginResetModel()
        self._frame = frame if frame is not None else pd.DataFrame()
        self.endResetModel()

    def column_name(self, column: int) -> str:
        return str(self._frame.columns[column])

    def row_label(self, row: int) -> Any:
        return self._frame.index[row]

    def value(self, row: int, column: int) -> Any:
        return self._frame.iat[row, column]

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._frame)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._frame.columns)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: N802
        if role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return None
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(self._frame.columns):
            name = str(self._frame.columns[section])
            if role == Qt.ItemDataRole.ToolTipRole:
                return f"{name} ({self._frame.dtypes.iloc[section]})"
            return name
        if orientation == Qt.Orientation.Vertical and 0 <= section < len(self._frame):
            label = self._frame.index[section]
            return f"Source row {label}" if role == Qt.ItemDataRole.ToolTipRole else str(label)
        return None

    def flags(self, index: _Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not (0 <= index.row() < len(self._frame) and 0 <= index.column() < len(self._frame.columns)):
            return None
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return display_value(self.value(index.row(), index.column()))
        if role == SORT_ROLE:
            value = self.value(index.row(), index.column())
            return None if is_null(value) else value
        null = role in (Qt.ItemDataRole.ForegroundRole, Qt.ItemDataRole.FontRole) and is_null(self.value(index.row(), index.column()))
        if role == Qt.ItemDataRole.ForegroundRole and null:
            return QBrush(NULL_COLOUR)
        if role == Qt.ItemDataRole.FontRole and null:
            return self._italic
        if role == Qt.ItemDataRole.TextAlignmentRole:
            value = self.value(index.row(), index.column())
            if isinstance(value, (numbers.Number, decimal.Decimal)) and not isinstance(value, bool):
                return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

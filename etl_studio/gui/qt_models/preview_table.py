"""Preview rows with the cells that break a rule highlighted; the tooltip names the rule and the reason."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import pandas as pd
from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor

from etl_studio.gui.qt_models.dataframe import DataFrameModel, display_value

_Index = QModelIndex | QPersistentModelIndex
ERROR_CELL = QColor("#ffcecb")
WARNING_CELL = QColor("#fff1b8")
QUARANTINED_ROW = QColor("#fff0ee")
ERROR_TEXT = QColor("#a40e26")
VIOLATIONS_ROLE = Qt.ItemDataRole.UserRole + 20  # list of (rule, reason) for the cell


class PreviewTableModel(DataFrameModel):
    """``violations`` are the engine's Violation(row, column, rule, reason); a None column means the whole row.

    ``warning_rules`` are rules whose severity is warning: they colour cells yellow, not red,
    because their rows still load.
    """

    def __init__(self, frame: pd.DataFrame | None = None, parent: QObject | None = None) -> None:
        super().__init__(frame, parent)
        self._cells: dict[tuple[Any, str], list[tuple[str, str]]] = {}
        self._rows: dict[Any, list[tuple[str, str]]] = {}
        self._quarantined: set[Any] = set()
        self._warning_rules: set[str] = set()
        self._positions: dict[Any, int] = {}

    def set_preview(self, frame: pd.DataFrame, violations: Iterable[Any] = (), *, quarantined_rows: Iterable[Any] = (),
                    warning_rules: Iterable[str] = (), column_alias: dict[str, str] | None = None) -> None:
        """``column_alias`` maps a violation's column onto this frame's column (target -> source for the raw rows)."""
        cells: dict[tuple[Any, str], list[tuple[str, str]]] = defaultdict(list)
        rows: dict[Any, list[tuple[str, str]]] = defaultdict(list)
        columns = {str(c) for c in frame.columns}
        for violation in violations:
            column = violation.column
            if column is not None and column_alias is not None:
                column = column_alias.get(column)
            if column is not None and column in columns:
                cells[(violation.row, column)].append((violation.rule, violation.reason))
            else:
                rows[violation.row].append((violation.rule, violation.reason))
        self.beginResetModel()
        self._frame = frame
        self._cells, self._rows = dict(cells), dict(rows)
        self._quarantined = set(quarantined_rows)
        self._warning_rules = set(warning_rules)
        self._positions = {label: i for i, label in enumerate(frame.index)}
        self.endResetModel()

    def row_of_label(self, label: Any) -> int:
        return self._positions.get(label, -1)

    def cell_violations(self, row: int, column: int) -> list[tuple[str, str]]:
        label = self._frame.index[row]
        return self._cells.get((label, str(self._frame.columns[column])), [])

    def violation_count(self) -> int:
        return sum(len(v) for v in self._cells.values()) + sum(len(v) for v in self._rows.values())

    def _is_warning(self, found: list[tuple[str, str]]) -> bool:
        return all(rule in self._warning_rules for rule, _ in found)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not (0 <= index.row() < len(self._frame) and 0 <= index.column() < len(self._frame.columns)):
            return None
        if role in (Qt.ItemDataRole.BackgroundRole, Qt.ItemDataRole.ToolTipRole, Qt.ItemDataRole.ForegroundRole, VIOLATIONS_ROLE):
            found = self.cell_violations(index.row(), index.column())
            label = self._frame.index[index.row()]
            if role == VIOLATIONS_ROLE:
                return found
            if role == Qt.ItemDataRole.BackgroundRole:
                if found:
                    return QBrush(WARNING_CELL if self._is_warning(found) else ERROR_CELL)
                if label in self._quarantined or label in self._rows:
                    return QBrush(QUARANTINED_ROW)
                return None
            if role == Qt.ItemDataRole.ForegroundRole:
                if found and not self._is_warning(found):
                    return QBrush(ERROR_TEXT)
                return super().data(index, role)
            if role == Qt.ItemDataRole.ToolTipRole:
                value = display_value(self.value(index.row(), index.column()))
                lines = [f"Row {label}, {self._frame.columns[index.column()]}: {value}"]
                for rule, reason in found + self._rows.get(label, []):
                    kind = "warning" if rule in self._warning_rules else "breaks"
                    lines.append(f"• {kind} rule '{rule}': {reason}")
                if label in self._quarantined and not found:
                    lines.append("This row goes to quarantine (see the Quarantined tab).")
                return "\n".join(lines)
        return super().data(index, role)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: N802
        if orientation == Qt.Orientation.Vertical and 0 <= section < len(self._frame):
            label = self._frame.index[section]
            if role == Qt.ItemDataRole.ForegroundRole and label in self._quarantined:
                return QBrush(ERROR_TEXT)
            if role == Qt.ItemDataRole.ToolTipRole and (label in self._quarantined or label in self._rows):
                reasons = [f"{rule}: {reason}" for rule, reason in self._rows.get(label, [])]
                return f"Source row {label} is quarantined" + (":\n" + "\n".join(reasons) if reasons else "")
        return super().headerData(section, orientation, role)

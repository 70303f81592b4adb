"""Auto-map proposals (source -> target, score, reason), each with a checkbox to accept it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor

_Index = QModelIndex | QPersistentModelIndex
# Proposals at or above this score start ticked; the others wait for the analyst's eye.
PRESELECT_SCORE = 90.0


class MapProposalModel(QAbstractTableModel):
    SOURCE, TARGET, SCORE, REASON = range(4)
    HEADERS = ("Source column", "Target column", "Score", "Why")

    def __init__(self, proposals: Sequence[Any] = (), current: dict[str, str] | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._proposals = list(proposals)
        self._current = dict(current or {})  # target -> what feeds it now (replaced on accept)
        self._checked = [p.score >= PRESELECT_SCORE for p in self._proposals]

    def proposals(self) -> list[Any]:
        return list(self._proposals)

    def accepted(self) -> list[Any]:
        return [p for p, on in zip(self._proposals, self._checked) if on]

    def set_all(self, checked: bool) -> None:
        self._checked = [checked] * len(self._proposals)
        if self._proposals:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._proposals) - 1, 0), [Qt.ItemDataRole.CheckStateRole])

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._proposals)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole and 0 <= section < len(self.HEADERS):
            return self.HEADERS[section]
        return None

    def flags(self, index: _Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if index.column() == self.SOURCE:
            flags |= Qt.ItemFlag.ItemIsUserCheckable
        return flags

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._proposals):
            return None
        proposal = self._proposals[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return (proposal.source, proposal.target, f"{proposal.score:.0f}", proposal.reason)[col]
        if role == Qt.ItemDataRole.CheckStateRole and col == self.SOURCE:
            return Qt.CheckState.Checked if self._checked[index.row()] else Qt.CheckState.Unchecked
        if role == Qt.ItemDataRole.ForegroundRole and col == self.SCORE:
            colour = "#1a7f37" if proposal.score >= PRESELECT_SCORE else "#9a6700" if proposal.score >= 80 else "#b42318"
            return QBrush(QColor(colour))
        if role == Qt.ItemDataRole.TextAlignmentRole and col == self.SCORE:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            now = self._current.get(proposal.target)
            replaces = f"<br>Replaces what feeds it now: {now}" if now else ""
            return f"Map <b>{proposal.source}</b> to <b>{proposal.target}</b> (score {proposal.score:.0f} of 100: {proposal.reason}){replaces}"
        if role == Qt.ItemDataRole.UserRole:
            return proposal.score
        return None

    def setData(self, index: _Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:  # noqa: N802
        if not index.isValid() or index.column() != self.SOURCE or role != Qt.ItemDataRole.CheckStateRole:
            return False
        self._checked[index.row()] = Qt.CheckState(value) == Qt.CheckState.Checked
        self.dataChanged.emit(index, index, [Qt.ItemDataRole.CheckStateRole])
        return True

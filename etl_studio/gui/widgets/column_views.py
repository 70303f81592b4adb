"""Table views of the mapping editor: source columns you drag, target columns you drop onto."""

from __future__ import annotations

from PySide6.QtCore import QRect, Qt, Signal
from PySide6.QtGui import QColor, QDragEnterEvent, QDragLeaveEvent, QDragMoveEvent, QDropEvent, QKeyEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

from etl_studio.gui.qt_models.column_mapping import decode_column

DROP_HIGHLIGHT = QColor("#2f6feb")


class PlaceholderTableView(QTableView):
    """A table that says what to do when it is empty, instead of showing a blank grid."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.placeholder = ""
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setAlternatingRowColors(False)
        self.setShowGrid(False)
        self.setWordWrap(False)
        self.verticalHeader().setVisible(False)
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 10)
        self.horizontalHeader().setHighlightSections(False)
        self.horizontalHeader().setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)

    def set_placeholder(self, text: str) -> None:
        self.placeholder = text
        self.viewport().update()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        super().paintEvent(event)
        model = self.model()
        if self.placeholder and (model is None or model.rowCount() == 0):
            painter = QPainter(self.viewport())
            painter.setPen(QColor("#6e7781"))
            rect = self.viewport().rect().adjusted(16, 16, -16, -16)
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.placeholder)
            painter.end()


class SourceColumnsView(PlaceholderTableView):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sourceColumnsView")
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.setDefaultDropAction(Qt.DropAction.CopyAction)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setToolTip("Columns that reach the mapping (after the pipeline's steps). Drag one onto a target column.")


class TargetColumnsView(PlaceholderTableView):
    """Dropping a source column on a row maps it; on empty space it adds a target column for it."""

    columnDropped = Signal(str, int)  # source column, target row (-1: below the last row)
    unmapPressed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("targetColumnsView")
        self.setAcceptDrops(True)
        self.viewport().setAcceptDrops(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DropOnly)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked | QAbstractItemView.EditTrigger.EditKeyPressed)
        self._drop_row: int | None = None
        self.setToolTip("Target columns. Drop a source column on one to map it; press Delete to unmap the selected ones.")

    def _row_at(self, event: QDropEvent | QDragMoveEvent) -> int:
        return self.indexAt(event.position().toPoint()).row()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if decode_column(event.mimeData()) is None:
            event.ignore()
            return
        event.setDropAction(Qt.DropAction.CopyAction)
        event.accept()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:  # noqa: N802
        if decode_column(event.mimeData()) is None:
            event.ignore()
            return
        row = self._row_at(event)
        if row != self._drop_row:
            self._drop_row = row
            self.viewport().update()
        event.setDropAction(Qt.DropAction.CopyAction)
        event.accept()

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:  # noqa: N802
        self._drop_row = None
        self.viewport().update()
        event.accept()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        source = decode_column(event.mimeData())
        row = self._row_at(event)
        self._drop_row = None
        self.viewport().update()
        if source is None:
            event.ignore()
            return
        event.setDropAction(Qt.DropAction.CopyAction)
        event.accept()
        self.columnDropped.emit(source, row)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and self.state() != QAbstractItemView.State.EditingState:
            self.unmapPressed.emit()
            return
        super().keyPressEvent(event)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        super().paintEvent(event)
        if self._drop_row is None:
            return
        painter = QPainter(self.viewport())
        pen = QPen(DROP_HIGHLIGHT, 2)
        painter.setPen(pen)
        if self._drop_row >= 0:
            first = self.visualRect(self.model().index(self._drop_row, 0))
            rect = QRect(0, first.top(), self.viewport().width() - 1, first.height() - 1)
            painter.fillRect(rect, QColor(47, 111, 235, 40))
            painter.drawRect(rect)
        else:
            # Below the last row: a new target column will be added.
            rows = self.model().rowCount()
            y = self.visualRect(self.model().index(rows - 1, 0)).bottom() + 2 if rows else 4
            painter.drawLine(4, y, self.viewport().width() - 4, y)
        painter.end()


def stretch_last(view: QTableView) -> None:
    header = view.horizontalHeader()
    header.setStretchLastSection(True)
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)

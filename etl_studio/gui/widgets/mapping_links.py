"""The strip between the source and target column lists: one curve per mapped pair; pull one away to unmap."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QEvent, QObject, QPoint, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QMouseEvent, QPainter, QPainterPath, QPaintEvent, QPen
from PySide6.QtWidgets import QAbstractItemView, QToolTip, QWidget

from etl_studio.gui.qt_models.column_mapping import COLUMN_NAME_ROLE

LINE = QColor("#2f6feb")
LINE_SELECTED = QColor("#d97706")
LINE_OUTSIDE = QColor("#9db7ef")
# How near (pixels) the mouse must be to pick a line, and how far it must be pulled to unmap.
PICK_DISTANCE = 6.0
PULL_TO_UNMAP = 24.0


@dataclass(frozen=True)
class Link:
    source: str
    target: str
    start: QPointF
    end: QPointF
    visible: bool  # both rows are scrolled into view

    def path(self, end: QPointF | None = None) -> QPainterPath:
        end = end or self.end
        path = QPainterPath(self.start)
        dx = max(24.0, (end.x() - self.start.x()) * 0.5)
        path.cubicTo(QPointF(self.start.x() + dx, self.start.y()), QPointF(end.x() - dx, end.y()), end)
        return path


class MappingLinks(QWidget):
    """Anchored to the rows' ``visualRect`` in both views; redrawn on scroll, resize and model change."""

    unmapRequested = Signal(str)  # target column
    linkClicked = Signal(str)  # target column

    def __init__(self, source_view: QAbstractItemView, target_view: QAbstractItemView,
                 pairs: Callable[[], list[tuple[str, str]]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("mappingLinks")
        self.setMouseTracking(True)
        self.setMinimumWidth(90)
        self.setToolTip("Each line joins a source column to the target column it fills. Drag a line away to unmap it.")
        self.source_view, self.target_view, self._pairs = source_view, target_view, pairs
        self.selected_target: str | None = None
        self._hover: Link | None = None
        self._pulled: Link | None = None
        self._press: QPointF | None = None
        self._mouse: QPointF | None = None
        for view in (source_view, target_view):
            view.verticalScrollBar().valueChanged.connect(self.update)
            view.viewport().installEventFilter(self)
            self._watch_model(view)

    def _watch_model(self, view: QAbstractItemView) -> None:
        model = view.model()
        for signal in (model.modelReset, model.dataChanged, model.rowsInserted, model.rowsRemoved, model.layoutChanged):
            signal.connect(self.update)

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(140, 200)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if event.type() in (QEvent.Type.Resize, QEvent.Type.Move, QEvent.Type.Show, QEvent.Type.LayoutRequest):
            self.update()
        return False

    # -- geometry
    def _row_y(self, view: QAbstractItemView, name: str) -> tuple[float, bool] | None:
        model = view.model()
        for row in range(model.rowCount()):
            index = model.index(row, 0)
            if index.data(COLUMN_NAME_ROLE) == name:
                rect = view.visualRect(index)
                viewport = view.viewport()
                top = self._map(viewport, QPoint(0, 0)).y()
                bottom = top + viewport.height()
                y = float(self._map(viewport, rect.center()).y())
                inside = top <= y <= bottom and rect.isValid() and not rect.isEmpty()
                return min(max(y, float(top)), float(bottom)), inside
        return None

    def _map(self, widget: QWidget, point: QPoint) -> QPoint:
        # The views are siblings, not children: go through the common top-level window.
        window = self.window()
        return self.mapFrom(window, widget.mapTo(window, point))

    def links(self) -> list[Link]:
        result = []
        for source, target in self._pairs():
            start = self._row_y(self.source_view, source)
            end = self._row_y(self.target_view, target)
            if start is None or end is None:
                continue
            result.append(Link(source, target, QPointF(2.0, start[0]), QPointF(self.width() - 2.0, end[0]), start[1] and end[1]))
        return result

    def link_at(self, point: QPointF) -> Link | None:
        best, best_distance = None, PICK_DISTANCE
        for link in self.links():
            path = link.path()
            for i in range(41):
                p = path.pointAtPercent(i / 40)
                distance = ((p.x() - point.x()) ** 2 + (p.y() - point.y()) ** 2) ** 0.5
                if distance < best_distance:
                    best, best_distance = link, distance
        return best

    # -- painting
    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        links = self.links()
        if not links:
            painter.setPen(QColor("#8a8f98"))
            painter.drawText(QRectF(self.rect()).adjusted(6, 0, -6, 0), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                             "drag a source column onto a target column")
        # The selected and hovered lines are drawn last so that they stay on top.
        order = sorted(links, key=lambda l: (l.target == self.selected_target, self._hover is not None and l.target == self._hover.target))
        for link in order:
            if self._pulled is not None and link.target == self._pulled.target:
                continue
            colour = LINE if link.visible else LINE_OUTSIDE
            width = 1.6
            if link.target == self.selected_target:
                colour, width = LINE_SELECTED, 2.6
            elif self._hover is not None and link.target == self._hover.target:
                width = 2.8
            pen = QPen(colour, width)
            if not link.visible:
                pen.setStyle(Qt.PenStyle.DashLine)
            painter.setPen(pen)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawPath(link.path())
            painter.setBrush(QBrush(colour))
            painter.drawEllipse(link.start, 3.0, 3.0)
            painter.drawEllipse(link.end, 3.0, 3.0)
        if self._pulled is not None and self._mouse is not None:
            pen = QPen(QColor("#b42318"), 2.0, Qt.PenStyle.DashLine)
            painter.setPen(pen)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawPath(self._pulled.path(self._mouse))
        painter.end()

    # -- pulling a line away
    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        link = self.link_at(event.position())
        if event.button() == Qt.MouseButton.LeftButton and link is not None:
            self._pulled, self._press, self._mouse = link, event.position(), event.position()
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
            self.linkClicked.emit(link.target)
            self.update()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._pulled is not None:
            self._mouse = event.position()
            self.update()
            return
        link = self.link_at(event.position())
        if link != self._hover:
            self._hover = link
            self.setCursor(Qt.CursorShape.OpenHandCursor if link else Qt.CursorShape.ArrowCursor)
            self.update()
        if link is not None:
            QToolTip.showText(event.globalPosition().toPoint(), f"{link.source} → {link.target}\nDrag the line away to unmap", self)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        pulled, press = self._pulled, self._press
        self._pulled = self._press = self._mouse = None
        self.setCursor(Qt.CursorShape.ArrowCursor)
        self.update()
        if pulled is None or press is None:
            super().mouseReleaseEvent(event)
            return
        moved = event.position() - press
        if (moved.x() ** 2 + moved.y() ** 2) ** 0.5 >= PULL_TO_UNMAP:
            self.unmapRequested.emit(pulled.target)

    def leaveEvent(self, event: QEvent) -> None:  # noqa: N802
        if self._hover is not None:
            self._hover = None
            self.update()
        super().leaveEvent(event)

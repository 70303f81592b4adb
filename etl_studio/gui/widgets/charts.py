"""Small charts: the trend of a pipeline's last runs (QtCharts) and a column's histogram bars."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCharts import QBarCategoryAxis, QBarSeries, QBarSet, QChart, QChartView, QLineSeries, QValueAxis
from PySide6.QtCore import QMargins, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from etl_studio.core.history import RunRecord, RunStatus

BAR = QColor("#54aeff")
BAR_FAILED = QColor("#ff8182")
LINE = QColor("#bf8700")


def _small_chart(title: str) -> QChart:
    chart = QChart()
    chart.setTitle(title)
    font = QFont()
    font.setPointSizeF(max(8.0, font.pointSizeF() - 1))
    chart.setTitleFont(font)
    chart.setMargins(QMargins(4, 4, 4, 4))
    chart.setBackgroundRoundness(0)
    chart.setAnimationOptions(QChart.AnimationOption.NoAnimation)
    chart.legend().setAlignment(Qt.AlignmentFlag.AlignBottom)
    chart.legend().setFont(font)
    return chart


def _axis_font() -> QFont:
    font = QFont()
    font.setPointSizeF(max(7.0, font.pointSizeF() - 2))
    return font


def _nice_max(value: float) -> float:
    """A round axis end above ``value`` (10, 20, 50, 100 ...), so tick labels read well."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** len(str(int(value)))
    for step in (0.1, 0.2, 0.25, 0.5, 1.0):
        if value <= magnitude * step:
            return magnitude * step
    return float(magnitude)


def _sparse_labels(labels: list[str], most: int = 6) -> list[str]:
    """At most ``most`` visible labels; the others are distinct blanks (a category axis needs unique names)."""
    step = max(1, -(-len(labels) // most))
    out = []
    for i, label in enumerate(labels):
        shown = i % step == 0 or i == len(labels) - 1
        out.append(label if shown and label not in out else " " * (i + 1))
    return out


class RunTrendChart(QChartView):
    """Rows loaded (bars) and duration (line) over the last runs of one pipeline, oldest first."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("runTrendChart")
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.setMinimumHeight(170)
        self.setMinimumWidth(300)
        self.setToolTip("Rows loaded (bars) and duration (line) of the pipeline's last runs; red bars are failed runs")
        self.set_runs(None, [])

    def set_runs(self, pipeline: str | None, runs: Sequence[RunRecord]) -> None:
        runs = [r for r in runs if r.status.is_final][-20:]
        if pipeline is None:
            title = "Select a run or a pipeline to see its last runs"
        elif not runs:
            title = f"No finished runs of {pipeline} yet"
        else:
            title = f"Last {len(runs)} run{'s' if len(runs) != 1 else ''} of {pipeline}"
        chart = _small_chart(title)
        if runs:
            loaded = QBarSet("Rows loaded")
            loaded.setColor(BAR)
            loaded.setBorderColor(BAR.darker(120))
            for i, run in enumerate(runs):
                loaded.append(run.rows_loaded)
                if run.status is not RunStatus.SUCCEEDED:
                    loaded.selectBar(i)
            loaded.setSelectedColor(BAR_FAILED)
            bars = QBarSeries()
            bars.append(loaded)
            duration = QLineSeries()
            duration.setName("Duration (s)")
            duration.setPen(QPen(LINE, 2))
            duration.setPointsVisible(True)
            for i, run in enumerate(runs):
                duration.append(i, run.duration_seconds or 0.0)
            chart.addSeries(bars)
            chart.addSeries(duration)
            categories = QBarCategoryAxis()
            moments = [(r.started_at or r.created_at).astimezone() for r in runs]
            labels = [m.strftime("%H:%M") for m in moments]
            if len(set(labels)) < len(labels):  # runs in the same minute: the seconds tell them apart
                labels = [m.strftime("%H:%M:%S") for m in moments]
            categories.append(_sparse_labels(labels))
            categories.setLabelsFont(_axis_font())
            rows_axis = QValueAxis()
            rows_axis.setLabelFormat("%.0f")
            rows_axis.setRange(0, _nice_max(max(r.rows_loaded for r in runs)))
            rows_axis.setTitleText("rows")
            rows_axis.setLabelsFont(_axis_font())
            rows_axis.setTickCount(3)
            seconds_axis = QValueAxis()
            longest = _nice_max(max((r.duration_seconds or 0.0) for r in runs))
            seconds_axis.setRange(0, longest)
            seconds_axis.setTitleText("seconds")
            seconds_axis.setLabelFormat("%.0f" if longest >= 5 else "%.1f")
            seconds_axis.setLabelsFont(_axis_font())
            seconds_axis.setTickCount(3)
            chart.addAxis(categories, Qt.AlignmentFlag.AlignBottom)
            chart.addAxis(rows_axis, Qt.AlignmentFlag.AlignLeft)
            chart.addAxis(seconds_axis, Qt.AlignmentFlag.AlignRight)
            bars.attachAxis(categories)
            bars.attachAxis(rows_axis)
            duration.attachAxis(categories)
            duration.attachAxis(seconds_axis)
        else:
            chart.legend().hide()
        old = self.chart()
        self.setChart(chart)
        if old is not None:
            old.deleteLater()


class HistogramBars(QWidget):
    """A column's histogram as labelled horizontal bars: readable in a narrow side panel, where a
    chart's category axis would cut its labels to "…"."""

    ROW_HEIGHT = 16

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("histogramBars")
        self.title = ""
        self.bars: list[tuple[str, int]] = []
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)

    def set_bars(self, title: str, bars: Sequence[tuple[str, int]]) -> None:
        self.title, self.bars = title, list(bars)
        self.setToolTip("\n".join(f"{label}: {count:,}" for label, count in self.bars))
        self.updateGeometry()
        self.update()

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(220, self.ROW_HEIGHT * (len(self.bars) + 1) + 8)

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return self.sizeHint()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        if not self.bars:
            return
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        font = QFont(self.font())
        font.setPointSizeF(max(7.0, font.pointSizeF() - 1))
        painter.setFont(font)
        metrics = QFontMetrics(font)
        painter.setPen(QColor("#57606a"))
        painter.drawText(QRectF(0, 0, self.width(), self.ROW_HEIGHT), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, self.title)
        label_width = min(max(metrics.horizontalAdvance(label) for label, _ in self.bars) + 6, self.width() * 0.45)
        count_width = max(metrics.horizontalAdvance(f"{count:,}") for _, count in self.bars) + 6
        bar_space = max(10.0, self.width() - label_width - count_width - 4)
        top = max(count for _, count in self.bars) or 1
        for i, (label, count) in enumerate(self.bars):
            y = self.ROW_HEIGHT * (i + 1) + 2
            painter.setPen(QColor("#1f2328"))
            text = metrics.elidedText(label, Qt.TextElideMode.ElideMiddle, int(label_width - 6))
            painter.drawText(QRectF(0, y, label_width - 6, self.ROW_HEIGHT), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, text)
            width = bar_space * count / top
            painter.fillRect(QRectF(label_width, y + 2, max(1.0 if count else 0.0, width), self.ROW_HEIGHT - 4), BAR)
            painter.setPen(QColor("#57606a"))
            painter.drawText(QRectF(label_width + width + 4, y, count_width, self.ROW_HEIGHT), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, f"{count:,}")
        painter.end()

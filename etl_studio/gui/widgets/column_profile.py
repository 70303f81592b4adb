"""Shows a ColumnProfile: type, null %, distinct, min/max, most frequent values and a small histogram."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFormLayout, QLabel, QVBoxLayout, QWidget

from etl_studio.core.engine.profile import ColumnProfile
from etl_studio.gui.qt_models.dataframe import display_value
from etl_studio.gui.widgets.charts import HistogramBars


class ColumnProfileView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("columnProfile")
        self.profile: ColumnProfile | None = None
        self.column: str | None = None
        self.title = QLabel(self)
        self.title.setObjectName("columnProfileTitle")
        self.title.setStyleSheet("font-weight: 600;")
        self.title.setWordWrap(True)
        self.fields: dict[str, QLabel] = {}
        form = QFormLayout()
        form.setContentsMargins(0, 0, 0, 0)
        form.setVerticalSpacing(2)
        for key, label in (("type", "Type"), ("nulls", "NULL"), ("distinct", "Distinct"), ("min", "Min"), ("max", "Max"), ("top", "Most frequent")):
            value = QLabel(self)
            value.setObjectName(f"columnProfile_{key}")
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            value.setWordWrap(True)
            self.fields[key] = value
            form.addRow(f"{label}:", value)
        self.chart = HistogramBars(self)
        self.form_widget = QWidget(self)
        self.form_widget.setLayout(form)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.title)
        layout.addWidget(self.form_widget)
        layout.addSpacing(6)
        layout.addWidget(self.chart)
        layout.addStretch(1)
        self.show_profile(None, None)

    def show_profile(self, column: str | None, profile: ColumnProfile | None, where: str = "") -> None:
        self.column, self.profile = column, profile
        self.form_widget.setVisible(profile is not None)
        self.chart.setVisible(profile is not None)
        if profile is None or column is None:
            self.title.setText("Column profile\n\nClick a column (its header or a cell) in the raw or transformed rows to profile it.")
            self.title.setStyleSheet("color: #6e7781;")
            return
        self.title.setStyleSheet("font-weight: 600;")
        self.title.setText(f"{column}  ·  {where} ({profile.rows:,} rows)" if where else column)
        self.fields["type"].setText(profile.type)
        nulls = round(profile.null_percent, 1)
        self.fields["nulls"].setText(f"{nulls:g} %")
        self.fields["nulls"].setStyleSheet("color: #9a6700;" if profile.null_fraction else "")
        self.fields["distinct"].setText(f"{profile.distinct:,}" + (" (all different)" if profile.distinct and profile.distinct == profile.rows else ""))
        self.fields["min"].setText(_short(profile.min))
        self.fields["max"].setText(_short(profile.max))
        if profile.top_values and profile.top_values[0][1] == 1:
            self.fields["top"].setText("every value occurs once")
        else:
            self.fields["top"].setText("\n".join(f"{value}  ×{count}" for value, count in profile.top_values) or "—")
        title = {"values": "Most frequent values", "lengths": "Text lengths"}.get(profile.histogram_kind, "Distribution")
        self.chart.set_bars(title, profile.histogram)


def _short(value: Any) -> str:
    if value is None:
        return "—"
    text = display_value(value)
    return text if len(text) <= 40 else text[:39] + "…"

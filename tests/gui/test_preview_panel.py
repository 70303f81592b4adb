"""The preview as an analyst watches it: raw and transformed rows, broken rules in red, quarantine, profile, refresh."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from etl_studio.core.project.models import Connection, Pipeline, PluginSpec, Project, RuleSpec, TargetColumn
from etl_studio.gui.panels.preview import PreviewPanel
from etl_studio.gui.project_document import ProjectDocument
from etl_studio.gui.qt_models.preview_table import ERROR_CELL, WARNING_CELL

CSV = (
    "order_id,customer_email,quantity,unit_price\n"
    "1,a@x.com,2,9.50\n"
    "2,,1,3.00\n"
    "3,c@z.net,-4,1.25\n"
    "4,d@q.org,5,2.00\n"
)


def make_document(tmp_path: Path) -> ProjectDocument:
    (tmp_path / "orders.csv").write_text(CSV, encoding="utf-8")
    pipeline = Pipeline(
        name="orders",
        source=PluginSpec(kind="csv_file", config={"path": "orders.csv"}),
        mapping=[
            TargetColumn(name="order_id", type="integer", nullable=False, source="order_id"),
            TargetColumn(name="email", source="customer_email"),
            TargetColumn(name="quantity", type="integer", source="quantity"),
            TargetColumn(name="total", type="decimal(12,2)", expr="quantity * unit_price"),
        ],
        rules=[
            RuleSpec(kind="not_null", name="email given", config={"column": "email"}),
            RuleSpec(kind="range", name="positive quantity", config={"column": "quantity", "min": 0}, severity="warning"),
        ],
        target=PluginSpec(kind="sql_table", config={"connection": "warehouse", "table": "orders", "mode": "replace"}),
    )
    project = Project(connections=[Connection(name="warehouse", url="sqlite:///warehouse.db")], pipelines=[pipeline])
    return ProjectDocument(project, tmp_path / "t.etlproj")


@pytest.fixture
def panel(qtbot, tmp_path):
    widget = PreviewPanel(make_document(tmp_path))
    qtbot.addWidget(widget)
    widget.resize(1200, 700)
    widget.show()
    with qtbot.waitSignal(widget.previewFinished, timeout=20_000):
        widget.set_pipeline("orders")
    return widget


def cell(model, label, column: str):
    return model.index(model.row_of_label(label), list(model.frame.columns).index(column))


def test_raw_and_transformed_rows_side_by_side(panel):
    assert panel.raw_model.rowCount() == 4
    assert list(panel.transformed_model.frame.columns) == ["order_id", "email", "quantity", "total"]
    assert cell(panel.transformed_model, 0, "total").data() == "19.00"
    assert panel.raw_model.headerData(0, Qt.Orientation.Vertical) == str(panel.raw_model.frame.index[0])
    assert "4 rows read" in panel.status.text()


def test_a_preview_never_writes_to_the_target(panel):
    assert panel.result is not None
    assert not (panel.document.project_dir / "warehouse.db").exists()


def test_a_cell_that_breaks_a_rule_is_highlighted_with_rule_and_reason(panel):
    missing = panel.raw_model.frame.index[1]  # the row without an e-mail
    index = cell(panel.transformed_model, missing, "email")
    assert index.data(Qt.ItemDataRole.BackgroundRole).color() == ERROR_CELL
    tooltip = index.data(Qt.ItemDataRole.ToolTipRole)
    assert "email given" in tooltip
    # the raw side marks the source column that feeds it
    assert cell(panel.raw_model, missing, "customer_email").data(Qt.ItemDataRole.BackgroundRole).color() == ERROR_CELL
    negative = panel.raw_model.frame.index[2]
    warning = cell(panel.transformed_model, negative, "quantity")
    assert warning.data(Qt.ItemDataRole.BackgroundRole).color() == WARNING_CELL
    assert "positive quantity" in warning.data(Qt.ItemDataRole.ToolTipRole)


def test_quarantined_rows_are_listed_with_their_reasons(panel):
    assert panel.quarantine_model.rowCount() == 1
    assert panel.quarantine_model.index(0, 0).data() == "email given"
    assert panel.tabs.tabText(0) == "Quarantined rows (1)"


def test_column_profile_of_the_clicked_column(panel, qtbot):
    view = panel.transformed_view
    column = list(panel.transformed_model.frame.columns).index("email")
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.visualRect(panel.transformed_model.index(0, column)).center())
    assert panel.profile.column == "email"
    assert panel.profile.fields["nulls"].text() == "25 %"
    assert panel.profile.fields["distinct"].text().startswith("3")
    assert panel.profile.chart.bars and sum(c for _, c in panel.profile.chart.bars) == 3


def test_an_edit_refreshes_the_preview_by_itself(panel, qtbot):
    document = panel.document
    pipeline = document.pipeline("orders")
    mapping = [c.model_copy(update={"expr": "quantity * unit_price * 2"}) if c.name == "total" else c for c in pipeline.mapping]
    with qtbot.waitSignal(panel.previewFinished, timeout=20_000):
        document.replace_pipeline("orders", pipeline.model_copy(update={"mapping": mapping}), "Double the total")
    assert cell(panel.transformed_model, panel.raw_model.frame.index[0], "total").data() == "38.00"


def test_changing_the_row_count_previews_that_many_rows(panel, qtbot):
    with qtbot.waitSignal(panel.previewFinished, timeout=20_000):
        panel.rows_spin.setValue(2)
    assert panel.raw_model.rowCount() == 2


def test_a_broken_expression_shows_the_problem(panel, qtbot):
    document = panel.document
    pipeline = document.pipeline("orders")
    mapping = [c.model_copy(update={"expr": "quantity * unit_prize"}) if c.name == "total" else c for c in pipeline.mapping]
    with qtbot.waitSignals([panel.previewStarted], timeout=5000):
        document.replace_pipeline("orders", pipeline.model_copy(update={"mapping": mapping}), "Typo")
    qtbot.waitUntil(lambda: panel.problems.isVisible(), timeout=20_000)
    assert "unit_prize" in panel.problems.text()


def test_no_pipeline_says_what_to_do(qtbot, tmp_path):
    widget = PreviewPanel(make_document(tmp_path))
    qtbot.addWidget(widget)
    widget.set_pipeline(None)
    assert "Select a pipeline" in widget.raw_view.placeholder


def test_preview_models_pass_the_model_tester(panel, qtmodeltester):
    for model in (panel.raw_model, panel.transformed_model, panel.quarantine_model, panel.rules_model):
        qtmodeltester.check(model)

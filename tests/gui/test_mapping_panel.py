"""The mapping editor as an analyst uses it: drag, drop, unmap, auto-map, expressions, undo."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from etl_studio.core.project.models import Connection, Pipeline, PluginSpec, Project, TargetColumn
from etl_studio.gui.panels.mapping import MappingPanel
from etl_studio.gui.project_document import ProjectDocument
from etl_studio.gui.qt_models.column_mapping import encode_column

CSV = "order_id,customer_email,quantity,unit_price,country\n1,A@x.com,2,9.50,DE\n2,b@y.org,1,3.00,FR\n"


def make_document(tmp_path: Path) -> ProjectDocument:
    (tmp_path / "orders.csv").write_text(CSV, encoding="utf-8")
    pipeline = Pipeline(
        name="orders",
        source=PluginSpec(kind="csv_file", config={"path": "orders.csv"}),
        mapping=[
            TargetColumn(name="order_id", type="integer", nullable=False, source="order_id"),
            TargetColumn(name="email", nullable=False),
            TargetColumn(name="Quantity", type="integer"),
            TargetColumn(name="total", type="decimal(12,2)"),
        ],
        target=PluginSpec(kind="sql_table", config={"connection": "warehouse", "table": "orders", "mode": "replace"}),
    )
    project = Project(name="t", connections=[Connection(name="warehouse", url="sqlite:///warehouse.db")], pipelines=[pipeline])
    return ProjectDocument(project, tmp_path / "t.etlproj")


@pytest.fixture
def panel(qtbot, tmp_path):
    document = make_document(tmp_path)
    widget = MappingPanel(document)
    qtbot.addWidget(widget)
    widget.resize(1000, 640)
    widget.show()
    with qtbot.waitSignal(widget.sourceColumnsLoaded, timeout=10_000):
        widget.set_pipeline("orders")
    return widget


def drop_on_row(view, column: str, row: int) -> None:
    """What a real drag ends with: enter, move and drop events on the target view's viewport."""
    point = view.visualRect(view.model().index(row, 0)).center() if row >= 0 else QPoint(10, view.viewport().height() - 5)
    data = encode_column(column)
    actions = Qt.DropAction.CopyAction
    buttons, modifiers = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    viewport = view.viewport()
    enter = QDragEnterEvent(QPointF(point), actions, data, buttons, modifiers)
    QApplication.sendEvent(viewport, enter)
    assert enter.isAccepted()
    move = QDragMoveEvent(QPointF(point), actions, data, buttons, modifiers)
    QApplication.sendEvent(viewport, move)
    assert move.isAccepted()
    QApplication.sendEvent(viewport, QDropEvent(QPointF(point), actions, data, buttons, modifiers))


def feed(panel: MappingPanel, name: str) -> tuple[str | None, str | None]:
    column = panel.document.pipeline("orders").target_column(name)
    assert column is not None
    return column.source, column.expr


def test_source_columns_are_read_from_the_csv(panel):
    assert panel.source_model.names() == ["order_id", "customer_email", "quantity", "unit_price", "country"]
    assert panel.source_view.model().rowCount() == 5


def test_dragging_email_onto_target_maps_it(panel):
    drop_on_row(panel.target_view, "customer_email", panel.target_model.row_of("email"))
    assert feed(panel, "email") == ("customer_email", None)
    assert ("customer_email", "email") in panel.mapped_pairs()
    assert panel.links.links(), "a line is drawn for the mapped pair"


def test_dropping_below_the_rows_adds_a_target_column(panel):
    drop_on_row(panel.target_view, "country", -1)
    names = [c.name for c in panel.document.pipeline("orders").mapping]
    assert names[-1] == "country"
    assert feed(panel, "country") == ("country", None)


def test_undo_and_redo_a_mapping(panel):
    stack = panel.document.undo_stack
    drop_on_row(panel.target_view, "customer_email", panel.target_model.row_of("email"))
    assert feed(panel, "email") == ("customer_email", None)
    stack.undo()
    assert feed(panel, "email") == (None, None)
    assert ("customer_email", "email") not in panel.mapped_pairs()
    stack.redo()
    assert feed(panel, "email") == ("customer_email", None)
    assert stack.undoText() == "Map customer_email to email"


def test_pulling_a_line_away_unmaps_it(panel, qtbot):
    link = next(l for l in panel.links.links() if l.target == "order_id")
    start = link.path().pointAtPercent(0.5).toPoint()
    qtbot.mousePress(panel.links, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(panel.links, start + QPoint(0, 60))
    qtbot.mouseRelease(panel.links, Qt.MouseButton.LeftButton, pos=start + QPoint(0, 60))
    assert feed(panel, "order_id") == (None, None)
    panel.document.undo_stack.undo()
    assert feed(panel, "order_id") == ("order_id", None)


def test_delete_key_unmaps_the_selected_target(panel, qtbot):
    panel.select_target("order_id")
    qtbot.keyClick(panel.target_view, Qt.Key.Key_Delete)
    assert feed(panel, "order_id") == (None, None)


def test_unmapped_required_columns_are_highlighted(panel):
    model = panel.target_model
    required = model.index(model.row_of("email"), 0).data(Qt.ItemDataRole.BackgroundRole)
    optional = model.index(model.row_of("total"), 0).data(Qt.ItemDataRole.BackgroundRole)
    mapped = model.index(model.row_of("order_id"), 0).data(Qt.ItemDataRole.BackgroundRole)
    assert required is not None and optional is not None and mapped is None
    assert required.color() != optional.color()
    assert "1 required still open" in panel.summary.text()


def test_auto_map_proposes_with_scores_and_maps_only_accepted(panel):
    dialog = panel.auto_map(exec_dialog=False)
    proposals = {p.target: p for p in dialog.model.proposals()}
    assert proposals["Quantity"].source == "quantity" and proposals["Quantity"].score == 100
    assert dialog.model.index(0, 2).data() is not None  # the score column is shown
    # untick everything but Quantity
    dialog.model.set_all(False)
    row = [p.target for p in dialog.model.proposals()].index("Quantity")
    dialog.model.setData(dialog.model.index(row, 0), Qt.CheckState.Checked.value, Qt.ItemDataRole.CheckStateRole)
    dialog.accept()
    assert feed(panel, "Quantity") == ("quantity", None)
    assert feed(panel, "email") == (None, None) or proposals.get("email") is not None


def test_type_and_nullable_edits_are_undoable(panel):
    model = panel.target_model
    row = model.row_of("total")
    assert not model.setData(model.index(row, model.TYPE), "money")  # rejected with a message
    assert model.setData(model.index(row, model.TYPE), "float")
    assert panel.document.pipeline("orders").target_column("total").type == "float"
    model.setData(model.index(row, model.NULLABLE), Qt.CheckState.Unchecked.value, Qt.ItemDataRole.CheckStateRole)
    assert panel.document.pipeline("orders").target_column("total").nullable is False
    panel.document.undo_stack.undo()
    panel.document.undo_stack.undo()
    column = panel.document.pipeline("orders").target_column("total")
    assert (column.type, column.nullable) == ("decimal(12,2)", True)


def test_add_move_and_remove_columns(panel):
    panel.select_target("total")
    panel.add_column()
    names = [c.name for c in panel.document.pipeline("orders").mapping]
    assert names == ["order_id", "email", "Quantity", "total", "new_column"]
    panel.move_selected(-1)
    assert [c.name for c in panel.document.pipeline("orders").mapping][3] == "new_column"
    panel.remove_selected()
    assert [c.name for c in panel.document.pipeline("orders").mapping] == ["order_id", "email", "Quantity", "total"]


def test_empty_state_says_what_to_do(qtbot, tmp_path):
    widget = MappingPanel(make_document(tmp_path))
    qtbot.addWidget(widget)
    widget.set_pipeline(None)
    assert widget.stack.currentWidget() is widget.empty
    assert "Select a pipeline" in widget.empty.text()


def test_models_pass_the_model_tester(panel, qtmodeltester):
    qtmodeltester.check(panel.target_model)
    qtmodeltester.check(panel.source_model)
    dialog = panel.auto_map(exec_dialog=False)
    qtmodeltester.check(dialog.model)


def test_read_schema_from_the_target_table_keeps_existing_feeds(panel, qtbot):
    import sqlalchemy as sa

    engine = sa.create_engine(f"sqlite:///{panel.document.project_dir / 'warehouse.db'}")
    with engine.begin() as conn:
        conn.execute(sa.text("create table orders (order_id integer not null, email text, amount numeric(12, 2), placed date)"))
    engine.dispose()
    with qtbot.waitSignal(panel.targetSchemaRead, timeout=10_000):
        panel.read_schema_action.trigger()
    columns = {c.name: c for c in panel.document.pipeline("orders").mapping}
    assert list(columns) == ["order_id", "email", "amount", "placed"]
    assert (columns["order_id"].type, columns["order_id"].nullable, columns["order_id"].source) == ("integer", False, "order_id")
    assert columns["amount"].type == "decimal(12,2)" and columns["placed"].type == "date"
    assert "removed Quantity, total" in panel.last_message
    panel.document.undo_stack.undo()
    assert [c.name for c in panel.document.pipeline("orders").mapping] == ["order_id", "email", "Quantity", "total"]


def test_read_schema_of_a_missing_table_says_what_to_do(panel, qtbot):
    with qtbot.waitSignal(panel.targetSchemaRead, timeout=10_000):
        panel.read_schema()
    assert "does not exist yet" in panel.last_message

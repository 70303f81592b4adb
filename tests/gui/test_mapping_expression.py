"""Writing an expression for a target column: checked as you type, underlined, completed, undoable."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QTextCharFormat

from etl_studio.gui.panels.mapping import MappingPanel
from etl_studio.gui.widgets.expression_edit import ExpressionEdit

_spec = importlib.util.spec_from_file_location("mapping_panel_tests", Path(__file__).with_name("test_mapping_panel.py"))
_tests = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_tests)


@pytest.fixture
def panel(qtbot, tmp_path):
    widget = MappingPanel(_tests.make_document(tmp_path))
    qtbot.addWidget(widget)
    widget.resize(1000, 700)
    widget.show()
    with qtbot.waitSignal(widget.sourceColumnsLoaded, timeout=10_000):
        widget.set_pipeline("orders")
    widget.select_target("total")
    return widget


def expr_of(panel, name: str = "total"):
    return panel.document.pipeline("orders").target_column(name).expr


def underlined(edit: ExpressionEdit) -> list[tuple[int, int]]:
    spans = []
    for selection in edit.extraSelections():
        if selection.format.underlineStyle() == QTextCharFormat.UnderlineStyle.WaveUnderline:
            spans.append((selection.cursor.selectionStart(), selection.cursor.selectionEnd()))
    return spans


def test_a_wrong_expression_shows_the_error_then_a_right_one_is_applied(panel, qtbot):
    edit = panel.expression.edit
    edit.setFocus()
    qtbot.keyClicks(edit, "quantity * unit_prize")
    assert edit.errors, "an unknown column is an error"
    assert "unit_prize" in panel.expression.message.text()
    assert underlined(edit) == [(11, 21)]  # exactly the unknown name
    qtbot.waitUntil(lambda: not panel._expression_timer.isActive(), timeout=2000)
    assert expr_of(panel) is None, "a wrong expression (nor its valid prefix 'quantity') is not applied"

    edit.selectAll()
    qtbot.keyClicks(edit, "quantity * unit_price")
    assert not edit.errors
    assert underlined(edit) == []
    assert "valid" in panel.expression.message.text()
    qtbot.waitUntil(lambda: expr_of(panel) == "quantity * unit_price", timeout=2000)
    # typing collapses into one undo step
    panel.document.undo_stack.undo()
    assert expr_of(panel) is None


def test_an_unknown_function_is_named(panel, qtbot):
    edit = panel.expression.edit
    qtbot.keyClicks(edit, "lowr(customer_email)")
    assert any("lowr" in e.message for e in edit.errors)


def test_enter_keeps_what_was_typed_even_when_wrong(panel, qtbot):
    edit = panel.expression.edit
    qtbot.keyClicks(edit, "quantity * ")
    qtbot.keyClick(edit, Qt.Key.Key_Return)
    assert expr_of(panel) == "quantity *"  # nothing typed is lost; validation reports it


def test_completion_offers_columns_and_functions(panel, qtbot):
    edit = panel.expression.edit
    qtbot.keyClicks(edit, "unit")
    completer = edit.completer
    assert completer.completionPrefix() == "unit"
    assert completer.currentCompletion() == "unit_price"
    completer.activated.emit("unit_price")
    assert edit.text() == "unit_price"
    edit.clear()
    qtbot.keyClicks(edit, "coal")
    assert completer.currentCompletion() == "coalesce("


def test_choosing_a_source_column_replaces_the_expression(panel, qtbot):
    edit = panel.expression.edit
    qtbot.keyClicks(edit, "quantity * unit_price")
    qtbot.waitUntil(lambda: expr_of(panel) == "quantity * unit_price", timeout=2000)
    panel.source_combo.setCurrentText("quantity")
    panel.source_combo.activated.emit(panel.source_combo.currentIndex())
    column = panel.document.pipeline("orders").target_column("total")
    assert (column.source, column.expr) == ("quantity", None)
    assert edit.text() == ""


def test_selecting_another_column_applies_the_pending_expression_to_the_first(panel, qtbot):
    edit = panel.expression.edit
    qtbot.keyClicks(edit, "quantity * unit_price")
    panel.select_target("Quantity")  # before the pause is over
    assert expr_of(panel, "total") == "quantity * unit_price"
    assert expr_of(panel, "Quantity") is None
    assert edit.text() == ""

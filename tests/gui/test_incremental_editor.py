"""The source editor's incremental load, as an analyst uses it: switch it on, pick the column, see, set and reset the watermark."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt

from etl_studio.core.history import open_run_store
from etl_studio.core.history.watermarks import watermark_store_for
from etl_studio.core.project import load_project
from etl_studio.gui.panels.incremental_editor import IncrementalEditor, guess_incremental
from etl_studio.core.sources.base import SourceColumn
from etl_studio.gui.panels.pipeline_editor import PipelineEditor
from etl_studio.gui.project_document import ProjectDocument

from tests.gui._windows import copy_incremental, save_shot, settle

WAIT_MS = 30_000


@pytest.fixture
def editor(qtbot, tmp_path: Path):
    path = copy_incremental(tmp_path)
    document = ProjectDocument(load_project(path), path)
    widget = PipelineEditor(document)
    widget.resize(1000, 800)
    widget.show()
    widget.set_pipeline("dim_customers")
    yield widget
    settle(widget)


def _group(editor: PipelineEditor) -> IncrementalEditor:
    return editor.source_editor.incremental_editor


def _click_check(qtbot, group: IncrementalEditor) -> None:
    box = group.enabled_check  # on the box itself: a wide check box takes clicks on its text only
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(8, box.height() // 2))


def _stored(editor: PipelineEditor):
    document = editor.document
    store = open_run_store(document.project.state_database, document.project_dir)
    try:
        return watermark_store_for(store).get("dim_customers")
    finally:
        store.dispose()


def _wait_watermark_read(qtbot, group: IncrementalEditor) -> None:
    qtbot.waitUntil(lambda: group.watermark_label.text() not in ("…", "reading…"), timeout=WAIT_MS)


def test_the_example_shows_incremental_by_updated_at_and_no_watermark_yet(qtbot, editor: PipelineEditor) -> None:
    group = _group(editor)
    assert group.isVisible()
    assert group.enabled_check.isChecked()
    assert group.form.value_of("column") == "updated_at"
    assert group.form.value_of("kind") == "timestamp"
    _wait_watermark_read(qtbot, group)
    assert group.watermark_label.text() == "none yet"
    assert not group.reset_button.isEnabled()
    assert "all rows" in group.next_read.text()
    # The column combo offers the source's columns once they are read.
    combo = group.form.editors["column"].widget
    qtbot.waitUntil(lambda: combo.count() == 5, timeout=WAIT_MS)
    assert [combo.itemText(i) for i in range(combo.count())] == ["customer_id", "name", "email", "country", "updated_at"]
    editor.source_editor.form_area.ensureWidgetVisible(group)
    save_shot(editor, "incremental_editor.png")


def test_switching_incremental_off_and_on_is_one_undoable_edit_each(qtbot, editor: PipelineEditor) -> None:
    group = _group(editor)
    document = editor.document
    _click_check(qtbot, group)
    assert document.pipeline("dim_customers").incremental is None
    assert group.off_hint.isVisible() and not group.body.isVisible()
    document.undo_stack.undo()
    assert document.pipeline("dim_customers").incremental.column == "updated_at"
    assert group.enabled_check.isChecked()
    document.undo_stack.redo()
    assert not group.enabled_check.isChecked()
    # Back on: the settings it had come back.
    _click_check(qtbot, group)
    assert document.pipeline("dim_customers").incremental.column == "updated_at"


def test_switching_on_a_pipeline_that_never_was_incremental_guesses_the_column(qtbot, editor: PipelineEditor) -> None:
    group = _group(editor)
    document = editor.document
    pipeline = document.pipeline("dim_customers")
    document.replace_pipeline("dim_customers", pipeline.model_copy(update={"incremental": None}), "off")
    group._remembered.clear()
    qtbot.waitUntil(lambda: len(group.columns) == 5, timeout=WAIT_MS)
    _click_check(qtbot, group)
    incremental = document.pipeline("dim_customers").incremental
    assert incremental is not None and incremental.column == "updated_at" and incremental.kind == "timestamp"


def test_the_guess_prefers_a_named_timestamp_then_an_id() -> None:
    columns = [SourceColumn("name", "string", []), SourceColumn("order_id", "integer", []), SourceColumn("changed_at", "datetime", [])]
    assert guess_incremental(columns).column == "changed_at"
    assert guess_incremental(columns[:2]).column == "order_id" and guess_incremental(columns[:2]).kind == "id"
    assert guess_incremental(columns[:1]) is None


def test_editing_kind_initial_value_and_look_back_changes_the_project_and_can_be_undone(qtbot, editor: PipelineEditor) -> None:
    group = _group(editor)
    document = editor.document
    lookback = group.form.editors["lookback"].widget
    lookback.clear()
    qtbot.keyClicks(lookback, "3600")
    assert document.pipeline("dim_customers").incremental.lookback == 3600
    initial = group.form.editors["initial_value"].widget
    qtbot.keyClicks(initial, "yesterday")
    # Not a timestamp: said under the field, and the project keeps its last good value.
    assert not group.form.error_labels["initial_value"].isHidden()
    assert "not a valid timestamp watermark" in group.form.error_labels["initial_value"].text()
    assert document.pipeline("dim_customers").incremental.initial_value is None
    initial.clear()
    qtbot.keyClicks(initial, "2024-01-07")
    assert document.pipeline("dim_customers").incremental.initial_value == "2024-01-07"
    assert "updated_at >= 2024-01-07T00:00:00" in group.next_read.text()
    kind = group.form.editors["kind"].widget
    kind.setCurrentIndex(kind.findText("id"))
    # A date is no start for an id column: said, and not stored until the start fits.
    assert "not a valid id watermark" in group.form.error_labels["initial_value"].text()
    assert document.pipeline("dim_customers").incremental.kind == "timestamp"
    initial.clear()
    qtbot.keyClicks(initial, "3")
    assert document.pipeline("dim_customers").incremental.kind == "id"
    assert document.pipeline("dim_customers").incremental.initial_value == "3"
    assert group.form.findChild(type(group.watermark_label), "label_lookback").text() == "Look back (ids)"
    while document.undo_stack.canUndo():
        document.undo_stack.undo()
    assert document.pipeline("dim_customers").incremental == load_project(document.path).pipeline("dim_customers").incremental


def test_set_checks_the_value_stores_it_and_reset_asks_first(qtbot, editor: PipelineEditor) -> None:
    group = _group(editor)
    _wait_watermark_read(qtbot, group)
    assert not group.set_watermark("last tuesday")
    assert "not a valid timestamp watermark" in group.status.text()
    assert _stored(editor) is None

    group.ask_watermark = lambda column, kind, current: "2024-01-06"  # type: ignore[method-assign]
    with qtbot.waitSignal(group.watermarkChanged, timeout=WAIT_MS):
        qtbot.mouseClick(group.set_button, Qt.MouseButton.LeftButton)
    assert _stored(editor).value == "2024-01-06T00:00:00"
    assert group.watermark_label.text().startswith("2024-01-06T00:00:00")
    assert "updated_at > 2024-01-06T00:00:00" in group.next_read.text()
    assert group.reset_button.isEnabled()

    asked: list[str] = []
    group.confirm_reset = lambda text: asked.append(text) or False  # type: ignore[method-assign]
    qtbot.mouseClick(group.reset_button, Qt.MouseButton.LeftButton)
    assert asked and "every row" in asked[0]
    assert _stored(editor) is not None  # cancelled: nothing forgotten

    group.confirm_reset = lambda text: True  # type: ignore[method-assign]
    with qtbot.waitSignal(group.watermarkChanged, timeout=WAIT_MS):
        qtbot.mouseClick(group.reset_button, Qt.MouseButton.LeftButton)
    assert _stored(editor) is None
    assert group.watermark_label.text() == "none yet"


def test_a_run_that_commits_a_watermark_shows_it(qtbot, editor: PipelineEditor) -> None:
    from etl_studio.core.engine.runner import run_pipeline

    group = _group(editor)
    _wait_watermark_read(qtbot, group)
    document = editor.document
    record = run_pipeline(document.project, "dim_customers", project_dir=document.project_dir)
    assert record.rows_loaded == 5
    with qtbot.waitSignal(group.watermarkChanged, timeout=WAIT_MS):
        editor.source_editor.handle_run_finished("dim_customers")
    assert group.watermark.value.startswith("2024-01-09T14:00:00")
    assert group.watermark_label.text().startswith("2024-01-09T14:00:00  (run ")


def test_an_unsaved_project_says_where_the_watermark_lives(qtbot, editor: PipelineEditor) -> None:
    group = _group(editor)
    editor.document.path = None
    group.load_watermark(force=True)
    assert "save the project first" in group.watermark_label.text()
    assert not group.set_button.isEnabled()
